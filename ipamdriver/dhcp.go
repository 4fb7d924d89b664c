package ipamdriver

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"time"

	"github.com/docker/go-plugins-helpers/ipam"
)

// releaseTimeout bounds giving back a DHCP lease after the request that took it failed.
const releaseTimeout = 10 * time.Second

// LeaseSource hands out addresses that come from outside the driver: the DHCP server on a
// container network's port group. The driver records what it hands out, so that Docker's
// release reaches the right lease.
type LeaseSource interface {
	// Acquire obtains an address, with its prefix length, for the interface with MAC address
	// mac on port group portGroup, and keeps it renewed until Release.
	Acquire(ctx context.Context, portGroup string, mac net.HardwareAddr) (netip.Prefix, error)
	// Release gives the address back. Releasing an unknown lease succeeds.
	Release(ctx context.Context, portGroup string, mac net.HardwareAddr, addr netip.Addr) error
}

// requestDHCP leases an address of a DHCP container network from the LeaseSource and records it.
//
// In a swarm, the manager allocates each task's address in the swarm's space, without a MAC and
// long before the task lands on a node: no lease can be taken there. Its pool answers
// dhcpSubnet, "no address yet", and records nothing; the node that runs the task then asks in
// its own space with that unspecified address and the task's MAC, and gets the lease, which is
// the address Docker gives the container (and names in the service's DNS).
func (d *Driver) requestDHCP(ctx context.Context, poolID, pg string, want netip.Addr, gateway bool, mac net.HardwareAddr) (_ *ipam.RequestAddressResponse, err error) {
	if want.IsUnspecified() {
		want = netip.Addr{} // the manager's "no address yet", or a gateway asked as 0.0.0.0
	}
	switch {
	case gateway && want.IsValid():
		return nil, newError(ErrInvalid, "container network %q gets its gateway from its DHCP server and takes no --gateway", pg)
	case gateway:
		return &ipam.RequestAddressResponse{Address: dhcpSubnet.String()}, nil
	case want.IsValid():
		return nil, newError(ErrInvalid, "container network %q gets its addresses from its DHCP server and takes no --ip", pg)
	}
	var pool Pool
	err = d.store.View(ctx, func(tx Tx) error {
		var ok bool
		pool, ok, err = lookupPool(tx, poolID, false)
		if err == nil && !ok {
			err = unknownPool(poolID)
		}
		return err
	})
	switch {
	case err != nil:
		return nil, err
	case pool.Swarm:
		return &ipam.RequestAddressResponse{Address: dhcpSubnet.String()}, nil
	case d.leases == nil:
		return nil, newError(ErrNotSupported, "container network %q gets its addresses from its DHCP server, and DHCP leases are not supported yet by the vic IPAM driver", pg)
	case mac == nil:
		return nil, newError(ErrInvalid, "a DHCP lease on container network %q needs the endpoint's MAC address, and Docker sent none", pg)
	}

	got, err := d.leases.Acquire(ctx, pg, mac)
	if err != nil {
		return nil, fmt.Errorf("leasing an address for MAC %s from the DHCP server of container network %q: %w", mac, pg, err)
	}
	if !got.Addr().Is4() {
		err = newError(ErrNotSupported, "the DHCP server of container network %q offered %s, which is not IPv4", pg, got)
	}
	defer func() {
		if err != nil {
			rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), releaseTimeout)
			defer cancel()
			_ = d.leases.Release(rctx, pg, mac, got.Addr())
		}
	}()
	if err != nil {
		return nil, err
	}

	unlock, err := d.lock(ctx)
	if err != nil {
		return nil, err
	}
	defer unlock()
	err = d.store.Update(ctx, func(tx Tx) error {
		if err := poolExists(tx, poolID, true); err != nil {
			return err
		}
		l, taken, err := tx.Lease(poolID, got.Addr())
		if err != nil {
			return err
		}
		if taken {
			return newError(ErrConflict, "the DHCP server of container network %q offered %s, which is already leased to MAC %s", pg, got.Addr(), l.MAC)
		}
		return tx.PutLease(Lease{PoolID: poolID, Address: got.Addr(), Bits: got.Bits(), MAC: mac.String()})
	})
	if err != nil {
		return nil, err
	}
	return &ipam.RequestAddressResponse{Address: got.String()}, nil
}

// releaseDHCP gives the leases of a DHCP pool back to the LeaseSource.
func (d *Driver) releaseDHCP(ctx context.Context, p Pool, leases []Lease) error {
	if d.leases == nil {
		return nil
	}
	var errs []error
	for _, l := range leases {
		mac, _ := net.ParseMAC(l.MAC)
		if err := d.leases.Release(ctx, p.PortGroup, mac, l.Address); err != nil {
			errs = append(errs, fmt.Errorf("releasing the DHCP lease of %s on container network %q: %w", l.Address, p.PortGroup, err))
		}
	}
	return errors.Join(errs...)
}
