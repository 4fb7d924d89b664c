// Package hostports holds the host ports the vic-endpoint daemon publishes. A held port is a
// socket bound to it and never listening: connections to it are answered by the NAT rules before they reach a
// socket, nothing else on the endpoint (Docker's own docker-proxy included) can bind it, and
// it costs one file descriptor, not a process. It also picks free ephemeral ports and names
// the process holding a port when a bind fails.
package hostports

import (
	"fmt"
	"net/netip"
	"strings"
)

// Proto is a transport protocol of a published port.
type Proto string

// The protocols Docker publishes.
const (
	TCP  Proto = "tcp"
	UDP  Proto = "udp"
	SCTP Proto = "sctp"
)

// ProtoFromNumber maps the IANA numbers Docker sends in a port map (6, 17, 132).
func ProtoFromNumber(n int) (Proto, error) {
	switch n {
	case 6:
		return TCP, nil
	case 17:
		return UDP, nil
	case 132:
		return SCTP, nil
	}
	return "", fmt.Errorf("protocol number %d: only tcp (6), udp (17) and sctp (132) ports can be published", n)
}

// Key identifies one held port. A zero HostIP means every address.
type Key struct {
	Proto  Proto
	HostIP netip.Addr
	Port   uint16
}

func (k Key) String() string {
	if !k.HostIP.IsValid() || k.HostIP.IsUnspecified() {
		return fmt.Sprintf("%d/%s", k.Port, k.Proto)
	}
	return fmt.Sprintf("%s:%d/%s", k.HostIP, k.Port, k.Proto)
}

// InUseError says that a host port is taken, and by whom.
type InUseError struct {
	Key Key
	// By describes the holder: `container "web"`, `process "nginx" (pid 812)`.
	By string
}

func (e *InUseError) Error() string {
	if e.By == "" {
		return fmt.Sprintf("host port %s is already in use on the endpoint", e.Key)
	}
	return fmt.Sprintf("host port %s is already in use by %s", e.Key, e.By)
}

// owner formats a process for an InUseError.
func owner(comm string, pid int) string {
	return fmt.Sprintf("process %q (pid %d)", strings.TrimSpace(comm), pid)
}
