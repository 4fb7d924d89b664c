package ipamdriver

import (
	"context"
	"net/netip"
	"slices"
	"strings"
	"testing"

	"github.com/docker/go-plugins-helpers/ipam"
)

// dockerView is what one network looks like to a user of Docker's API (no PoolID), and the
// PoolID Docker holds for it.
type dockerView struct {
	poolID string
	found  FoundNetwork
}

// beforeTheLoss creates, on d, what a user made before the state database was lost: a default
// bridge network with two containers, a --subnet --ip-range one with one, and the two container
// networks with one container each. The nonces make each PoolID one Docker alone knows.
func beforeTheLoss(t *testing.T, d *Driver) []dockerView {
	t.Helper()
	defer func(old func() string) { newNonce = old }(newNonce)
	n := 0
	newNonce = func() string { n++; return strings.Repeat("a", 7) + string(rune('0'+n)) }
	var views []dockerView
	add := func(name string, req ipam.RequestPoolRequest, macs ...string) {
		resp := requestPool(t, d, req)
		gw := requestAddress(t, d, resp.PoolID, "", gatewayOpts)
		v := dockerView{poolID: resp.PoolID, found: FoundNetwork{Name: name, Subnet: netip.MustParsePrefix(resp.Pool), PortGroup: req.Options[OptionPortGroup]}}
		if req.SubPool != "" {
			v.found.SubPool = netip.MustParsePrefix(req.SubPool)
		}
		if g := netip.MustParsePrefix(gw); g.Bits() > 0 {
			v.found.Gateway = g.Addr()
		}
		for _, mac := range macs {
			a := requestAddress(t, d, resp.PoolID, "", macOpts(mac))
			v.found.Addresses = append(v.found.Addresses, FoundAddress{Address: netip.MustParsePrefix(a), MAC: mac})
		}
		views = append(views, v)
	}
	add("web", ipam.RequestPoolRequest{}, "02:42:ac:10:00:02", "02:42:ac:10:00:03")
	add("ranged", ipam.RequestPoolRequest{Pool: "172.30.0.0/16", SubPool: "172.30.5.0/24"}, "02:42:ac:1e:05:01")
	add("static", ipam.RequestPoolRequest{Options: map[string]string{OptionPortGroup: "cn-static"}}, "02:00:00:00:00:01")
	add("dhcp", ipam.RequestPoolRequest{Options: map[string]string{OptionPortGroup: "cn-dhcp"}}, "02:00:00:00:00:02")
	return views
}

func founds(views []dockerView) []FoundNetwork {
	var out []FoundNetwork
	for _, v := range views {
		out = append(out, v.found)
	}
	return out
}

func rebuild(t *testing.T, d *Driver, nets []FoundNetwork) {
	t.Helper()
	skipped, err := d.Rebuild(context.Background(), nets)
	if err != nil || len(skipped) > 0 {
		t.Fatalf("Rebuild: %v, skipped %v", err, skipped)
	}
}

func TestRebuiltPoolsHoldWhatDockerUses(t *testing.T) {
	ctx := context.Background()
	src := newFakeLeases()
	views := beforeTheLoss(t, newDriver(t, testConfig(), nil, src))

	// The state is lost: a new driver on an empty store, rebuilt from Docker's view.
	d := newDriver(t, testConfig(), nil, src)
	rebuild(t, d, founds(views))

	// A new network never takes a subnet in use.
	if got := requestPool(t, d, ipam.RequestPoolRequest{}).Pool; got != "172.17.0.0/16" {
		t.Fatalf("a new network got %s, want 172.17.0.0/16: the next subnet past those in use", got)
	}
	if _, err := d.RequestPool(ctx, &ipam.RequestPoolRequest{Pool: "172.30.0.0/24"}); err == nil {
		t.Fatal("a new network took a subnet inside 172.30.0.0/16, which a network uses")
	}
	if _, err := d.RequestPool(ctx, &ipam.RequestPoolRequest{Options: map[string]string{OptionPortGroup: "cn-static"}}); err == nil {
		t.Fatal("container network cn-static got a second Docker network")
	}
	// Docker presents the PoolIDs it holds: new addresses are new, and in the right ranges.
	for _, v := range views {
		if v.found.PortGroup == "cn-dhcp" {
			continue
		}
		a := netip.MustParsePrefix(requestAddress(t, d, v.poolID, "", nil)).Addr()
		for _, old := range v.found.Addresses {
			if old.Address.Addr() == a {
				t.Fatalf("network %s handed out %s again after the rebuild", v.found.Name, a)
			}
		}
		if a == v.found.Gateway {
			t.Fatalf("network %s handed out its gateway %s after the rebuild", v.found.Name, a)
		}
		if v.found.SubPool.IsValid() && !v.found.SubPool.Contains(a) {
			t.Fatalf("network %s handed out %s outside its --ip-range %s", v.found.Name, a, v.found.SubPool)
		}
	}
	dhcp := views[3]
	if got := requestAddress(t, d, dhcp.poolID, "", macOpts("02:00:00:00:00:09")); got == dhcp.found.Addresses[0].Address.String() {
		t.Fatalf("the DHCP network recorded %s twice", got)
	}
	ids := poolIDs(t, d)
	for _, v := range views {
		if !slices.Contains(ids, v.poolID) {
			t.Fatalf("pool %s did not take the ID Docker holds: pools are %q", v.found.Name, ids)
		}
	}
	pools, _ := d.Pools(ctx)
	for _, p := range pools {
		if p.Rebuilt {
			t.Errorf("pool %s still counts as rebuilt after Docker named it", p.ID)
		}
	}
}

