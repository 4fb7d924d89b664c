package driverapi

import (
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"time"
)

// Answers tells whether a vic plugin serves socket: Plugin.Activate answers with Implements
// within timeout. A socket that accepts connections but is not served yet is waited for, up to
// timeout. It is what a supervisor or a test rig asks, from outside the daemon.
func Answers(socket string, timeout time.Duration) bool {
	client := &http.Client{
		Timeout: timeout,
		Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", socket)
		}},
	}
	defer client.CloseIdleConnections()
	resp, err := client.Post("http://vic/Plugin.Activate", "application/json", nil)
	if err != nil {
		return false
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	return resp.StatusCode == http.StatusOK && bytes.Contains(body, []byte("Implements"))
}
