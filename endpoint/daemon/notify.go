//go:build linux

package daemon

import (
	"log/slog"
	"net"
	"os"
)

// notifyReady tells systemd (Type=notify) that the socket is being served, so that
// docker.service, ordered after vic-endpoint, starts only then. Outside systemd it does nothing.
func notifyReady() error { return notify("READY=1\nSTATUS=serving") }

// waitingForVSphere shows in `systemctl status vic-endpoint` why the daemon is not ready yet.
func waitingForVSphere(log *slog.Logger) func(error) {
	return func(err error) {
		if err := notify("STATUS=waiting for vSphere: " + err.Error()); err != nil {
			log.Debug("telling systemd the endpoint waits for vSphere failed", "error", err)
		}
	}
}

// notify sends state, lines of KEY=VALUE, to systemd.
func notify(state string) error {
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
	_, err = conn.Write([]byte(state))
	return err
}
