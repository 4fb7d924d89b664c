//go:build linux

package daemon

import (
	"net"
	"os"
)

// notifyReady tells systemd (Type=notify) that the socket is being served, so that
// docker.service, ordered after vic-endpoint, starts only then. Outside systemd it does nothing.
func notifyReady() error {
	path := os.Getenv("NOTIFY_SOCKET")
	if path == "" {
		return nil
	}
	if path[0] == '@' {
		path = "\x00" + path[1:] // abstract socket
	}
	conn, err := net.DialUnix("unixgram", nil, &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		return err
	}
	defer conn.Close()
	_, err = conn.Write([]byte("READY=1"))
	return err
}
