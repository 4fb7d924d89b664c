package ipamdriver

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"slices"

	"github.com/docker-vic/docker-vic/config"
)

// When the state database is lost, the pools and leases are rebuilt from what Docker shows of
// its networks: subnet, --ip-range, gateway, the port group option and the containers'
// addresses and MACs. Docker never shows a PoolID, so a rebuilt pool cannot know the nonce of
// the ID Docker holds: it gets an ID of its own (nonce "rebuilt", which Docker never holds) and
// is marked Rebuilt. The first request that names an unknown PoolID with the subnet, sub-pool
// and port group of a rebuilt pool adopts that ID: Docker presents only the ID of the network
// it has, and the driver refuses overlapping pools, so no other network can claim it.
//
// Each space is rebuilt on its own, and an ID adopts only a rebuilt pool of its own space: the
// engine's pools from the networks Docker made on it, the swarm's pools (on the swarm's leader
// only, whose allocator holds their IDs) from the swarm's networks and the addresses of its
// tasks (see swarm.go).

// rebuiltNonce is the nonce of the PoolIDs of rebuilt pools.
const rebuiltNonce = "rebuilt"

// FoundNetwork is a Docker network that uses the vic IPAM driver, as Docker shows it.
type FoundNetwork struct {
	// Name names the network in messages.
	Name string
	// Subnet, SubPool (--ip-range) and Gateway are those of its IPAM configuration; a DHCP
	// container network has 0.0.0.0/0, or none.
	Subnet, SubPool netip.Prefix
	Gateway         netip.Addr
	// PortGroup is the port group option of a container network's pool.
	PortGroup string
	// Swarm makes the pool one of the swarm's space (GlobalAddressSpace), with the addresses
	// of all the swarm's tasks on the network; otherwise it is the engine's own.
	Swarm bool
	// Addresses are its containers' addresses, with their prefix lengths and MACs.
	Addresses []FoundAddress
}

// FoundAddress is a container's address on a network.
type FoundAddress struct {
	Address netip.Prefix
	MAC     string
}

