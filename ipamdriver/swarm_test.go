package ipamdriver

import (
	"context"
	"net/netip"
	"strings"
	"testing"

	"github.com/docker/go-plugins-helpers/ipam"
)

// serialOpts are the options the swarm's allocator sends with every task address.
var serialOpts = map[string]string{OptionSerial: "true"}

// swarmState is what the swarm recorded of one network: its subnet, gateway and task
// addresses, as a new leader's allocator asks for them again.
type swarmState struct {
	pool    *ipam.RequestPoolResponse
	gateway string
	tasks   []string
}

// allocate makes a network in the swarm's space of d, as a leader's allocator does, with n tasks.
func allocate(t *testing.T, d *Driver, opts map[string]string, n int) swarmState {
	t.Helper()
	st := swarmState{pool: requestPool(t, d, ipam.RequestPoolRequest{AddressSpace: GlobalAddressSpace, Options: opts})}
	st.gateway = requestAddress(t, d, st.pool.PoolID, "", gatewayOpts)
	for range n {
		st.tasks = append(st.tasks, requestAddress(t, d, st.pool.PoolID, "", serialOpts))
	}
	return st
}

// restore asks d again for everything of st, as a new leader's allocator does, and checks that
// every answer is the recorded one; it returns the pool's ID.
func restore(t *testing.T, d *Driver, st swarmState, opts map[string]string) string {
	t.Helper()
	p := requestPool(t, d, ipam.RequestPoolRequest{AddressSpace: GlobalAddressSpace, Pool: st.pool.Pool, Options: opts})
	if p.Pool != st.pool.Pool {
		t.Fatalf("the re-requested pool = %s, want %s", p.Pool, st.pool.Pool)
	}
	gw := map[string]string{OptionRequestAddressType: RequestAddressTypeGateway, OptionSerial: "true"}
	if got := requestAddress(t, d, p.PoolID, bare(st.gateway), gw); got != st.gateway {
		t.Fatalf("the re-requested gateway = %s, want %s", got, st.gateway)
	}
	for _, a := range st.tasks {
		if got := requestAddress(t, d, p.PoolID, bare(a), serialOpts); got != a {
			t.Fatalf("the re-requested task address = %s, want %s", got, a)
		}
	}
	return p.PoolID
}

func bare(a string) string { return netip.MustParsePrefix(a).Addr().String() }

// A new leader's plugin starts with an empty swarm space: the allocator's requests for what the
// swarm recorded all succeed, and new tasks get other addresses.
func TestSwarmNewLeaderTakesTheRecordedAllocations(t *testing.T) {
	old := newDriver(t, testConfig(), nil, nil)
	st := allocate(t, old, nil, 5)

	leader := newDriver(t, testConfig(), nil, nil)
	id := restore(t, leader, st, nil)
	seen := map[string]bool{st.gateway: true}
	for _, a := range st.tasks {
		seen[a] = true
	}
	for range 5 {
		a := requestAddress(t, leader, id, "", serialOpts)
		if seen[a] {
			t.Fatalf("the new leader handed out %s a second time", a)
		}
		seen[a] = true
	}
}

// A plugin that starts with its engine marks the swarm's space stale: the allocator's requests
// claim it, answering as before; once claimed, a pool or an address is no longer handed to
// another request, and an unclaimed stale address is never handed to a new task.
func TestSwarmStaleAllocationsAreClaimedOnce(t *testing.T) {
	d := newDriver(t, testConfig(), nil, nil)
	st := allocate(t, d, nil, 4)
	if n, err := d.StaleSwarm(context.Background()); err != nil || n != 1 {
		t.Fatalf("StaleSwarm = %d, %v; want 1 pool marked", n, err)
	}
	restored := st
	restored.tasks = st.tasks[:3] // the 4th task ended while the engine was away
	if id := restore(t, d, restored, nil); id != st.pool.PoolID {
		t.Fatalf("the re-requested pool's ID = %s, want the recorded %s", id, st.pool.PoolID)
	}
	_, err := d.RequestPool(context.Background(), &ipam.RequestPoolRequest{AddressSpace: GlobalAddressSpace, Pool: st.pool.Pool})
	wantError(t, err, ErrConflict, "overlaps")
	_, err = d.RequestAddress(context.Background(), &ipam.RequestAddressRequest{PoolID: st.pool.PoolID, Address: bare(st.tasks[0]), Options: serialOpts})
	wantError(t, err, ErrConflict, "already in use")
	for range 10 {
		a := requestAddress(t, d, st.pool.PoolID, "", serialOpts)
		for _, old := range append(st.tasks, st.gateway) {
			if a == old {
				t.Fatalf("a new task got %s, which the swarm had handed out", a)
			}
		}
	}
}

