package ipamdriver

import (
	"context"
	"net/netip"
	"slices"

	"github.com/docker/go-plugins-helpers/ipam"

	"github.com/docker-vic/docker-vic/config"
	"github.com/docker-vic/docker-vic/endpoint/hostnets"
)

// RequestPool hands Docker a pool: the container network named by OptionPortGroup, the subnet
// Docker passes (--subnet, with --ip-range as SubPool), or else the next free subnet of the
// bridge range. Docker asks again, keeping the pools it got, while a pool overlaps a host route:
// every pool stays allocated until released, so each answer is a new subnet.
func (d *Driver) RequestPool(ctx context.Context, req *ipam.RequestPoolRequest) (*ipam.RequestPoolResponse, error) {
	if req == nil {
		req = &ipam.RequestPoolRequest{}
	}
	if req.V6 {
		return nil, newError(ErrNotSupported, "IPv6 is not supported by the vic IPAM driver: create the network without --ipv6")
	}
	opts, err := parsePoolOptions(req.Options)
	if err != nil {
		return nil, err
	}
	cfg := d.config()
	plan, err := planPool(cfg, opts, req)
	if err != nil {
		return nil, err
	}
	plan.pool.Swarm = req.AddressSpace == GlobalAddressSpace
	if plan.pool.Swarm {
		d.swarmRequests.Add(1)
	}
	var host []hostnets.Subnet
	if plan.pool.PortGroup == "" {
		host = d.readHostSubnets()
	}

	unlock, err := d.lock(ctx)
	if err != nil {
		return nil, err
	}
	defer unlock()
	var pool Pool
	err = d.store.Update(ctx, func(tx Tx) error {
		pools, err := tx.Pools()
		if err != nil {
			return err
		}
		claimed, ok, pools, err := claimSwarmPool(tx, plan, pools)
		if err != nil || ok {
			pool = claimed
			return err
		}
		if pools, err = dropStaleLocal(tx, plan, pools); err != nil {
			return err
		}
		if pool, err = placePool(cfg, plan, pools, host); err != nil {
			return err
		}
		return tx.PutPool(pool)
	})
	if err != nil {
		return nil, err
	}

	resp := &ipam.RequestPoolResponse{PoolID: pool.ID, Pool: pool.Subnet.String()}
	switch {
	case pool.DHCP:
		// The gateway comes with each DHCP lease; Docker needs one anyway.
		resp.Data = map[string]string{DataGateway: dhcpSubnet.String()}
	case pool.PortGroup != "":
		resp.Data = map[string]string{DataGateway: netip.PrefixFrom(pool.Gateway, pool.Subnet.Bits()).String()}
	}
	return resp, nil
}

// ReleasePool forgets a pool and its leases. Unknown pools, and pools of other drivers, are
// already released.
func (d *Driver) ReleasePool(ctx context.Context, req *ipam.ReleasePoolRequest) error {
	if req == nil {
		req = &ipam.ReleasePoolRequest{}
	}
	ref, err := ParsePoolID(req.PoolID)
	if err != nil {
		return nil
	}
	d.noteSwarm(ref)
	pool, leases, err := d.deletePool(ctx, req.PoolID)
	if err != nil || !pool.DHCP {
		return err
	}
	return d.releaseDHCP(ctx, pool, leases)
}

func (d *Driver) deletePool(ctx context.Context, id string) (Pool, []Lease, error) {
	unlock, err := d.lock(ctx)
	if err != nil {
		return Pool{}, nil, err
	}
	defer unlock()
	var (
		pool   Pool
		leases []Lease
	)
	err = d.store.Update(ctx, func(tx Tx) error {
		p, ok, err := lookupPool(tx, id, true)
		if err != nil || !ok {
			return err
		}
		if leases, err = tx.Leases(id); err != nil {
			return err
		}
		pool = p
		return tx.DeletePool(id)
	})
	if err != nil {
		return Pool{}, nil, err
	}
	return pool, leases, nil
}

// poolPlan is a pool as requested, before the store is consulted: an invalid Subnet asks for the
// next free subnet of the bridge range.
type poolPlan struct {
	pool    Pool
	subPool netip.Prefix
}

