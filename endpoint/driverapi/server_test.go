package driverapi

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/docker/go-plugins-helpers/ipam"
	"github.com/docker/go-plugins-helpers/network"
)

// stubNetwork answers capabilities, fails CreateNetwork and blocks in Join until its deadline.
type stubNetwork struct{ NetworkDriver }

func (stubNetwork) GetCapabilities(context.Context) (*network.CapabilitiesResponse, error) {
	return &network.CapabilitiesResponse{Scope: "local", ConnectivityScope: "local"}, nil
}

func (stubNetwork) CreateNetwork(_ context.Context, r *network.CreateNetworkRequest) error {
	return errors.New("network " + r.NetworkID + " is not welcome")
}

func (stubNetwork) Join(ctx context.Context, _ *network.JoinRequest) (*network.JoinResponse, error) {
	<-ctx.Done()
	return nil, ctx.Err()
}

func (stubNetwork) Leave(context.Context, *network.LeaveRequest) error { return nil }

type stubIPAM struct{ IPAMDriver }

func (stubIPAM) GetDefaultAddressSpaces(context.Context) (*ipam.AddressSpacesResponse, error) {
	return &ipam.AddressSpacesResponse{LocalDefaultAddressSpace: "vic-local", GlobalDefaultAddressSpace: "vic-global"}, nil
}

func (stubIPAM) RequestAddress(_ context.Context, r *ipam.RequestAddressRequest) (*ipam.RequestAddressResponse, error) {
	return &ipam.RequestAddressResponse{Address: r.Address + "/24"}, nil
}

// serve starts a server on a socket in a temporary directory and returns an HTTP client for it.
func serve(t *testing.T) (*http.Client, string) {
	t.Helper()
	sock := filepath.Join(t.TempDir(), "vic.sock")
	l, err := Listen(sock)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- NewServer(stubNetwork{}, stubIPAM{}, 200*time.Millisecond, nil).Serve(ctx, l) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	})
	client := &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, "unix", sock)
	}}}
	return client, sock
}

func post(t *testing.T, c *http.Client, method, body string) (int, map[string]any) {
	t.Helper()
	res, err := c.Post("http://plugin/"+method, contentType, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	var out map[string]any
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatalf("%s answered %q, not JSON: %v", method, b, err)
	}
	return res.StatusCode, out
}

func TestServerActivateImplementsBothDrivers(t *testing.T) {
	c, _ := serve(t)
	status, out := post(t, c, "Plugin.Activate", "")
	if status != 200 {
		t.Fatalf("status %d", status)
	}
	got, _ := json.Marshal(out["Implements"])
	if string(got) != `["NetworkDriver","IpamDriver"]` {
		t.Fatalf("implements %s", got)
	}
}

func TestServerAcceptsEmptyBodies(t *testing.T) {
	c, _ := serve(t)
	for _, m := range []string{"NetworkDriver.GetCapabilities", "IpamDriver.GetDefaultAddressSpaces"} {
		if status, out := post(t, c, m, ""); status != 200 || len(out) == 0 {
			t.Fatalf("%s with an empty body: %d %v", m, status, out)
		}
	}
	if _, out := post(t, c, "IpamDriver.RequestAddress", `{"PoolID":"p","Address":"198.51.100.7"}`); out["Address"] != "198.51.100.7/24" {
		t.Fatalf("request decoded wrongly: %v", out)
	}
}

func TestServerErrorsAre500WithErr(t *testing.T) {
	c, _ := serve(t)
	status, out := post(t, c, "NetworkDriver.CreateNetwork", `{"NetworkID":"n1"}`)
	if status != 500 || out["Err"] != "network n1 is not welcome" {
		t.Fatalf("got %d %v", status, out)
	}
	status, out = post(t, c, "NetworkDriver.CreateNetwork", `{"NetworkID":`)
	if status != 500 || !strings.Contains(out["Err"].(string), "decoding the NetworkDriver.CreateNetwork request") {
		t.Fatalf("bad JSON: %d %v", status, out)
	}
}