// A stale pool that the allocator does not ask for again gives way to a subnet it asks for.
func TestSwarmStalePoolGivesWay(t *testing.T) {
	d := newDriver(t, testConfig(), nil, nil)
	gone := requestPool(t, d, ipam.RequestPoolRequest{AddressSpace: GlobalAddressSpace, Pool: "10.1.0.0/24"})
	if _, err := d.StaleSwarm(context.Background()); err != nil {
		t.Fatal(err)
	}
	p := requestPool(t, d, ipam.RequestPoolRequest{AddressSpace: GlobalAddressSpace, Pool: "10.1.0.0/16"})
	for _, id := range poolIDs(t, d) {
		if id == gone.PoolID {
			t.Fatalf("the stale pool %s stayed beside %s", id, p.PoolID)
		}
	}
}

// Once the engine has led long enough, the marks are cleared: nothing is claimed any more.
func TestSwarmKeepEndsTheClaims(t *testing.T) {
	d := newDriver(t, testConfig(), nil, nil)
	st := allocate(t, d, nil, 2)
	ctx := context.Background()
	if _, err := d.StaleSwarm(ctx); err != nil {
		t.Fatal(err)
	}
	if n, err := d.KeepSwarm(ctx); err != nil || n != 1 {
		t.Fatalf("KeepSwarm = %d, %v; want 1 pool unmarked", n, err)
	}
	if n, err := d.KeepSwarm(ctx); err != nil || n != 0 {
		t.Fatalf("KeepSwarm again = %d, %v; want nothing left to unmark", n, err)
	}
	_, err := d.RequestPool(ctx, &ipam.RequestPoolRequest{AddressSpace: GlobalAddressSpace, Pool: st.pool.Pool})
	wantError(t, err, ErrConflict, "overlaps")
	_, err = d.RequestAddress(ctx, &ipam.RequestAddressRequest{PoolID: st.pool.PoolID, Address: bare(st.tasks[1])})
	wantError(t, err, ErrConflict, "already in use")
}

// A plugin whose engine does not lead the swarm forgets the swarm's space and keeps its own,
// unless the swarm's allocator asked for something since it read the fence.
func TestSwarmForgetIsFenced(t *testing.T) {
	d := newDriver(t, testConfig(), nil, nil)
	ctx := context.Background()
	st := allocate(t, d, nil, 2)
	node := requestPool(t, d, ipam.RequestPoolRequest{AddressSpace: LocalAddressSpace, Pool: st.pool.Pool})
	fence := d.SwarmRequests()
	requestAddress(t, d, st.pool.PoolID, "", serialOpts) // the engine became the leader meanwhile
	if n, err := d.ForgetSwarm(ctx, fence); err != nil || n != 0 {
		t.Fatalf("ForgetSwarm after a swarm request = %d, %v; want nothing forgotten", n, err)
	}
	if n, err := d.ForgetSwarm(ctx, d.SwarmRequests()); err != nil || n != 1 {
		t.Fatalf("ForgetSwarm = %d, %v; want the swarm's pool forgotten", n, err)
	}
	if ids := poolIDs(t, d); len(ids) != 1 || ids[0] != node.PoolID {
		t.Fatalf("pools after ForgetSwarm = %v, want only the engine's own %s", ids, node.PoolID)
	}
	// Leading again, with nothing stale: the allocator's requests start afresh.
	restore(t, d, st, nil)
}

