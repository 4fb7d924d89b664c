package ipamdriver

import (
	"context"
	"net/netip"

	"github.com/docker/go-plugins-helpers/ipam"

	"github.com/docker-vic/docker-vic/config"
)

// RequestAddress hands out an address of a pool, with the pool's prefix length: the gateway
// (the one asked for, or the first usable address of the subnet), the address asked for, or the
// next free one of the pool's ranges. Container networks hand out addresses of their configured
// ranges only, and their configured gateway; DHCP container networks lease addresses through
// the LeaseSource.
func (d *Driver) RequestAddress(ctx context.Context, req *ipam.RequestAddressRequest) (*ipam.RequestAddressResponse, error) {
	if req == nil {
		req = &ipam.RequestAddressRequest{}
	}
	ref, err := ParsePoolID(req.PoolID)
	if err != nil {
		return nil, err
	}
	d.noteSwarm(ref)
	want, err := parseAddress(req.Address)
	if err != nil {
		return nil, err
	}
	mac, err := parseMAC(req.Options)
	if err != nil {
		return nil, err
	}
	gateway := req.Options[OptionRequestAddressType] == RequestAddressTypeGateway
	if ref.DHCP() {
		return d.requestDHCP(ctx, req.PoolID, ref.PortGroup, want, gateway, mac)
	}

	unlock, err := d.lock(ctx)
	if err != nil {
		return nil, err
	}
	defer unlock()
	cfg := d.config()
	var lease Lease
	err = d.store.Update(ctx, func(tx Tx) error {
		p, ok, err := lookupPool(tx, req.PoolID, true)
		if err != nil {
			return err
		}
		if !ok {
			return unknownPool(req.PoolID)
		}
		// Only the swarm's allocator knows a swarm pool's ID: naming it claims the pool.
		p.Stale = false
		if l, ok, err := claimSwarmLease(tx, &p, Lease{Address: want, Gateway: gateway}); err != nil || ok {
			lease = l
			if err == nil {
				err = tx.PutPool(p)
			}
			return err
		}
		taken, err := takenAddresses(tx, p.ID)
		if err != nil {
			return err
		}
		spans := usableSpans(p.Subnet, poolRanges(p, cfg))
		a, err := pickAddress(&p, spans, want, gateway, taken)
		if err != nil {
			return err
		}
		if err := tx.PutPool(p); err != nil {
			return err
		}
		lease = Lease{PoolID: p.ID, Address: a, Bits: p.Subnet.Bits(), Gateway: gateway}
		if mac != nil {
			lease.MAC = mac.String()
		}
		return tx.PutLease(lease)
	})
	if err != nil {
		return nil, err
	}
	return &ipam.RequestAddressResponse{Address: lease.Prefix().String()}, nil
}

// pickAddress chooses the address of a request and notes it in p (its gateway, or the last
// address handed out).
func pickAddress(p *Pool, spans []span, want netip.Addr, gateway bool, taken map[netip.Addr]bool) (netip.Addr, error) {
	free := func(a netip.Addr) bool { return !taken[a] && a != p.Gateway }
	switch {
	case gateway && p.PortGroup != "":
		if want.IsValid() && want != p.Gateway {
			return netip.Addr{}, newError(ErrInvalid, "gateway %s does not match %s, whose gateway is %s (--container-network-gateway)", want, p.where(), p.Gateway)
		}
		return p.Gateway, nil
	case gateway && want.IsValid():
		if err := checkRequested(*p, spans, want, taken); err != nil {
			return netip.Addr{}, err
		}
		p.Gateway = want
		return want, nil
	case gateway:
		// The first usable address of the subnet, as Docker's own IPAM does, even with --ip-range.
		a, ok := nextAddress(usableSpans(p.Subnet, nil), netip.Addr{}, func(a netip.Addr) bool { return !free(a) })
		if !ok {
			return netip.Addr{}, newError(ErrExhausted, "no free address left in %s for the gateway", p.where())
		}
		p.Gateway = a
		return a, nil
	case want.IsValid():
		return want, checkRequested(*p, spans, want, taken)
	}
	a, ok := nextAddress(spans, p.Last, func(a netip.Addr) bool { return !free(a) })
	if !ok {
		return netip.Addr{}, newError(ErrExhausted, "no free address left in %s (%s): remove unused containers, or widen the range", p.where(), spansString(spans))
	}
	p.Last = a
	return a, nil
}

