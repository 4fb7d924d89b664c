package dhcp

import (
	"errors"
	"fmt"
	"net"
)

var (
	// ErrNoServer is matched (errors.Is) by the error of an exchange that no DHCP server
	// answered in time.
	ErrNoServer = errors.New("no DHCP server answered")
	// ErrRefused is matched by the error of a request that the DHCP server refused (DHCPNAK).
	ErrRefused = errors.New("the DHCP server refused the request")
	// ErrClosed is returned by a Client after Close.
	ErrClosed = errors.New("the DHCP client is closed")
)

// NoServerError says that no DHCP server answered on a port group for a MAC address.
type NoServerError struct {
	PortGroup string
	MAC       net.HardwareAddr
	// Err says what was waited for, and why the wait ended.
	Err error
}

func (e *NoServerError) Error() string {
	return fmt.Sprintf("no DHCP server answered on port group %q for MAC %s: %v", e.PortGroup, e.MAC, e.Err)
}

func (e *NoServerError) Unwrap() error { return e.Err }

// Is makes errors.Is(err, ErrNoServer) true.
func (e *NoServerError) Is(target error) bool { return target == ErrNoServer }
