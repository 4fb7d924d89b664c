package main

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/network"
	"github.com/moby/moby/client"
	"gotest.tools/v3/assert"

	"github.com/docker-vic/docker-vic/api/portsapi"
)

const (
	vicNetID   = "aaaaaaaaaaaa00000000000000000000000000000000000000000000000000e1"
	otherNetID = "bbbbbbbbbbbb00000000000000000000000000000000000000000000000000e2"
)

// fakeContainer is a container as the fake Docker API knows it.
type fakeContainer struct {
	id, name string
	running  bool
	networks map[string]*network.EndpointSettings
}

// fakeDocker answers ContainerList and ContainerInspect from a fixed set of containers.
type fakeDocker struct{ containers []fakeContainer }

func (f *fakeDocker) ContainerList(_ context.Context, o client.ContainerListOptions) (client.ContainerListResult, error) {
	var res client.ContainerListResult
	for _, c := range f.containers {
		if !c.running && !o.All {
			continue
		}
		state := container.StateExited
		if c.running {
			state = container.StateRunning
		}
		res.Items = append(res.Items, container.Summary{ID: c.id, Names: []string{"/" + c.name}, State: state,
			NetworkSettings: &container.NetworkSettingsSummary{Networks: c.networks}})
	}
	return res, nil
}

func (f *fakeDocker) ContainerInspect(_ context.Context, ref string, _ client.ContainerInspectOptions) (client.ContainerInspectResult, error) {
	for _, c := range f.containers {
		if c.name == ref || strings.HasPrefix(c.id, ref) {
			return client.ContainerInspectResult{Container: container.InspectResponse{ID: c.id, Name: "/" + c.name,
				NetworkSettings: &container.NetworkSettings{Networks: c.networks}}}, nil
		}
	}
	return client.ContainerInspectResult{}, errors.New("No such container: " + ref)
}

func vicEndpoint(epID, addr string) *network.EndpointSettings {
	return &network.EndpointSettings{NetworkID: vicNetID, EndpointID: epID, IPAddress: netip.MustParseAddr(addr)}
}

// testContainers: web publishes three ports, db none, old is stopped, plain is on Docker's bridge only.
func testDocker() *fakeDocker {
	return &fakeDocker{containers: []fakeContainer{
		{id: "c0ffee000001" + strings.Repeat("0", 52), name: "web", running: true,
			networks: map[string]*network.EndpointSettings{"front": vicEndpoint("ep-web", "172.16.0.2")}},
		{id: "c0ffee000002" + strings.Repeat("0", 52), name: "db", running: true,
			networks: map[string]*network.EndpointSettings{
				"front":  vicEndpoint("ep-db", "172.16.0.3"),
				"bridge": {NetworkID: otherNetID, EndpointID: "ep-db-bridge", IPAddress: netip.MustParseAddr("172.17.0.2")},
			}},
		{id: "c0ffee000003" + strings.Repeat("0", 52), name: "old",
			networks: map[string]*network.EndpointSettings{"front": {NetworkID: vicNetID}}},
		{id: "c0ffee000004" + strings.Repeat("0", 52), name: "plain", running: true,
			networks: map[string]*network.EndpointSettings{"bridge": {NetworkID: otherNetID, EndpointID: "ep-plain"}}},
	}}
}

// testPorts is what vic-endpoint answers for testDocker's containers.
var testPorts = portsapi.Answer{
	Networks: []portsapi.Network{{NetworkID: vicNetID, Bridge: "vb-aaaaaaaaaaaa", Subnet: "172.16.0.0/16"}},
	Endpoints: []portsapi.Endpoint{
		{EndpointID: "ep-web", NetworkID: vicNetID, Address: "172.16.0.2/16", MAC: "02:42:ac:10:00:02", Ports: []portsapi.Port{
			{Proto: "tcp", HostPort: 8080, ContainerPort: 80},
			{Proto: "udp", HostIP: "127.0.0.1", HostPort: 5353, ContainerPort: 53},
			{Proto: "tcp", HostIP: "198.51.100.2", HostPort: 8443, ContainerPort: 443},
		}},
		{EndpointID: "ep-db", NetworkID: vicNetID, Address: "172.16.0.3/16", MAC: "02:42:ac:10:00:03", Ports: []portsapi.Port{}},
	},
	Public: "198.51.100.2",
}

