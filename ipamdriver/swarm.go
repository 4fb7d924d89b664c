package ipamdriver

import (
	"context"
	"fmt"
	"strings"
)

// The swarm's space (GlobalAddressSpace) holds what the allocator of the swarm's leader asked
// for. Only the leader runs an allocator, and a new one starts empty: when a manager becomes
// the leader (or the leader's engine starts again) its allocator asks again, in order, for the
// pool of every network the swarm allocated (RequestPool with the subnet and --ip-range the
// swarm recorded), for its gateway (by address), and for the address of every task that has
// not ended (by address, with no MAC) — tasks of the old leader included; it never releases
// what an allocator before it held. Hence three rules, which the daemon applies as it sees
// its engine's role (endpoint/daemon):
//
//   - an engine that is not the swarm's leader holds nothing in that space (ForgetSwarm): an
//     old leader keeps no allocation that would block or duplicate the day it leads again;
//   - what the space held when the plugin started with its engine may belong to an allocator
//     that stopped (StaleSwarm): the allocator's requests claim it, a pool asked for again by
//     subnet or by ID and an address asked for again by address each answer as before, and a
//     stale pool that overlaps a subnet asked for gives way to it;
//   - once the engine has led long enough for its allocator to have asked again, KeepSwarm
//     clears the marks left: what nobody claimed is kept, never handed out, rather than freed.
//
// A state rebuild on the swarm's leader makes the swarm's pools again from the swarm's record,
// stale as well (rebuild.go).
//
// A new task never gets a stale address: only a request naming that address claims it.

// swarmNonce starts the nonce of the PoolID of every pool of the swarm's space.
const swarmNonce = "swarm"

// isSwarmRef reports whether a PoolID names a pool of the swarm's space.
func isSwarmRef(r PoolRef) bool { return strings.HasPrefix(r.Nonce, swarmNonce) }

// SwarmRequests returns how many requests in the swarm's space the driver has received: read
// it before asking Docker whether the engine leads the swarm, and pass it to ForgetSwarm.
func (d *Driver) SwarmRequests() uint64 { return d.swarmRequests.Load() }

// noteSwarm counts a request naming pool ref, if it is the swarm's.
func (d *Driver) noteSwarm(ref PoolRef) {
	if isSwarmRef(ref) {
		d.swarmRequests.Add(1)
	}
}

// ForgetSwarm removes every pool and address of the swarm's space, for an engine that is not
// the swarm's leader, unless a request in that space arrived since SwarmRequests returned
// fence: only a leader's allocator asks there, so the engine has become the leader meanwhile.
// It returns how many pools it removed.
func (d *Driver) ForgetSwarm(ctx context.Context, fence uint64) (int, error) {
	return d.eachSwarmPool(ctx, "forgetting", anyPool, func(tx Tx, p Pool) (bool, error) {
		if d.SwarmRequests() != fence {
			return false, errFenced
		}
		return true, tx.DeletePool(p.ID)
	})
}

// StaleSwarm marks every pool and address of the swarm's space stale, when the plugin starts
// with its engine: the allocator that made them may have stopped. It returns how many pools
// it marked.
func (d *Driver) StaleSwarm(ctx context.Context) (int, error) {
	return d.eachSwarmPool(ctx, "marking stale", anyPool, func(tx Tx, p Pool) (bool, error) {
		return true, markPool(tx, p, true)
	})
}

// StaleLocal marks every pool of the engine's own space stale, when the plugin of a swarm
// node starts with its engine: every vic network of a swarm node is one of the swarm's, which
// the engine does not keep across its restart and asks for again, pool and all, when a task
// needs it; a pool held from before (the node stopped without releasing it: a power-off, a
// crash) must not make that subnet look taken. A stale pool of this space is never claimed: it
// gives way to a request that overlaps it or holds its container network (dropStaleLocal). It
// returns how many pools it marked.
func (d *Driver) StaleLocal(ctx context.Context) (int, error) {
	return d.eachPool(ctx, "marking stale", "the node's", false, isFresh, func(tx Tx, p Pool) (bool, error) {
		return !p.Stale, markPool(tx, p, true)
	})
}

// isFresh selects the pools not marked stale.
func isFresh(_ Tx, p Pool) (bool, error) { return !p.Stale, nil }

// dropStaleLocal removes the stale pools of the engine's own space that a RequestPool of that
// space overlaps, or whose container network it asks for (StaleLocal): pools is every pool,
// and the ones left are returned.
func dropStaleLocal(tx Tx, plan poolPlan, pools []Pool) ([]Pool, error) {
	want := plan.pool
	if want.Swarm {
		return pools, nil
	}
	kept := pools[:0:0]
	for _, o := range pools {
		samePortGroup := o.PortGroup != "" && o.PortGroup == want.PortGroup
		overlaps := !o.DHCP && !want.DHCP && want.Subnet.IsValid() && o.Subnet.Overlaps(want.Subnet)
		if !o.Swarm && o.Stale && (samePortGroup || overlaps) {
			if err := tx.DeletePool(o.ID); err != nil {
				return nil, err
			}
			continue
		}
		kept = append(kept, o)
	}
	return kept, nil
}

