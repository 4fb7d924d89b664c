package driverapi

import "strings"

// SameName reports whether got, a driver name Docker shows (a network's Driver or IPAM
// Driver), names the drivers served as want: `-d vic` for the legacy plugin, or the name of the
// managed plugin, compared with Docker's defaults made explicit (`vic:latest` is
// `docker.io/library/vic:latest`; a name without a tag has the tag latest). Docker 20.10
// resolves a network's driver to a managed plugin only when it names the tag.
func SameName(want, got string) bool {
	return normalName(want) == normalName(got)
}

// normalName is name with Docker's defaults made explicit: the tag latest, no default registry
// and no library/ path.
func normalName(name string) string {
	name = strings.TrimPrefix(name, "docker.io/")
	name = strings.TrimPrefix(name, "library/")
	if i := strings.LastIndex(name, ":"); i < 0 || strings.Contains(name[i:], "/") {
		name += ":latest"
	}
	return name
}
