package driverapi

import "strings"

// SameName reports whether got, a driver name Docker shows (a network's Driver or IPAM
// Driver), names the drivers served as want: `-d vic` for the legacy plugin, or the name of the
// managed plugin, which Docker may show with or without its tag and registry (`vic`,
// `vic:latest`, `docker.io/library/vic:latest`).
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