func TestServerHandlerDeadline(t *testing.T) {
	c, _ := serve(t)
	start := time.Now()
	status, out := post(t, c, "NetworkDriver.Join", `{"NetworkID":"n1","EndpointID":"e1"}`)
	if status != 500 || !strings.Contains(out["Err"].(string), "NetworkDriver.Join did not finish within 200ms") {
		t.Fatalf("got %d %v", status, out)
	}
	if time.Since(start) > 5*time.Second {
		t.Fatal("the deadline did not stop the handler")
	}
}

func TestServerIgnoresSwarmCalls(t *testing.T) {
	c, _ := serve(t)
	for _, m := range []string{"NetworkDriver.AllocateNetwork", "NetworkDriver.FreeNetwork", "NetworkDriver.DiscoverNew"} {
		if status, _ := post(t, c, m, `{}`); status != 200 {
			t.Fatalf("%s: %d", m, status)
		}
	}
}

// The options a swarm's manager gets back from AllocateNetwork are those every node's
// CreateNetwork receives: the network's own.
func TestServerAllocateNetworkHandsTheOptionsBack(t *testing.T) {
	c, _ := serve(t)
	status, out := post(t, c, "NetworkDriver.AllocateNetwork", `{"NetworkID":"n1","Options":{"com.docker.network.vic.portgroup":"cn-static"}}`)
	opts, _ := out["Options"].(map[string]any)
	if status != 200 || opts["com.docker.network.vic.portgroup"] != "cn-static" {
		t.Fatalf("got %d %v, want the port group option back", status, out)
	}
}

func TestListenIsRootOnlyAndReplacesStaleSocket(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "vic.sock")
	if err := os.WriteFile(sock, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	l, err := Listen(sock)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	fi, err := os.Stat(sock)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode()&os.ModeSocket == 0 || fi.Mode().Perm() != 0o600 {
		t.Fatalf("socket mode %v, want a socket with 0600", fi.Mode())
	}
}

// TestServerRefusesMalformedBodies: a request that needs a body says what it expected; a body
// too large, or with data after its object, is refused before any driver sees it.
func TestServerRefusesMalformedBodies(t *testing.T) {
	c, _ := serve(t)
	tests := []struct{ method, body, want string }{
		{"NetworkDriver.CreateEndpoint", "",
			"the NetworkDriver.CreateEndpoint request has no body: expected a JSON object with NetworkID, EndpointID, Interface, Options"},
		{"IpamDriver.RequestPool", "", "the IpamDriver.RequestPool request has no body: expected a JSON object with AddressSpace, Pool, SubPool, Options, V6"},
		{"NetworkDriver.CreateNetwork", `{"NetworkID":"n1"} {"NetworkID":"n2"}`, "the NetworkDriver.CreateNetwork request has data after its JSON object"},
		{"NetworkDriver.CreateNetwork", `{"NetworkID":"n1"}]`, "the NetworkDriver.CreateNetwork request has data after its JSON object"},
		{"NetworkDriver.CreateNetwork", `{"NetworkID":"` + strings.Repeat("n", MaxRequestBytes) + `"}`,
			"the NetworkDriver.CreateNetwork request is larger than 4194304 bytes"},
	}
	for _, tc := range tests {
		status, out := post(t, c, tc.method, tc.body)
		if status != 500 || out["Err"] != tc.want {
			t.Errorf("%s %.40q: got %d %v, want 500 %q", tc.method, tc.body, status, out["Err"], tc.want)
		}
	}
	// Whitespace after the object is no data.
	if status, out := post(t, c, "IpamDriver.RequestAddress", `{"PoolID":"p","Address":"198.51.100.7"}`+"\n"); status != 200 {
		t.Errorf("a trailing newline was refused: %d %v", status, out)
	}
}