// Rebuild replaces every pool and lease with the pools of networks, holding their gateways and
// their containers' addresses, in one transaction. A network that cannot be rebuilt (a subnet
// that is not IPv4, one that overlaps a network rebuilt before it) and an address outside its
// network or held twice are left out and returned in skipped; the rest is rebuilt.
func (d *Driver) Rebuild(ctx context.Context, nets []FoundNetwork) (skipped []error, err error) {
	cfg := d.config()
	var pools []Pool
	var leases [][]Lease
	for _, n := range nets {
		p, err := rebuiltPool(cfg, n)
		if err == nil {
			if o, ok := overlapping(p.Subnet, sameSpace(pools, p.Swarm)); ok && !p.DHCP {
				err = fmt.Errorf("subnet %s overlaps %s", p.Subnet, o.where())
			}
		}
		if err == nil && slices.ContainsFunc(pools, func(o Pool) bool { return o.ID == p.ID }) {
			err = fmt.Errorf("%s has a Docker network already", p.where())
		}
		if err != nil {
			skipped = append(skipped, fmt.Errorf("network %q: %w", n.Name, err))
			continue
		}
		ls, bad := rebuiltLeases(&p, n)
		skipped = append(skipped, bad...)
		pools, leases = append(pools, p), append(leases, ls)
	}
	unlock, err := d.lock(ctx)
	if err != nil {
		return nil, err
	}
	defer unlock()
	err = d.store.Update(ctx, func(tx Tx) error {
		old, err := tx.Pools()
		if err != nil {
			return err
		}
		for _, p := range old {
			if err := tx.DeletePool(p.ID); err != nil {
				return err
			}
		}
		for i, p := range pools {
			if err := tx.PutPool(p); err != nil {
				return err
			}
			for _, l := range leases[i] {
				if err := tx.PutLease(l); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("rebuilding the pools of the vic IPAM driver: %w", err)
	}
	return skipped, nil
}

// rebuiltPool is the pool of network n, as RequestPool made it.
func rebuiltPool(cfg *config.Config, n FoundNetwork) (Pool, error) {
	// A pool of the swarm's is stale too: a new leader's allocator, asking again, claims it.
	p := Pool{Subnet: n.Subnet.Masked(), Gateway: n.Gateway, PortGroup: n.PortGroup, Rebuilt: true, Swarm: n.Swarm, Stale: n.Swarm}
	ref := PoolRef{PortGroup: n.PortGroup, Nonce: rebuiltNonce}
	if n.Swarm {
		ref.Nonce = swarmNonce + rebuiltNonce
	}
	switch {
	case n.PortGroup != "" && (!n.Subnet.IsValid() || n.Subnet.Bits() == 0):
		p.Subnet, p.Gateway, p.DHCP = dhcpSubnet, netip.Addr{}, true
	case !n.Subnet.IsValid() || !n.Subnet.Addr().Is4():
		return Pool{}, fmt.Errorf("subnet %q is not an IPv4 network", n.Subnet)
	case n.PortGroup != "":
		// The configured ranges and gateway, as planContainerPool gives them.
		if c := cfg.ContainerNetwork(n.PortGroup); c != nil && !c.DHCP() && c.Gateway.Masked() == p.Subnet {
			p.Ranges, p.Gateway = slices.Clone(c.Ranges), c.Gateway.Addr()
		}
	case n.SubPool.IsValid():
		ref.SubPool = n.SubPool.Masked()
		p.Ranges = []config.IPRange{config.PrefixRange(ref.SubPool)}
	}
	if p.Gateway.IsValid() && !p.Subnet.Contains(p.Gateway) {
		return Pool{}, fmt.Errorf("gateway %s is outside subnet %s", p.Gateway, p.Subnet)
	}
	ref.Subnet = p.Subnet
	p.ID = ref.String()
	return p, nil
}

// rebuiltLeases are the leases of pool p for network n: its gateway and its containers'
// addresses. Last is set to the highest of them, so that the next address is a new one.
func rebuiltLeases(p *Pool, n FoundNetwork) (leases []Lease, skipped []error) {
	if p.Swarm && p.DHCP {
		return nil, nil // the swarm records 0.0.0.0/0 for each task: the nodes hold the leases
	}
	taken := map[netip.Addr]bool{}
	if p.Gateway.IsValid() {
		leases = append(leases, Lease{PoolID: p.ID, Address: p.Gateway, Bits: p.Subnet.Bits(), Gateway: true, Stale: p.Swarm})
		taken[p.Gateway] = true
	}
	for _, a := range n.Addresses {
		addr := a.Address.Addr()
		var err error
		switch {
		case !addr.Is4():
			err = errors.New("it is not IPv4")
		case !p.DHCP && !p.Subnet.Contains(addr):
			err = fmt.Errorf("it is outside %s", p.where())
		case taken[addr]:
			err = errors.New("another container or the gateway holds it too")
		}
		if err != nil {
			skipped = append(skipped, fmt.Errorf("address %s of network %q: %w", addr, n.Name, err))
			continue
		}
		bits := a.Address.Bits()
		if !p.DHCP {
			bits = p.Subnet.Bits()
		}
		taken[addr] = true
		leases = append(leases, Lease{PoolID: p.ID, Address: addr, Bits: bits, MAC: a.MAC, Stale: p.Swarm})
		if !p.Last.IsValid() || p.Last.Less(addr) {
			p.Last = addr
		}
	}
	return leases, skipped
}

// lookupPool returns pool id. When the store has none of that ID and adopt is set, a rebuilt
// pool of the same space with the same subnet, sub-pool and port group takes the ID, with its
// leases; without adopt, such a pool is returned as it is. Pools are rebuilt from what the
// engine shows, in its own space: an ID of the swarm's space adopts none of them.
func lookupPool(tx Tx, id string, adopt bool) (Pool, bool, error) {
	p, ok, err := tx.Pool(id)
	if err != nil || ok {
		return p, ok, err
	}
	ref, err := ParsePoolID(id)
	if err != nil {
		return Pool{}, false, nil
	}
	pools, err := tx.Pools()
	if err != nil {
		return Pool{}, false, err
	}
	for _, o := range pools {
		r, err := ParsePoolID(o.ID)
		if !o.Rebuilt || o.Swarm != isSwarmRef(ref) || err != nil || r.Subnet != ref.Subnet || r.SubPool != ref.SubPool || r.PortGroup != ref.PortGroup {
			continue
		}
		if !adopt {
			return o, true, nil
		}
		return adoptPool(tx, o, id)
	}
	return Pool{}, false, nil
}

// adoptPool gives rebuilt pool p, and its leases, the ID Docker holds.
func adoptPool(tx Tx, p Pool, id string) (Pool, bool, error) {
	leases, err := tx.Leases(p.ID)
	if err != nil {
		return Pool{}, false, err
	}
	if err := tx.DeletePool(p.ID); err != nil {
		return Pool{}, false, err
	}
	p.ID, p.Rebuilt = id, false
	if err := tx.PutPool(p); err != nil {
		return Pool{}, false, err
	}
	for _, l := range leases {
		l.PoolID = id
		if err := tx.PutLease(l); err != nil {
			return Pool{}, false, err
		}
	}
	return p, true, nil
}