func TestRebuiltPoolsAreReleasedByTheIDsDockerHolds(t *testing.T) {
	ctx := context.Background()
	src := newFakeLeases()
	views := beforeTheLoss(t, newDriver(t, testConfig(), nil, src))
	d := newDriver(t, testConfig(), nil, src)
	rebuild(t, d, founds(views))

	// docker rm of every container, then docker network rm: in Docker's order.
	for _, v := range views {
		for _, a := range v.found.Addresses {
			if err := d.ReleaseAddress(ctx, &ipam.ReleaseAddressRequest{PoolID: v.poolID, Address: a.Address.Addr().String()}); err != nil {
				t.Fatal(err)
			}
		}
		if v.found.Gateway.IsValid() {
			if err := d.ReleaseAddress(ctx, &ipam.ReleaseAddressRequest{PoolID: v.poolID, Address: v.found.Gateway.String()}); err != nil {
				t.Fatal(err)
			}
		}
		leases, err := d.Leases(ctx, v.poolID)
		if err != nil || len(leases) != 0 {
			t.Fatalf("network %s keeps leases %v after its containers and gateway went (%v)", v.found.Name, leases, err)
		}
		if err := d.ReleasePool(ctx, &ipam.ReleasePoolRequest{PoolID: v.poolID}); err != nil {
			t.Fatal(err)
		}
	}
	if ids := poolIDs(t, d); len(ids) != 0 {
		t.Fatalf("pools %q are left after every network was removed", ids)
	}
	if got := src.released; !slices.Contains(got, "cn-dhcp 02:00:00:00:00:02 203.0.113.10") {
		t.Errorf("the rebuilt DHCP lease was not given back to the server: released %q", got)
	}
}

func TestAdoptionTakesOnlyTheSameSubnetOnce(t *testing.T) {
	ctx := context.Background()
	d := newDriver(t, testConfig(), nil, nil)
	rebuild(t, d, []FoundNetwork{{Name: "web", Subnet: netip.MustParsePrefix("172.16.0.0/16"), Gateway: netip.MustParseAddr("172.16.0.1")}})
	for _, id := range []string{"vic/172.17.0.0/16#0000aaaa", "vic/172.16.0.0/16/172.16.5.0/24#0000aaaa", "vic/172.16.0.0/16#0000aaaa@cn-static"} {
		_, err := d.RequestAddress(ctx, &ipam.RequestAddressRequest{PoolID: id})
		wantError(t, err, ErrUnknownPool, "is unknown to the vic IPAM driver")
	}
	requestAddress(t, d, "vic/172.16.0.0/16#0000bbbb", "", nil)
	// Once adopted, the pool is Docker's: a stale ID of the same subnet is unknown.
	_, err := d.RequestAddress(ctx, &ipam.RequestAddressRequest{PoolID: "vic/172.16.0.0/16#0000cccc"})
	wantError(t, err, ErrUnknownPool, "is unknown to the vic IPAM driver")
}

func TestRebuildSkipsWhatDoesNotFit(t *testing.T) {
	ctx := context.Background()
	d := newDriver(t, testConfig(), nil, nil)
	requestPool(t, d, ipam.RequestPoolRequest{}) // replaced by the rebuild
	skipped, err := d.Rebuild(ctx, []FoundNetwork{
		{Name: "a", Subnet: netip.MustParsePrefix("172.20.0.0/16"), Gateway: netip.MustParseAddr("172.20.0.1"), Addresses: []FoundAddress{
			{Address: netip.MustParsePrefix("172.20.0.2/16")},
			{Address: netip.MustParsePrefix("172.20.0.2/16")},
			{Address: netip.MustParsePrefix("172.21.0.2/16")},
		}},
		{Name: "b", Subnet: netip.MustParsePrefix("172.20.128.0/17")},
	})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range skipped {
		got = append(got, e.Error())
	}
	want := []string{
		`address 172.20.0.2 of network "a": another container or the gateway holds it too`,
		`address 172.21.0.2 of network "a": it is outside subnet 172.20.0.0/16`,
		`network "b": subnet 172.20.128.0/17 overlaps subnet 172.20.0.0/16`,
	}
	if !slices.Equal(got, want) {
		t.Fatalf("skipped:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if ids := poolIDs(t, d); !slices.Equal(ids, []string{"vic/172.20.0.0/16#rebuilt"}) {
		t.Fatalf("pools after the rebuild = %q, want the one rebuilt pool alone", ids)
	}
}

// The rebuilt pools live in the bbolt store, and a DHCP request's first look at its pool, in a
// read-only transaction, finds the pool it will adopt.
func TestRebuildInTheBoltStore(t *testing.T) {
	src := newFakeLeases()
	views := beforeTheLoss(t, newDriver(t, testConfig(), nil, src))
	s := newBoltStore(t, openBolt(t, t.TempDir()+"/state.db"))
	d := newDriver(t, testConfig(), s, src)
	rebuild(t, d, founds(views))
	requestAddress(t, d, views[3].poolID, "", macOpts("02:00:00:00:00:09"))
	requestAddress(t, d, views[0].poolID, "", nil)
	ids := poolIDs(t, d)
	for _, want := range []string{views[3].poolID, views[0].poolID} {
		if !slices.Contains(ids, want) {
			t.Fatalf("pools %q lack %s", ids, want)
		}
	}
}