// A static container network's addresses stay unique across a change of leader: the new
// leader takes the recorded ones and hands the rest of the range to new tasks.
func TestSwarmStaticContainerNetworkAcrossLeaders(t *testing.T) {
	cn := map[string]string{OptionPortGroup: "cn-static"}
	old := newDriver(t, testConfig(), nil, nil)
	st := allocate(t, old, cn, 2)

	leader := newDriver(t, testConfig(), nil, nil)
	id := restore(t, leader, st, cn)
	if a := requestAddress(t, leader, id, "", serialOpts); a != "198.51.100.12/24" {
		t.Fatalf("a new task on the new leader got %s, want the range's last free 198.51.100.12/24", a)
	}
	_, err := leader.RequestAddress(context.Background(), &ipam.RequestAddressRequest{PoolID: id, Options: serialOpts})
	wantError(t, err, ErrExhausted, "no free address left")

	// The old leader's engine starts again and leads: its stale pool is claimed by the
	// allocator's request for the container network.
	if _, err := old.StaleSwarm(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := restore(t, old, st, cn); got != st.pool.PoolID {
		t.Fatalf("the re-requested container network's pool = %s, want %s", got, st.pool.PoolID)
	}
}

// The pools rebuilt from the engine's networks are the engine's own: an ID of the swarm's space
// never adopts one.
func TestRebuiltPoolsStayOutOfTheSwarmsSpace(t *testing.T) {
	d := newDriver(t, testConfig(), nil, nil)
	ctx := context.Background()
	subnet := netip.MustParsePrefix("172.20.0.0/16")
	if _, err := d.Rebuild(ctx, []FoundNetwork{{Name: "web", Subnet: subnet, Gateway: netip.MustParseAddr("172.20.0.1")}}); err != nil {
		t.Fatal(err)
	}
	swarmID := PoolRef{Subnet: subnet, Nonce: swarmNonce + "0a0b0c0d"}.String()
	_, err := d.RequestAddress(ctx, &ipam.RequestAddressRequest{PoolID: swarmID, Options: serialOpts})
	wantError(t, err, ErrUnknownPool, "is unknown to the vic IPAM driver")
	localID := PoolRef{Subnet: subnet, Nonce: "0a0b0c0d"}.String()
	if a := requestAddress(t, d, localID, "", macOpts("02:42:ac:14:00:02")); !strings.HasPrefix(a, "172.20.") {
		t.Fatalf("the engine's own pool %s answered %s", localID, a)
	}
}

// On the swarm's leader, the swarm's space is rebuilt beside the engine's own from the swarm's
// networks and tasks: the allocator's IDs adopt the swarm's pools, which keep the tasks'
// addresses, and the engine's IDs adopt the engine's pools.
func TestRebuildKeepsTheSpacesApart(t *testing.T) {
	d := newDriver(t, testConfig(), nil, nil)
	ctx := context.Background()
	subnet := netip.MustParsePrefix("172.20.0.0/16")
	gw := netip.MustParseAddr("172.20.0.1")
	found := func(a string) FoundAddress { return FoundAddress{Address: netip.MustParsePrefix(a)} }
	skipped, err := d.Rebuild(ctx, []FoundNetwork{
		{Name: "web", Subnet: subnet, Gateway: gw, Addresses: []FoundAddress{found("172.20.0.3/16")}},
		{Name: "web", Subnet: subnet, Gateway: gw, Swarm: true, Addresses: []FoundAddress{found("172.20.0.2/16"), found("172.20.0.3/16"), found("172.20.0.4/16")}},
		{Name: "swdhcp", PortGroup: "cn-dhcp", Swarm: true, Addresses: []FoundAddress{found("0.0.0.0/0")}},
	})
	if err != nil || len(skipped) != 0 {
		t.Fatalf("Rebuild = %v, %v", skipped, err)
	}
	swarmID := PoolRef{Subnet: subnet, Nonce: swarmNonce + "0a0b0c0d"}.String()
	if a := requestAddress(t, d, swarmID, "", serialOpts); a != "172.20.0.5/16" {
		t.Fatalf("a new task of the swarm got %s, want 172.20.0.5/16 past the swarm's tasks", a)
	}
	localID := PoolRef{Subnet: subnet, Nonce: "0a0b0c0d"}.String()
	if a := requestAddress(t, d, localID, "172.20.0.4", macOpts("02:42:ac:14:00:04")); a != "172.20.0.4/16" {
		t.Fatalf("the node's request for the swarm's 172.20.0.4 = %s", a)
	}
	leases, err := d.Leases(ctx, PoolRef{Subnet: dhcpSubnet, PortGroup: "cn-dhcp", Nonce: swarmNonce + rebuiltNonce}.String())
	if err != nil || len(leases) != 0 {
		t.Fatalf("the swarm's DHCP pool holds %v, %v; want nothing", leases, err)
	}
}

// The swarm's pools rebuilt on an engine that then becomes the leader (or starts again as the
// leader) are claimed by its allocator's requests, as stale pools are.
func TestRebuiltSwarmPoolsAreClaimed(t *testing.T) {
	d := newDriver(t, testConfig(), nil, nil)
	ctx := context.Background()
	st := swarmState{
		pool:    &ipam.RequestPoolResponse{Pool: "172.20.0.0/16"},
		gateway: "172.20.0.1/16",
		tasks:   []string{"172.20.0.2/16", "172.20.0.3/16"},
	}
	n := FoundNetwork{Name: "web", Subnet: netip.MustParsePrefix(st.pool.Pool), Gateway: netip.MustParseAddr("172.20.0.1"), Swarm: true}
	for _, a := range st.tasks {
		n.Addresses = append(n.Addresses, FoundAddress{Address: netip.MustParsePrefix(a)})
	}
	if _, err := d.Rebuild(ctx, []FoundNetwork{n}); err != nil {
		t.Fatal(err)
	}
	id := restore(t, d, st, nil)
	if a := requestAddress(t, d, id, "", serialOpts); a != "172.20.0.4/16" {
		t.Fatalf("a new task got %s, want 172.20.0.4/16", a)
	}
}

// A swarm node powered off holds its pools of the swarm's networks when it comes back, and its
// engine asks for them again: refused as overlaps at first (the fault an endpoint VM's
// power-off showed), they give way once the node's space is marked stale at the start.
func TestNodePoolsHeldBeforeAStartGiveWay(t *testing.T) {
	ctx := context.Background()
	d := newDriver(t, testConfig(), nil, nil)
	old := requestPool(t, d, ipam.RequestPoolRequest{AddressSpace: LocalAddressSpace, Pool: "172.16.0.0/16"})
	requestAddress(t, d, old.PoolID, "172.16.0.3", nil)
	again := ipam.RequestPoolRequest{AddressSpace: LocalAddressSpace, Pool: "172.16.0.0/16"}
	if _, err := d.RequestPool(ctx, &again); err == nil || !strings.Contains(err.Error(), "overlaps") {
		t.Fatalf("asking again before the start = %v, want the overlap", err)
	}
	if n, err := d.StaleLocal(ctx); err != nil || n != 1 {
		t.Fatalf("StaleLocal = %d, %v", n, err)
	}
	p := requestPool(t, d, again)
	if got := requestAddress(t, d, p.PoolID, "172.16.0.3", nil); got != "172.16.0.3/16" {
		t.Fatalf("the old task's address in the new pool = %s", got)
	}
	if ids := poolIDs(t, d); len(ids) != 1 || ids[0] != p.PoolID {
		t.Fatalf("pools after the request: %v, want only %s", ids, p.PoolID)
	}
	// A pool in use since the start is not stale: an overlap is refused again.
	if _, err := d.RequestPool(ctx, &again); err == nil {
		t.Fatal("a second network of the same subnet was given a pool")
	}
}
