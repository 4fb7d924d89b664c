package netdriver

import (
	"context"
	"testing"
)

// A spanning network's frames cross the bridge port group's interface: an MTU above its MTU is
// refused in one sentence, before anything is made, and a network without one takes the
// interface's when it is smaller than Linux's default. A network of one endpoint is not bound.
func TestSpanningNetworkFitsTheUplinkMTU(t *testing.T) {
	ctx := context.Background()
	r := newRig(t)
	r.links.mtu = 1400
	d, _ := swarmDriver(t, r, "ens224")
	mtu := func(v string) map[string]any { return map[string]any{optGeneric: map[string]any{OptionMTU: v}} }

	err := d.CreateNetwork(ctx, createReq(netA, "172.20.0.0/16", "172.20.0.1/16", mtu("9000")))
	want := "network aaaaaaaaaaaa: option com.docker.network.driver.mtu=9000 is above the MTU 1400 of the bridge port group's interface ens224, which carries the network to the other endpoints: give 1400 or less"
	if err == nil || err.Error() != want {
		t.Fatalf("create = %v\nwant %s", err, want)
	}
	if len(r.links.links) != 0 || len(d.networks) != 0 {
		t.Fatalf("a refused network left links %v, networks %v", r.links.links, d.networks)
	}
	must(t, d.CreateNetwork(ctx, createReq(netA, "172.20.0.0/16", "172.20.0.1/16", nil)))
	if got := d.networks[netA].MTU; got != 1400 {
		t.Fatalf("a network without an MTU has %d, want the uplink's 1400", got)
	}
	must(t, d.CreateNetwork(ctx, createReq(netA, "172.20.0.0/16", "172.20.0.1/16", nil))) // repeated: converges

	r2 := newRig(t)
	r2.links.mtu = 1400
	single, err := New(Options{Store: r2.store, Links: r2.links, Firewall: r2.firewall, Holder: r2.holder, Public: public})
	must(t, err)
	must(t, single.CreateNetwork(ctx, createReq(netB, "172.21.0.0/16", "172.21.0.1/16", mtu("9000"))))
}
