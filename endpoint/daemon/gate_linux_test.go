package daemon

import (
	"context"
	"errors"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/docker/go-plugins-helpers/ipam"
	"github.com/docker/go-plugins-helpers/network"

	"github.com/docker-vic/docker-vic/endpoint/driverapi"
)

// recorder is both drivers, recording the calls that reach them; the embedded interfaces
// stand for the methods the gate passes untouched.
type recorder struct {
	driverapi.NetworkDriver
	mu    sync.Mutex
	calls []string
}

// recordingIPAM is the recorder as the IPAM driver.
type recordingIPAM struct {
	driverapi.IPAMDriver
	*recorder
}

func (r *recorder) note(call string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.calls = append(r.calls, call)
	return nil
}

func (r *recorder) seen() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.calls)
}

func (r *recorder) CreateNetwork(_ context.Context, q *network.CreateNetworkRequest) error {
	return r.note("CreateNetwork " + q.NetworkID)
}
func (r *recorder) DeleteNetwork(_ context.Context, q *network.DeleteNetworkRequest) error {
	return r.note("DeleteNetwork " + q.NetworkID)
}
func (r *recorder) DeleteEndpoint(_ context.Context, q *network.DeleteEndpointRequest) error {
	return r.note("DeleteEndpoint " + q.EndpointID)
}
func (r *recorder) Leave(_ context.Context, q *network.LeaveRequest) error {
	return r.note("Leave " + q.EndpointID)
}
func (r recordingIPAM) ReleaseAddress(_ context.Context, q *ipam.ReleaseAddressRequest) error {
	return r.note("ReleaseAddress " + q.Address)
}
func (r recordingIPAM) ReleasePool(_ context.Context, q *ipam.ReleasePoolRequest) error {
	return r.note("ReleasePool " + q.PoolID)
}
func (r recordingIPAM) RequestPool(_ context.Context, q *ipam.RequestPoolRequest) (*ipam.RequestPoolResponse, error) {
	return &ipam.RequestPoolResponse{}, r.note("RequestPool")
}
func (r recordingIPAM) RequestAddress(_ context.Context, q *ipam.RequestAddressRequest) (*ipam.RequestAddressResponse, error) {
	return &ipam.RequestAddressResponse{}, r.note("RequestAddress " + q.PoolID)
}
func (r *recorder) CreateEndpoint(_ context.Context, q *network.CreateEndpointRequest) (*network.CreateEndpointResponse, error) {
	return &network.CreateEndpointResponse{}, r.note("CreateEndpoint " + q.EndpointID)
}
func (r *recorder) Join(_ context.Context, q *network.JoinRequest) (*network.JoinResponse, error) {
	return &network.JoinResponse{}, r.note("Join " + q.EndpointID)
}
func (r *recorder) ProgramExternalConnectivity(_ context.Context, q *network.ProgramExternalConnectivityRequest) error {
	return r.note("Program " + q.EndpointID)
}

func TestGateWhileTheStateIsRebuilt(t *testing.T) {
	ctx := context.Background()
	g := newGate(`state database "/var/lib/vic/state.db" is missing`)
	rec := &recorder{}
	nd, id := gatedNetwork{rec, g}, gatedIPAM{recordingIPAM{recorder: rec}, g}

	// What hands out or creates anything is refused, with one sentence.
	creates := []func() error{
		func() error { return nd.CreateNetwork(ctx, &network.CreateNetworkRequest{NetworkID: "n2"}) },
		func() error {
			_, err := nd.CreateEndpoint(ctx, &network.CreateEndpointRequest{EndpointID: "e2"})
			return err
		},
		func() error { _, err := nd.Join(ctx, &network.JoinRequest{EndpointID: "e2"}); return err },
		func() error {
			return nd.ProgramExternalConnectivity(ctx, &network.ProgramExternalConnectivityRequest{EndpointID: "e2"})
		},
		func() error { _, err := id.RequestPool(ctx, &ipam.RequestPoolRequest{}); return err },
		func() error {
			_, err := id.RequestAddress(ctx, &ipam.RequestAddressRequest{PoolID: "vic/172.16.0.0/16"})
			return err
		},
	}
	want := `vic-endpoint is rebuilding its state from docker and the kernel, because state database "/var/lib/vic/state.db" is missing: try again once docker answers it (a few seconds)`
	for i, create := range creates {
		if err := create(); err == nil || err.Error() != want {
			t.Fatalf("request %d while rebuilding: %v, want %q", i, err, want)
		}
	}
	// Removals pass at once.
	removals := []func() error{
		func() error { return nd.Leave(ctx, &network.LeaveRequest{EndpointID: "e1"}) },
		func() error { return nd.DeleteEndpoint(ctx, &network.DeleteEndpointRequest{EndpointID: "e1"}) },
		func() error {
			return id.ReleaseAddress(ctx, &ipam.ReleaseAddressRequest{PoolID: "vic/172.16.0.0/16#ab", Address: "172.16.0.2"})
		},
		func() error { return nd.DeleteNetwork(ctx, &network.DeleteNetworkRequest{NetworkID: "n1"}) },
		func() error { return id.ReleasePool(ctx, &ipam.ReleasePoolRequest{PoolID: "vic/172.16.0.0/16#ab"}) },
	}
	for _, remove := range removals {
		if err := remove(); err != nil {
			t.Fatal(err)
		}
	}
	done := []string{"Leave e1", "DeleteEndpoint e1", "ReleaseAddress 172.16.0.2", "DeleteNetwork n1", "ReleasePool vic/172.16.0.0/16#ab"}
	if got := rec.seen(); !slices.Equal(got, done) {
		t.Fatalf("calls reaching the drivers while rebuilding: %q, want the removals alone %q", got, done)
	}

	// A rebuild that fails keeps the gate closed and replays nothing.
	log := slog.New(slog.DiscardHandler)
	if err := g.open(ctx, log, func() error { return errors.New("docker went away") }); err == nil {
		t.Fatal("open with a failed commit succeeded")
	}
	if err := nd.CreateNetwork(ctx, &network.CreateNetworkRequest{NetworkID: "n2"}); err == nil || !strings.Contains(err.Error(), "rebuilding") {
		t.Fatalf("after a failed rebuild, CreateNetwork: %v", err)
	}
	// A rebuild that succeeds replays the removals on the rebuilt state, then lets all pass.
	if err := g.open(ctx, log, func() error { return rec.note("commit") }); err != nil {
		t.Fatal(err)
	}
	select {
	case <-g.Opened():
	default:
		t.Fatal("the gate did not open")
	}
	if err := nd.CreateNetwork(ctx, &network.CreateNetworkRequest{NetworkID: "n2"}); err != nil {
		t.Fatal(err)
	}
	if err := nd.DeleteNetwork(ctx, &network.DeleteNetworkRequest{NetworkID: "n2"}); err != nil {
		t.Fatal(err)
	}
	wantAll := append(append(append(slices.Clone(done), "commit"), done...), "CreateNetwork n2", "DeleteNetwork n2")
	if got := rec.seen(); !slices.Equal(got, wantAll) {
		t.Fatalf("calls:\n%q\nwant:\n%q", got, wantAll)
	}
}
