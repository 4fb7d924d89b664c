//go:build linux

package daemon

import (
	"context"
	"fmt"
	"log/slog"
	"sync"

	"github.com/docker/go-plugins-helpers/ipam"
	"github.com/docker/go-plugins-helpers/network"

	"github.com/docker-vic/docker-vic/endpoint/driverapi"
)

// gate stands between Docker and the drivers while their state is rebuilt (see rebuild.go).
// Requests that would hand out or create anything (pools, addresses, networks, endpoints,
// joins, published ports) are refused with one sentence: the drivers do not know yet what is
// taken. Removals pass at once, since Docker only logs their failures and the links they
// remove are named after Docker's IDs; they are remembered and run again on the rebuilt
// state, so that the rebuild does not bring back what Docker removed while it read Docker.
type gate struct {
	mu sync.Mutex
	// why says why the state is rebuilt; "" once the gate is open.
	why string
	// removals are the removals that passed while the gate was closed, in order.
	removals []func(context.Context) error
	opened   chan struct{}
}

// newGate returns a gate closed for reason why, or open when why is "".
func newGate(why string) *gate {
	g := &gate{why: why, opened: make(chan struct{})}
	if why == "" {
		close(g.opened)
	}
	return g
}

// Opened is closed once the state can be trusted.
func (g *gate) Opened() <-chan struct{} { return g.opened }

// refuse returns the error of a request that must wait for the rebuild, or nil once open.
func (g *gate) refuse() error {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.why == "" {
		return nil
	}
	return fmt.Errorf("vic-endpoint is rebuilding its state from docker and the kernel, because %s: try again once docker answers it (a few seconds)", g.why)
}

// remove runs a removal, remembering it while the gate is closed.
func (g *gate) remove(ctx context.Context, fn func(context.Context) error) error {
	g.mu.Lock()
	if g.why != "" {
		g.removals = append(g.removals, fn)
	}
	g.mu.Unlock()
	return fn(ctx)
}

// open runs commit, which makes the state whole again, and when it succeeds runs the removals
// remembered on the rebuilt state and opens the gate. Requests wait meanwhile.
func (g *gate) open(ctx context.Context, log *slog.Logger, commit func() error) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.why == "" {
		return nil
	}
	if err := commit(); err != nil {
		return err
	}
	for _, fn := range g.removals {
		if err := fn(ctx); err != nil {
			log.Warn("a removal docker asked during the rebuild failed on the rebuilt state", "error", err)
		}
	}
	g.removals, g.why = nil, ""
	close(g.opened)
	return nil
}

// gatedNetwork is the network driver behind the gate.
type gatedNetwork struct {
	driverapi.NetworkDriver
	g *gate
}

func (d gatedNetwork) CreateNetwork(ctx context.Context, r *network.CreateNetworkRequest) error {
	if err := d.g.refuse(); err != nil {
		return err
	}
	return d.NetworkDriver.CreateNetwork(ctx, r)
}

func (d gatedNetwork) DeleteNetwork(ctx context.Context, r *network.DeleteNetworkRequest) error {
	return d.g.remove(ctx, func(ctx context.Context) error { return d.NetworkDriver.DeleteNetwork(ctx, r) })
}

func (d gatedNetwork) CreateEndpoint(ctx context.Context, r *network.CreateEndpointRequest) (*network.CreateEndpointResponse, error) {
	if err := d.g.refuse(); err != nil {
		return nil, err
	}
	return d.NetworkDriver.CreateEndpoint(ctx, r)
}

func (d gatedNetwork) DeleteEndpoint(ctx context.Context, r *network.DeleteEndpointRequest) error {
	return d.g.remove(ctx, func(ctx context.Context) error { return d.NetworkDriver.DeleteEndpoint(ctx, r) })
}

func (d gatedNetwork) Join(ctx context.Context, r *network.JoinRequest) (*network.JoinResponse, error) {
	if err := d.g.refuse(); err != nil {
		return nil, err
	}
	return d.NetworkDriver.Join(ctx, r)
}

func (d gatedNetwork) Leave(ctx context.Context, r *network.LeaveRequest) error {
	return d.g.remove(ctx, func(ctx context.Context) error { return d.NetworkDriver.Leave(ctx, r) })
}

func (d gatedNetwork) ProgramExternalConnectivity(ctx context.Context, r *network.ProgramExternalConnectivityRequest) error {
	if err := d.g.refuse(); err != nil {
		return err
	}
	return d.NetworkDriver.ProgramExternalConnectivity(ctx, r)
}

// RevokeExternalConnectivity passes: Docker also revokes a live endpoint's ports when another
// network becomes a container's gateway, which the rebuild reads from Docker.

// gatedIPAM is the IPAM driver behind the gate.
type gatedIPAM struct {
	driverapi.IPAMDriver
	g *gate
}

func (d gatedIPAM) RequestPool(ctx context.Context, r *ipam.RequestPoolRequest) (*ipam.RequestPoolResponse, error) {
	if err := d.g.refuse(); err != nil {
		return nil, err
	}
	return d.IPAMDriver.RequestPool(ctx, r)
}

func (d gatedIPAM) ReleasePool(ctx context.Context, r *ipam.ReleasePoolRequest) error {
	return d.g.remove(ctx, func(ctx context.Context) error { return d.IPAMDriver.ReleasePool(ctx, r) })
}

func (d gatedIPAM) RequestAddress(ctx context.Context, r *ipam.RequestAddressRequest) (*ipam.RequestAddressResponse, error) {
	if err := d.g.refuse(); err != nil {
		return nil, err
	}
	return d.IPAMDriver.RequestAddress(ctx, r)
}

func (d gatedIPAM) ReleaseAddress(ctx context.Context, r *ipam.ReleaseAddressRequest) error {
	return d.g.remove(ctx, func(ctx context.Context) error { return d.IPAMDriver.ReleaseAddress(ctx, r) })
}