// KeepSwarm clears the stale marks of the swarm's space: what the allocator did not claim is
// kept. It returns how many pools held marks.
func (d *Driver) KeepSwarm(ctx context.Context) (int, error) {
	return d.eachSwarmPool(ctx, "keeping", isStale, func(tx Tx, p Pool) (bool, error) {
		stale, err := isStale(tx, p)
		if err != nil || !stale {
			return false, err
		}
		return true, markPool(tx, p, false)
	})
}

// errFenced stops ForgetSwarm: the swarm's allocator asked for something meanwhile.
var errFenced = fmt.Errorf("the swarm's allocator asked meanwhile")

// anyPool selects every pool of the swarm's space.
func anyPool(Tx, Pool) (bool, error) { return true, nil }

// isStale selects the pools of the swarm's space that are stale or hold a stale address.
func isStale(tx Tx, p Pool) (bool, error) {
	if p.Stale {
		return true, nil
	}
	leases, err := tx.Leases(p.ID)
	for _, l := range leases {
		if l.Stale {
			return true, err
		}
	}
	return false, err
}

// eachSwarmPool runs fn on every pool of the swarm's space (eachPool).
func (d *Driver) eachSwarmPool(ctx context.Context, what string, need, fn func(Tx, Pool) (bool, error)) (int, error) {
	return d.eachPool(ctx, what, "the swarm's", true, need, fn)
}

// eachPool runs fn on every pool of one space (the swarm's when swarm, else the node's own)
// in one transaction and counts the pools fn reports it changed. errFenced from fn drops the
// transaction and counts nothing. When need selects none of them, nothing is written: the
// daemon asks every few seconds. space names the space in errors.
func (d *Driver) eachPool(ctx context.Context, what, space string, swarm bool, need, fn func(Tx, Pool) (bool, error)) (int, error) {
	needed := false
	err := d.store.View(ctx, func(tx Tx) error {
		pools, err := tx.Pools()
		for _, p := range pools {
			if err == nil && p.Swarm == swarm && !needed {
				needed, err = need(tx, p)
			}
		}
		return err
	})
	if err != nil || !needed {
		return 0, err
	}
	unlock, err := d.lock(ctx)
	if err != nil {
		return 0, err
	}
	defer unlock()
	n := 0
	err = d.store.Update(ctx, func(tx Tx) error {
		pools, err := tx.Pools()
		if err != nil {
			return err
		}
		for _, p := range pools {
			if p.Swarm != swarm {
				continue
			}
			changed, err := fn(tx, p)
			if err != nil {
				return err
			}
			if changed {
				n++
			}
		}
		return nil
	})
	switch {
	case err == errFenced:
		return 0, nil
	case err != nil:
		return 0, fmt.Errorf("%s %s pools of the vic IPAM driver: %w", what, space, err)
	}
	return n, nil
}

// markPool sets or clears the stale mark of pool p and of its addresses.
func markPool(tx Tx, p Pool, stale bool) error {
	leases, err := tx.Leases(p.ID)
	if err != nil {
		return err
	}
	p.Stale = stale
	if err := tx.PutPool(p); err != nil {
		return err
	}
	for _, l := range leases {
		if l.Stale != stale {
			l.Stale = stale
			if err := tx.PutLease(l); err != nil {
				return err
			}
		}
	}
	return nil
}

// claimSwarmPool answers a RequestPool of the swarm's space that asks again for a stale pool:
// the same subnet, sub-pool and port group. That pool, claimed, is returned with true. Stale
// pools that overlap the plan otherwise (or hold its container network) give way to it and
// are removed. pools are all the pools; the ones left are returned.
func claimSwarmPool(tx Tx, plan poolPlan, pools []Pool) (Pool, bool, []Pool, error) {
	want := plan.pool
	if !want.Swarm || !want.Subnet.IsValid() {
		return Pool{}, false, pools, nil
	}
	kept := pools[:0:0]
	for _, o := range pools {
		if !o.Swarm || !o.Stale {
			kept = append(kept, o)
			continue
		}
		ref, err := ParsePoolID(o.ID)
		if err == nil && o.Subnet == want.Subnet && o.PortGroup == want.PortGroup && ref.SubPool == plan.subPool {
			o.Stale, o.Rebuilt = false, false
			if o.PortGroup != "" { // the configuration's ranges and gateway, as planned
				o.Ranges, o.Gateway = want.Ranges, want.Gateway
			}
			return o, true, pools, tx.PutPool(o)
		}
		samePortGroup := o.PortGroup != "" && o.PortGroup == want.PortGroup
		if samePortGroup || !o.DHCP && !want.DHCP && o.Subnet.Overlaps(want.Subnet) {
			if err := tx.DeletePool(o.ID); err != nil {
				return Pool{}, false, nil, err
			}
			continue
		}
		kept = append(kept, o)
	}
	return Pool{}, false, kept, nil
}

// claimSwarmLease answers a RequestAddress that names a stale address of pool p, which the
// swarm's allocator asks for again: that lease, claimed, with true.
func claimSwarmLease(tx Tx, p *Pool, want Lease) (Lease, bool, error) {
	if !p.Swarm || !want.Address.IsValid() {
		return Lease{}, false, nil
	}
	l, ok, err := tx.Lease(p.ID, want.Address)
	if err != nil || !ok || !l.Stale {
		return Lease{}, false, err
	}
	l.Stale, l.Gateway = false, want.Gateway
	if want.Gateway && p.PortGroup == "" {
		p.Gateway = want.Address
	}
	return l, true, tx.PutLease(l)
}
