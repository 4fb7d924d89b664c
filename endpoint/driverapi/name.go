package driverapi

import "strings"

// SameName reports whether got, a driver name Docker shows (a network's Driver or IPAM
// Driver), names the drivers served as want: `vic` for the legacy plugin, or the managed
// plugin's name with its tag (`vic:latest`), compared without Docker's default registry and
// library/ path. The tags must match exactly: Docker 20.10 resolves a network's driver to a
// managed plugin only when it names the tag, so an untagged `vic` is the legacy plugin's
// network, another driver's, never the managed plugin's.
func SameName(want, got string) bool {
	return normalName(want) == normalName(got)
}

// normalName is name without the default registry and the library/ path.
func normalName(name string) string {
	name = strings.TrimPrefix(name, "docker.io/")
	return strings.TrimPrefix(name, "library/")
}