// serveEndpoint answers POST /VIC.Ports with answer on a unix socket in a temporary directory,
// as vic-endpoint does, and returns the socket's path.
func serveEndpoint(t *testing.T, answer portsapi.Answer) string {
	t.Helper()
	sock := filepath.Join(t.TempDir(), "vic.sock")
	l, err := net.Listen("unix", sock)
	assert.NilError(t, err)
	mux := http.NewServeMux()
	mux.Handle("POST "+portsapi.Path, portsapi.Handler(func(context.Context) (*portsapi.Answer, error) {
		return &answer, nil
	}, slog.New(slog.DiscardHandler)))
	srv := &http.Server{Handler: mux}
	go func() { _ = srv.Serve(l) }()
	t.Cleanup(func() { _ = srv.Close() })
	return sock
}

func TestPortListsPublishedPorts(t *testing.T) {
	fetch := socketFetcher{path: serveEndpoint(t, testPorts), command: "port"}
	tests := []struct {
		container, private string
		want               string
		wantErr            string
	}{
		{container: "web", want: "53/udp -> 127.0.0.1:5353\n80/tcp -> 198.51.100.2:8080\n80/tcp -> 127.0.0.1:8080\n443/tcp -> 198.51.100.2:8443\n"},
		{container: "c0ffee000001", private: "80", want: "198.51.100.2:8080\n127.0.0.1:8080\n"},
		{container: "web", private: "53/udp", want: "127.0.0.1:5353\n"},
		{container: "web", private: "443/TCP", want: "198.51.100.2:8443\n"},
		{container: "db", want: ""},
		{container: "web", private: "81", wantErr: `no public port 81/tcp published for container "web"`},
		{container: "web", private: "80/icmp", wantErr: `private port "80/icmp" must be PORT or PORT/PROTO with PROTO tcp, udp or sctp`},
		{container: "plain", wantErr: `container "plain" is on no vic network: docker port shows the ports of its networks`},
		{container: "nothere", wantErr: "No such container: nothere"},
	}
	for _, tt := range tests {
		t.Run(tt.container+" "+tt.private, func(t *testing.T) {
			var out bytes.Buffer
			err := runPort(context.Background(), &out, testDocker(), fetch, tt.container, tt.private)
			if tt.wantErr != "" {
				assert.Error(t, err, tt.wantErr)
				return
			}
			assert.NilError(t, err)
			assert.Equal(t, out.String(), tt.want)
		})
	}
}

func TestPortEndpointUnreachable(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "vic.sock")
	var out bytes.Buffer
	err := runPort(context.Background(), &out, testDocker(), socketFetcher{path: sock, command: "port"}, "web", "")
	assert.Error(t, err, "the vic endpoint is not reachable at "+sock+": run docker vic port on the VCH endpoint, where vic-endpoint runs")
	assert.Assert(t, errors.Is(err, portsapi.ErrUnreachable))
}

func TestPortEndpointSocketFromEnvironment(t *testing.T) {
	env := map[string]string{}
	getenv := func(k string) string { return env[k] }
	assert.Equal(t, daemonSocket(getenv), "/run/docker/plugins/vic.sock")
	env[portsapi.EnvSocket] = "/tmp/vic.sock"
	assert.Equal(t, daemonSocket(getenv), "/tmp/vic.sock")
}

// On a swarm node the drivers run as a managed plugin, whose socket lies in the plugin's own
// directory: the default socket, missing, gives way to it; a socket given is kept.
func TestPortFindsTheManagedPluginsSocket(t *testing.T) {
	defer func(old func() ([]string, error)) { pluginSockets = old }(pluginSockets)
	found := []string{"/run/docker/plugins/0123abcd/vic.sock"}
	pluginSockets = func() ([]string, error) { return found, nil }
	if _, err := os.Stat(portsapi.DefaultSocket); err == nil {
		t.Skip("this machine serves the legacy socket, which wins")
	}
	assert.Equal(t, socketFetcher{path: portsapi.DefaultSocket}.socket(), found[0])
	assert.Equal(t, socketFetcher{path: "/tmp/vic.sock"}.socket(), "/tmp/vic.sock")
	found = append(found, "/run/docker/plugins/4567cdef/vic.sock")
	assert.Equal(t, socketFetcher{path: portsapi.DefaultSocket}.socket(), portsapi.DefaultSocket)
}
