package daemon

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"testing"

	"gotest.tools/v3/assert"

	"github.com/docker-vic/docker-vic/api/portsapi"
	"github.com/docker-vic/docker-vic/endpoint/driverapi"
	"github.com/docker-vic/docker-vic/endpoint/hostports"
	"github.com/docker-vic/docker-vic/netdriver"
)

// cannedSnapshot is a driver snapshot fixed by the test.
type cannedSnapshot struct {
	nets []netdriver.Network
	eps  []netdriver.Endpoint
	err  error
}

func (c cannedSnapshot) Snapshot(context.Context) ([]netdriver.Network, []netdriver.Endpoint, error) {
	return c.nets, c.eps, c.err
}

func TestPortsHandlerAnswers(t *testing.T) {
	snap := cannedSnapshot{
		nets: []netdriver.Network{{ID: "n1", Bridge: "vb-n1", Subnet: netip.MustParsePrefix("172.16.0.0/16")}},
		eps: []netdriver.Endpoint{{ID: "e1", NetworkID: "n1", Address: netip.MustParsePrefix("172.16.0.2/16"), MAC: "02:42:ac:10:00:02",
			Ports: []netdriver.Port{
				{Proto: hostports.TCP, HostPort: 8080, ContainerPort: 80},
				{Proto: hostports.TCP, HostIP: netip.MustParseAddr("0.0.0.0"), HostPort: 8081, ContainerPort: 81},
				{Proto: hostports.UDP, HostIP: netip.MustParseAddr("127.0.0.1"), HostPort: 5353, ContainerPort: 53},
			}}},
	}
	h := portsHandler(snap, newGate(""), netip.MustParseAddr("198.51.100.2"), "1.2.3", slog.New(slog.DiscardHandler))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, portsapi.Path, nil))
	assert.Equal(t, rec.Code, http.StatusOK)
	var got portsapi.Answer
	assert.NilError(t, json.Unmarshal(rec.Body.Bytes(), &got))
	assert.DeepEqual(t, got, portsapi.Answer{
		Networks: []portsapi.Network{{NetworkID: "n1", Bridge: "vb-n1", Subnet: "172.16.0.0/16"}},
		Endpoints: []portsapi.Endpoint{{EndpointID: "e1", NetworkID: "n1", Address: "172.16.0.2/16", MAC: "02:42:ac:10:00:02", Ports: []portsapi.Port{
			{Proto: "tcp", HostPort: 8080, ContainerPort: 80},
			{Proto: "tcp", HostPort: 8081, ContainerPort: 81},
			{Proto: "udp", HostIP: "127.0.0.1", HostPort: 5353, ContainerPort: 53},
		}}},
		Public: "198.51.100.2", Version: "1.2.3",
	})
}

func TestPortsHandlerReportsErrors(t *testing.T) {
	h := portsHandler(cannedSnapshot{err: errors.New("waiting for other network operations: context deadline exceeded")},
		newGate(""), netip.MustParseAddr("198.51.100.2"), "1.2.3", slog.New(slog.DiscardHandler))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, portsapi.Path, nil))
	assert.Equal(t, rec.Code, http.StatusInternalServerError)
	assert.Equal(t, rec.Body.String(), `{"Err":"waiting for other network operations: context deadline exceeded"}`+"\n")
}

// While the state is rebuilt, docker vic ps says so rather than show no ports.
func TestPortsHandlerWaitsForTheRebuild(t *testing.T) {
	h := portsHandler(cannedSnapshot{}, newGate(`state database "/var/lib/vic/state.db" is missing`),
		netip.MustParseAddr("198.51.100.2"), "1.2.3", slog.New(slog.DiscardHandler))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, portsapi.Path, nil))
	assert.Equal(t, rec.Code, http.StatusInternalServerError)
	assert.Equal(t, rec.Body.String(), `{"Err":"vic-endpoint is rebuilding its state from docker and the kernel, because state database \"/var/lib/vic/state.db\" is missing: try again once docker answers it (a few seconds)"}`+"\n")
}

// TestPortsSocketIsTheDriverSocket: the CLI asks where the daemon serves the drivers.
func TestPortsSocketIsTheDriverSocket(t *testing.T) {
	assert.Equal(t, portsapi.DefaultSocket, driverapi.DefaultSocket)
}
