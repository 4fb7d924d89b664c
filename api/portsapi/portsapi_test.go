package portsapi

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"testing"

	"gotest.tools/v3/assert"
)

// serve answers on a unix socket in a temporary directory, as vic-endpoint does.
func serve(t *testing.T, snapshot func(context.Context) (*Answer, error)) string {
	t.Helper()
	sock := filepath.Join(t.TempDir(), "vic.sock")
	l, err := net.Listen("unix", sock)
	assert.NilError(t, err)
	mux := http.NewServeMux()
	mux.Handle("POST "+Path, Handler(snapshot, slog.New(slog.DiscardHandler)))
	srv := &http.Server{Handler: mux}
	go func() { _ = srv.Serve(l) }()
	t.Cleanup(func() { _ = srv.Close() })
	return sock
}

// TestRoundTrip: what the daemon answers is what the CLI reads.
func TestRoundTrip(t *testing.T) {
	want := &Answer{
		Networks: []Network{{NetworkID: "n1", Bridge: "vb-n1", Subnet: "172.16.0.0/16"}},
		Endpoints: []Endpoint{{EndpointID: "e1", NetworkID: "n1", Address: "172.16.0.2/16", MAC: "02:42:ac:10:00:02",
			Ports: []Port{{Proto: "tcp", HostPort: 8080, ContainerPort: 80}, {Proto: "udp", HostIP: "127.0.0.1", HostPort: 5353, ContainerPort: 53}}}},
		Public:  "198.51.100.2",
		Version: "0.1.0",
	}
	sock := serve(t, func(context.Context) (*Answer, error) { return want, nil })
	got, err := Ask(context.Background(), sock)
	assert.NilError(t, err)
	assert.DeepEqual(t, got, want)

	assert.Equal(t, got.Endpoint("e1").MAC, "02:42:ac:10:00:02")
	assert.Assert(t, got.Endpoint("e2") == nil)
	assert.Assert(t, got.IsVicNetwork("n1") && !got.IsVicNetwork("bridge"))
	assert.DeepEqual(t, got.HostAddrs(got.Endpoints[0].Ports[0]), []string{"198.51.100.2", "127.0.0.1"})
	assert.DeepEqual(t, got.HostAddrs(got.Endpoints[0].Ports[1]), []string{"127.0.0.1"})
}

func TestAskReportsTheDaemonsError(t *testing.T) {
	sock := serve(t, func(context.Context) (*Answer, error) {
		return nil, errors.New("waiting for other network operations: context deadline exceeded")
	})
	_, err := Ask(context.Background(), sock)
	assert.ErrorContains(t, err, "answered 500 Internal Server Error: waiting for other network operations")
}

func TestAskUnreachable(t *testing.T) {
	dir := t.TempDir()
	_, err := Ask(context.Background(), filepath.Join(dir, "missing.sock"))
	assert.Assert(t, errors.Is(err, ErrUnreachable), "%v", err)

	// A socket file nobody serves: a daemon that died.
	stale := filepath.Join(dir, "stale.sock")
	l, err := net.Listen("unix", stale)
	assert.NilError(t, err)
	l.(*net.UnixListener).SetUnlinkOnClose(false)
	assert.NilError(t, l.Close())
	_, err = os.Stat(stale)
	assert.NilError(t, err)
	_, err = Ask(context.Background(), stale)
	assert.Assert(t, errors.Is(err, ErrUnreachable), "%v", err)
}
