package ipamdriver

import (
	"net/netip"
	"slices"

	"github.com/docker-vic/docker-vic/config"
)

// Pool is an address pool handed to Docker, as the store keeps it.
type Pool struct {
	// ID is the PoolID Docker knows the pool by (see PoolRef).
	ID string `json:"id"`
	// Subnet is the pool's subnet; 0.0.0.0/0 for a DHCP container network.
	Subnet netip.Prefix `json:"subnet"`
	// Ranges are where container addresses come from; empty means the whole subnet. For a
	// container network the VCH configuration's current ranges take precedence.
	Ranges []config.IPRange `json:"ranges,omitempty"`
	// Gateway is the gateway once Docker requested one, or a container network's configured
	// gateway. It is never handed to a container.
	Gateway netip.Addr `json:"gateway,omitzero"`
	// PortGroup names the container network the pool belongs to; empty for bridge networks.
	PortGroup string `json:"portGroup,omitempty"`
	// DHCP says that addresses come from the port group's DHCP server through a LeaseSource.
	DHCP bool `json:"dhcp,omitempty"`
	// Last is the address handed out last: the next search starts after it, so that a freed
	// address is not reused at once.
	Last netip.Addr `json:"last,omitzero"`
	// Swarm marks a pool of the swarm's address space (GlobalAddressSpace): the allocation a
	// swarm manager makes for the whole swarm. Every node, this one included, then asks for
	// the same subnet in its own space. The two spaces do not see each other's pools.
	Swarm bool `json:"swarm,omitempty"`
	// Rebuilt marks a pool rebuilt from Docker after the state was lost (see Rebuild): its ID
	// is not the one Docker holds, which the first request naming it gives back to the pool.
	Rebuilt bool `json:"rebuilt,omitempty"`
	// Stale marks a swarm pool that may belong to an allocator of the swarm that has stopped:
	// the next request of the swarm's allocator that names it, or asks for its subnet again,
	// claims it (see swarm.go).
	Stale bool `json:"stale,omitempty"`
}

// clone returns a copy of p that shares no memory with it.
func (p Pool) clone() Pool {
	p.Ranges = slices.Clone(p.Ranges)
	return p
}

// Lease is an address handed to Docker from a pool: a container's, or a network's gateway.
type Lease struct {
	// PoolID is the pool the address belongs to.
	PoolID string `json:"poolID"`
	// Address is the address handed out.
	Address netip.Addr `json:"address"`
	// Bits is the prefix length Docker got with the address.
	Bits int `json:"bits"`
	// MAC is the endpoint's MAC address as Docker sent it, if it did.
	MAC string `json:"mac,omitempty"`
	// Gateway marks the address of a network's gateway.
	Gateway bool `json:"gateway,omitempty"`
	// Stale marks an address of a stale swarm pool that the swarm's allocator has not asked
	// for again yet (see swarm.go).
	Stale bool `json:"stale,omitempty"`
}

// Prefix returns the address with the prefix length Docker got.
func (l Lease) Prefix() netip.Prefix { return netip.PrefixFrom(l.Address, l.Bits) }
