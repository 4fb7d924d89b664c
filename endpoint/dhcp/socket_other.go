//go:build !linux

package dhcp

import "errors"

// openPacket needs Linux packet sockets.
func openPacket(ifname string) (conn, error) {
	return nil, errors.New("DHCP leases for containers need Linux packet sockets")
}
