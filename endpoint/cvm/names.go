package cvm

import "strings"

// idLength is how much of the container ID a VM name carries, as `docker ps` shows it.
const idLength = 12

// VMName returns the name of the VM of a container: "{name}-{id12}", the name part cut so that
// the whole fits in MaxNameLength characters.
func VMName(name, id string) string {
	name = strings.TrimPrefix(name, "/")
	if len(id) > idLength {
		id = id[:idLength]
	}
	room := MaxNameLength - len([]rune(id)) - 1
	if r := []rune(name); len(r) > room {
		name = string(r[:max(room, 0)])
	}
	if name == "" {
		return id
	}
	return name + "-" + id
}