// planPool checks a RequestPool against the VCH configuration.
func planPool(cfg *config.Config, opts poolOptions, req *ipam.RequestPoolRequest) (poolPlan, error) {
	if opts.portGroup != "" {
		return planContainerPool(cfg, opts.portGroup, req)
	}
	if isDefaultPool(req.Pool) {
		if req.SubPool != "" {
			return poolPlan{}, newError(ErrInvalid, "--ip-range %s needs --subnet", req.SubPool)
		}
		return poolPlan{}, nil
	}
	subnet, err := parseSubnet(req.Pool)
	if err != nil {
		return poolPlan{}, err
	}
	plan := poolPlan{pool: Pool{Subnet: subnet}}
	if req.SubPool == "" {
		return plan, nil
	}
	sub, err := netip.ParsePrefix(req.SubPool)
	switch {
	case err != nil || !sub.Addr().Is4():
		return poolPlan{}, newError(ErrInvalid, "--ip-range %q is not an IPv4 CIDR such as 172.20.5.0/24", req.SubPool)
	case sub != sub.Masked():
		return poolPlan{}, newError(ErrInvalid, "--ip-range %s is not a network address: use %s", sub, sub.Masked())
	case sub.Bits() < subnet.Bits() || !subnet.Contains(sub.Addr()):
		return poolPlan{}, newError(ErrInvalid, "--ip-range %s must lie inside --subnet %s", sub, subnet)
	}
	plan.subPool = sub
	plan.pool.Ranges = []config.IPRange{config.PrefixRange(sub)}
	if len(usableSpans(subnet, plan.pool.Ranges)) == 0 {
		return poolPlan{}, newError(ErrInvalid, "--ip-range %s holds only the network or broadcast address of --subnet %s", sub, subnet)
	}
	return plan, nil
}

// planContainerPool makes the pool of the container network on port group pg.
func planContainerPool(cfg *config.Config, pg string, req *ipam.RequestPoolRequest) (poolPlan, error) {
	n := cfg.ContainerNetwork(pg)
	switch {
	case n == nil:
		return poolPlan{}, newError(ErrInvalid, "port group %q is not a container network of this VCH: add it with docker vic configure --container-network", pg)
	case req.SubPool != "":
		return poolPlan{}, newError(ErrInvalid, "--ip-range %s cannot be set on container network %q: its ranges come from --container-network-ip-range", req.SubPool, pg)
	case n.DHCP():
		if !isDefaultPool(req.Pool) {
			return poolPlan{}, newError(ErrInvalid, "container network %q gets its addresses from its DHCP server and takes no --subnet", pg)
		}
		return poolPlan{pool: Pool{Subnet: dhcpSubnet, PortGroup: pg, DHCP: true}}, nil
	}
	subnet := n.Gateway.Masked()
	if !isDefaultPool(req.Pool) {
		asked, err := parseSubnet(req.Pool)
		if err != nil {
			return poolPlan{}, err
		}
		if asked != subnet {
			return poolPlan{}, newError(ErrInvalid, "subnet %s does not match container network %q, whose gateway %s sets the subnet %s", asked, pg, n.Gateway, subnet)
		}
	}
	return poolPlan{pool: Pool{
		Subnet:    subnet,
		Ranges:    slices.Clone(n.Ranges),
		Gateway:   n.Gateway.Addr(),
		PortGroup: pg,
	}}, nil
}

// sameSpace keeps the pools of one address space: the swarm's, or the engine's own.
func sameSpace(pools []Pool, swarm bool) []Pool {
	var out []Pool
	for _, p := range pools {
		if p.Swarm == swarm {
			out = append(out, p)
		}
	}
	return out
}

