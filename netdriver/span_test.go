package netdriver

import (
	"context"
	"strings"
	"testing"

	"github.com/docker/go-plugins-helpers/network"

	"github.com/docker-vic/docker-vic/endpoint/link"
	"github.com/docker-vic/docker-vic/endpoint/span"
)

type fakeSpans struct{ nets []span.Net }

func (f *fakeSpans) Apply(nets []span.Net) error { f.nets = nets; return nil }
func (f *fakeSpans) Holds(nets []span.Net) (bool, error) {
	return len(f.nets) == len(nets), nil
}

// swarmDriver is the rig's driver as a swarm node with uplink (none when "").
func swarmDriver(t *testing.T, r *rig, uplink string) (*Driver, *fakeSpans) {
	t.Helper()
	spans := &fakeSpans{}
	d, err := New(Options{Store: r.store, Links: r.links, Firewall: r.firewall, Holder: r.holder, Public: public,
		Swarm: true, Uplink: uplink, Spans: spans})
	if err != nil {
		t.Fatal(err)
	}
	return d, spans
}

// In a swarm, a bridge network spans the endpoints: its bridge joins the trunk that holds the
// bridge port group's interface, under a filter that knows its subnet and gateway, and it lets
// its frames through the trunk unmasqueraded. Deleting the last one takes the trunk with it.
func TestSwarmBridgeNetworksSpanTheEndpoints(t *testing.T) {
	ctx := context.Background()
	r := newRig(t)
	d, spans := swarmDriver(t, r, "ens224")
	must(t, d.CreateNetwork(ctx, createReq(netA, "172.20.0.0/16", "172.20.0.1/16", nil)))
	must(t, d.CreateNetwork(ctx, createReq(netB, "172.21.0.0/16", "172.21.0.1/16", nil)))
	for name, want := range map[string]string{
		link.TrunkName:          "trunk ens224",
		link.SpanPortName(netA): "span " + link.BridgeName(netA),
		link.WireName(netB):     "wire " + link.TrunkName,
	} {
		if got := r.links.links[name]; got != want {
			t.Fatalf("link %s = %q, want %q (links: %v)", name, got, want, r.links.links)
		}
	}
	gateways := map[string]bool{}
	for _, n := range spans.nets {
		gateways[n.Gateway.String()] = true
	}
	if len(spans.nets) != 2 || !gateways["172.20.0.1"] || !gateways["172.21.0.1"] {
		t.Fatalf("the span filter holds %+v, want both networks with their gateways", spans.nets)
	}
	for _, n := range r.firewall.state.Networks {
		if n.Trunk != link.TrunkName {
			t.Fatalf("the rules of %s do not let the trunk through: %+v", n.Bridge, n)
		}
	}
	if mac := GatewayMAC(netA); mac[0]&0x03 != 0x02 || mac.String() != GatewayMAC(netA).String() || mac.String() == GatewayMAC(netB).String() {
		t.Fatalf("GatewayMAC(%s) = %s: want a locally administered unicast MAC, the same each time, its own per network", netA, mac)
	}

	must(t, d.DeleteNetwork(ctx, &network.DeleteNetworkRequest{NetworkID: netA}))
	if _, ok := r.links.links[link.SpanPortName(netA)]; ok || len(spans.nets) != 1 {
		t.Fatalf("after deleting %s: links %v, filter %+v; want its span gone", netA, r.links.links, spans.nets)
	}
	must(t, d.DeleteNetwork(ctx, &network.DeleteNetworkRequest{NetworkID: netB}))
	if len(r.links.links) != 0 || len(spans.nets) != 0 {
		t.Fatalf("after deleting the last network: links %v, filter %+v; want nothing, the trunk gone too", r.links.links, spans.nets)
	}
}