// poolRanges returns where a pool's container addresses come from: a container network's
// current configured ranges, else the ranges recorded with the pool.
func poolRanges(p Pool, cfg *config.Config) []config.IPRange {
	if p.PortGroup != "" {
		if n := cfg.ContainerNetwork(p.PortGroup); n != nil && !n.DHCP() && n.Gateway.Masked() == p.Subnet {
			return n.Ranges
		}
	}
	return p.Ranges
}

func takenAddresses(tx Tx, poolID string) (map[netip.Addr]bool, error) {
	leases, err := tx.Leases(poolID)
	if err != nil {
		return nil, err
	}
	taken := make(map[netip.Addr]bool, len(leases))
	for _, l := range leases {
		taken[l.Address] = true
	}
	return taken, nil
}

// ReleaseAddress gives an address back. Unknown pools and addresses are already released.
func (d *Driver) ReleaseAddress(ctx context.Context, req *ipam.ReleaseAddressRequest) error {
	if req == nil {
		req = &ipam.ReleaseAddressRequest{}
	}
	ref, err := ParsePoolID(req.PoolID)
	if err != nil {
		return nil
	}
	d.noteSwarm(ref)
	a, err := parseAddress(req.Address)
	if err != nil || !a.IsValid() {
		return err
	}
	lease, found, err := d.deleteLease(ctx, req.PoolID, a)
	if err != nil || !found || !ref.DHCP() {
		return err
	}
	return d.releaseDHCP(ctx, Pool{ID: req.PoolID, PortGroup: ref.PortGroup, DHCP: true}, []Lease{lease})
}

func (d *Driver) deleteLease(ctx context.Context, poolID string, a netip.Addr) (Lease, bool, error) {
	unlock, err := d.lock(ctx)
	if err != nil {
		return Lease{}, false, err
	}
	defer unlock()
	var (
		lease Lease
		found bool
	)
	err = d.store.Update(ctx, func(tx Tx) error {
		p, ok, err := lookupPool(tx, poolID, true)
		if err != nil || !ok {
			return err
		}
		l, ok, err := tx.Lease(poolID, a)
		if err != nil || !ok {
			return err
		}
		lease, found = l, true
		if err := tx.DeleteLease(poolID, a); err != nil {
			return err
		}
		if p.PortGroup != "" || p.Gateway != a {
			return nil
		}
		p.Gateway = netip.Addr{}
		return tx.PutPool(p)
	})
	if err != nil {
		return Lease{}, false, err
	}
	return lease, found, nil
}

// poolExists returns an ErrUnknownPool error when the store has no pool id, nor a rebuilt
// pool that would adopt it (which adopt makes it do).
func poolExists(tx Tx, id string, adopt bool) error {
	_, ok, err := lookupPool(tx, id, adopt)
	if err != nil {
		return err
	}
	if !ok {
		return unknownPool(id)
	}
	return nil
}

func unknownPool(id string) error {
	return newError(ErrUnknownPool, "pool %q is unknown to the vic IPAM driver: its network was removed, or the driver's state was lost", id)
}

// parseAddress reads an address of a request, bare or with a prefix length; empty means none.
func parseAddress(s string) (netip.Addr, error) {
	if s == "" {
		return netip.Addr{}, nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		p, perr := netip.ParsePrefix(s)
		if perr != nil {
			return netip.Addr{}, newError(ErrInvalid, "address %q is not an IP address", s)
		}
		a = p.Addr()
	}
	a = a.Unmap()
	if !a.Is4() {
		return netip.Addr{}, newError(ErrNotSupported, "address %s is IPv6, and IPv6 is not supported by the vic IPAM driver", a)
	}
	return a, nil
}