// placePool completes a plan against the pools already allocated (all, of both spaces) and
// the endpoint VM's own subnets: it picks the subnet of a default pool, refuses overlaps, and names the pool.
func placePool(cfg *config.Config, plan poolPlan, all []Pool, host []hostnets.Subnet) (Pool, error) {
	p := plan.pool
	// Each space refuses overlaps within itself (a node's pool repeats the swarm's). A subnet
	// the swarm picks by itself also keeps clear of the engine's own pools: every node would
	// then ask for it in its own space.
	pools, avoid := sameSpace(all, p.Swarm), sameSpace(all, p.Swarm)
	if p.Swarm {
		avoid = all
	}
	if p.PortGroup != "" {
		for _, o := range pools {
			if o.PortGroup == p.PortGroup {
				return Pool{}, newError(ErrConflict, "container network %q already has a Docker network (pool %q): each container network has exactly one", p.PortGroup, o.ID)
			}
		}
	}
	reserved := containerSubnets(cfg, p.PortGroup)
	switch {
	case p.DHCP:
	case !p.Subnet.IsValid():
		taken := make([]netip.Prefix, 0, len(avoid)+len(reserved))
		for _, o := range avoid {
			if !o.DHCP {
				taken = append(taken, o.Subnet)
			}
		}
		for _, r := range reserved {
			taken = append(taken, r.subnet)
		}
		taken = append(taken, hostnets.Prefixes(host)...)
		subnet, ok := nextSubnet(cfg.Bridge.Range, cfg.Bridge.Width, taken)
		if !ok {
			return Pool{}, newError(ErrExhausted, "the bridge range %s has no free /%d subnet left: remove unused networks, or pass --subnet", cfg.Bridge.Range, cfg.Bridge.Width)
		}
		p.Subnet = subnet
	default:
		if p.PortGroup == "" {
			if err := hostnets.Check(p.Subnet, host); err != nil {
				return Pool{}, newError(ErrConflict, "%s", err)
			}
		}
		if o, ok := overlapping(p.Subnet, pools); ok {
			return Pool{}, newError(ErrConflict, "subnet %s overlaps %s of another network: subnets of the vic IPAM driver cannot overlap", p.Subnet, o.where())
		}
		for _, r := range reserved {
			if r.subnet.Overlaps(p.Subnet) {
				return Pool{}, newError(ErrConflict, "subnet %s overlaps subnet %s of container network %q: those addresses belong to its port group", p.Subnet, r.subnet, r.portGroup)
			}
		}
	}
	nonce := newNonce()
	if p.Swarm {
		// The node asks for the same subnet in its own space: the IDs must differ.
		nonce = swarmNonce + nonce
	}
	p.ID = PoolRef{Subnet: p.Subnet, SubPool: plan.subPool, PortGroup: p.PortGroup, Nonce: nonce}.String()
	return p, nil
}

type reservedSubnet struct {
	subnet    netip.Prefix
	portGroup string
}

// containerSubnets returns the subnets of the static container networks other than except:
// no bridge network may take them, whether or not their Docker network exists yet.
func containerSubnets(cfg *config.Config, except string) []reservedSubnet {
	var out []reservedSubnet
	for _, n := range cfg.ContainerNetworks {
		if !n.DHCP() && n.PortGroup != except {
			out = append(out, reservedSubnet{n.Gateway.Masked(), n.PortGroup})
		}
	}
	return out
}

// isDefaultPool reports whether Docker asked for no particular subnet: none, or one whose
// address is unspecified (libnetwork reads 0.0.0.0/N that way too).
func isDefaultPool(s string) bool {
	if s == "" {
		return true
	}
	p, err := netip.ParsePrefix(s)
	return err == nil && p.Addr().IsUnspecified()
}

// parseSubnet checks a --subnet.
func parseSubnet(s string) (netip.Prefix, error) {
	p, err := netip.ParsePrefix(s)
	switch {
	case err != nil:
		return netip.Prefix{}, newError(ErrInvalid, "subnet %q is not a CIDR such as 172.20.0.0/16", s)
	case !p.Addr().Is4():
		return netip.Prefix{}, newError(ErrNotSupported, "subnet %s is IPv6, and IPv6 is not supported by the vic IPAM driver", p)
	case p != p.Masked():
		return netip.Prefix{}, newError(ErrInvalid, "subnet %s is not a network address: use %s", p, p.Masked())
	case p.Bits() > 30:
		return netip.Prefix{}, newError(ErrInvalid, "subnet %s is too small: the vic IPAM driver needs a /30 or larger, with room for a gateway and a container", p)
	}
	return p, nil
}