// A swarm node without an interface on the bridge port group cannot join a spanning network:
// it says so, and leaves nothing behind.
func TestSwarmBridgeNetworkNeedsTheUplink(t *testing.T) {
	r := newRig(t)
	d, spans := swarmDriver(t, r, "")
	err := d.CreateNetwork(context.Background(), createReq(netA, "172.20.0.0/16", "172.20.0.1/16", nil))
	if err == nil || !strings.Contains(err.Error(), "has no interface on this endpoint") {
		t.Fatalf("CreateNetwork without an uplink = %v, want it refused for the missing interface", err)
	}
	if len(r.links.links) != 0 || len(spans.nets) != 0 || len(r.firewall.state.Networks) != 0 {
		t.Fatalf("a refused network left links %v, filter %+v, rules %+v", r.links.links, spans.nets, r.firewall.state.Networks)
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// A span link of no network is a door between networks that the filter does not know: a
// restart removes it even when the state cannot be trusted to prune the others. A driver
// outside a swarm never touches the filter.
func TestRestoreRemovesSpansOfNoNetwork(t *testing.T) {
	ctx := context.Background()
	r := newRig(t)
	for _, name := range []string{link.SpanPortName(netA), link.WireName(netA), link.TrunkName, link.BridgeName(netA)} {
		r.links.links[name] = "left over"
	}
	d, spans := swarmDriver(t, r, "ens224")
	must(t, d.Restore(ctx, false))
	for _, name := range []string{link.SpanPortName(netA), link.WireName(netA), link.TrunkName} {
		if _, ok := r.links.links[name]; ok {
			t.Fatalf("after a restore without pruning, %s is left: %v", name, r.links.links)
		}
	}
	if _, ok := r.links.links[link.BridgeName(netA)]; !ok {
		t.Fatalf("a restore without pruning removed bridge %s, which may carry containers", link.BridgeName(netA))
	}
	if len(spans.nets) != 0 {
		t.Fatalf("the filter holds %+v with no spanning network", spans.nets)
	}

	counting := &countingSpans{}
	local, err := New(Options{Store: r.store, Links: r.links, Firewall: r.firewall, Holder: r.holder, Public: public, Spans: counting})
	must(t, err)
	must(t, local.Restore(ctx, true))
	if counting.calls != 0 {
		t.Fatalf("a driver outside a swarm programmed the span filter %d times", counting.calls)
	}
}

type countingSpans struct{ calls int }

func (c *countingSpans) Apply([]span.Net) error         { c.calls++; return nil }
func (c *countingSpans) Holds([]span.Net) (bool, error) { c.calls++; return true, nil }

// The filter flushed away (the fake forgets it) is programmed again by the repair.
func TestRepairSpansProgramsTheFilterAgain(t *testing.T) {
	ctx := context.Background()
	r := newRig(t)
	d, spans := swarmDriver(t, r, "ens224")
	must(t, d.CreateNetwork(ctx, createReq(netA, "172.20.0.0/16", "172.20.0.1/16", nil)))
	if did, err := d.RepairSpans(ctx); did || err != nil {
		t.Fatalf("RepairSpans of an intact filter = %v, %v; want nothing done", did, err)
	}
	spans.nets = nil
	if did, err := d.RepairSpans(ctx); !did || err != nil || len(spans.nets) != 1 {
		t.Fatalf("RepairSpans of a flushed filter = %v, %v, filter %+v; want it programmed again", did, err, spans.nets)
	}
}

// In a swarm, a container network is the port group itself: it neither spans nor touches the
// trunk, and a task's macvlan on a node carries the MAC Docker chose for the task, which its
// DHCP lease is keyed by.
func TestSwarmContainerNetworkDoesNotSpan(t *testing.T) {
	ctx := context.Background()
	r := newRig(t)
	spans := &fakeSpans{}
	d, err := New(Options{Store: r.store, Links: r.links, Firewall: r.firewall, Holder: r.holder, Public: public,
		Swarm: true, Uplink: "ens224", Spans: spans, ContainerNetworks: testContainerNetworks, Sandboxes: r.sandboxes})
	must(t, err)
	must(t, d.CreateNetwork(ctx, containerNetReq(netC, consumerPG, "203.0.113.128/26", "203.0.113.129/26")))
	if len(r.links.links) != 0 || len(spans.nets) != 0 {
		t.Fatalf("a container network in a swarm made links %v or spans %+v", r.links.links, spans.nets)
	}
	const mac = "02:42:cb:00:71:8c"
	res, err := d.CreateEndpoint(ctx, &network.CreateEndpointRequest{NetworkID: netC, EndpointID: ep1,
		Interface: &network.EndpointInterface{Address: "203.0.113.140/26", MacAddress: mac}})
	must(t, err)
	if res.Interface != nil {
		t.Fatalf("CreateEndpoint answered %+v: the task's MAC is Docker's", res.Interface)
	}
	_, err = d.Join(ctx, &network.JoinRequest{NetworkID: netC, EndpointID: ep1, SandboxKey: sandbox})
	must(t, err)
	if got := r.links.links[link.MacvlanName(ep1)]; got != "macvlan vtb-c-consumer "+mac {
		t.Fatalf("macvlan %q, want one on the port group's uplink with the task's MAC", got)
	}
	if _, ok := r.links.links[link.TrunkName]; ok {
		t.Fatalf("a container network made the trunk: %v", r.links.links)
	}
}
