package ipamdriver

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"

	"github.com/docker/go-plugins-helpers/ipam"

	"github.com/docker-vic/docker-vic/config"
	"github.com/docker-vic/docker-vic/endpoint/hostnets"
)

// Driver is the "vic" IPAM driver. Its methods are safe for concurrent use: allocations are
// serialised, and each one is a single Store transaction.
type Driver struct {
	store  Store
	leases LeaseSource
	cfg    atomic.Pointer[config.Config]
	// hostSubnets reads the endpoint VM's own subnets, which no bridge network may take.
	hostSubnets atomic.Pointer[func() []hostnets.Subnet]
	// sem serialises allocations; a channel so that waiting for it honours a context.
	sem chan struct{}
	// swarmRequests counts the requests in the swarm's space (swarm.go).
	swarmRequests atomic.Uint64
}

// New returns a driver that carves bridge networks from cfg.Bridge, takes container networks
// from cfg.ContainerNetworks and keeps its state in store. leases serves DHCP container
// networks; nil means that they cannot get addresses yet.
func New(cfg *config.Config, store Store, leases LeaseSource) (*Driver, error) {
	if store == nil {
		return nil, errors.New("creating the vic IPAM driver: it needs a store")
	}
	d := &Driver{store: store, leases: leases, sem: make(chan struct{}, 1)}
	if err := d.SetConfig(cfg); err != nil {
		return nil, err
	}
	return d, nil
}

// SetConfig replaces the VCH configuration, after `docker vic configure` changed it. Existing
// pools keep their subnets; container networks take their new ranges at the next request.
func (d *Driver) SetConfig(cfg *config.Config) error {
	if cfg == nil {
		return errors.New("configuring the vic IPAM driver: it needs the VCH configuration")
	}
	b := cfg.Bridge
	switch {
	case !b.Range.IsValid() || !b.Range.Addr().Is4() || b.Range != b.Range.Masked():
		return fmt.Errorf("configuring the vic IPAM driver: bridge range %s is not an IPv4 network address", b.Range)
	case b.Width < b.Range.Bits() || b.Width > 30:
		return fmt.Errorf("configuring the vic IPAM driver: bridge width %d must lie between the range's prefix length %d and 30", b.Width, b.Range.Bits())
	}
	d.cfg.Store(cfg.Clone())
	return nil
}

func (d *Driver) config() *config.Config { return d.cfg.Load() }

// SetHostSubnets gives the driver a way to read the endpoint VM's own subnets (its connected
// routes), read again at each pool request: a bridge network never takes one of them, nor a
// special range such as loopback or multicast.
func (d *Driver) SetHostSubnets(read func() []hostnets.Subnet) { d.hostSubnets.Store(&read) }

func (d *Driver) readHostSubnets() []hostnets.Subnet {
	if read := d.hostSubnets.Load(); read != nil {
		return (*read)()
	}
	return nil
}

// lock waits for the allocation lock until ctx ends.
func (d *Driver) lock(ctx context.Context) (unlock func(), err error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("waiting for the vic IPAM allocator: %w", err)
	}
	select {
	case d.sem <- struct{}{}:
		return func() { <-d.sem }, nil
	case <-ctx.Done():
		return nil, fmt.Errorf("waiting for the vic IPAM allocator: %w", ctx.Err())
	}
}

// GetCapabilities asks Docker for each endpoint's MAC address in RequestAddress: container
// networks record it with the lease, and DHCP leases are keyed by it.
func (d *Driver) GetCapabilities(ctx context.Context) (*ipam.CapabilitiesResponse, error) {
	return &ipam.CapabilitiesResponse{RequiresMACAddress: true}, nil
}

// GetDefaultAddressSpaces returns the driver's address space names.
func (d *Driver) GetDefaultAddressSpaces(ctx context.Context) (*ipam.AddressSpacesResponse, error) {
	return &ipam.AddressSpacesResponse{
		LocalDefaultAddressSpace:  LocalAddressSpace,
		GlobalDefaultAddressSpace: GlobalAddressSpace,
	}, nil
}

// Pools returns every pool the driver has handed out, for inspection and for the endpoint's
// start-up reconciliation with Docker's networks.
func (d *Driver) Pools(ctx context.Context) ([]Pool, error) {
	var out []Pool
	err := d.store.View(ctx, func(tx Tx) error {
		var err error
		out, err = tx.Pools()
		return err
	})
	return out, err
}

// Leases returns the addresses handed out from pool poolID, gateway included.
func (d *Driver) Leases(ctx context.Context, poolID string) ([]Lease, error) {
	var out []Lease
	err := d.store.View(ctx, func(tx Tx) error {
		var err error
		out, err = tx.Leases(poolID)
		return err
	})
	return out, err
}
