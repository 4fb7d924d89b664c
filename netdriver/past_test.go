package netdriver

import (
	"context"
	"testing"

	"github.com/docker/go-plugins-helpers/network"

	"github.com/docker-vic/docker-vic/endpoint/hostports"
	"github.com/docker-vic/docker-vic/endpoint/link"
	"github.com/docker-vic/docker-vic/endpoint/nat"
)

// A swarm node killed at once (a power-off) leaves in the driver's state the endpoints of its
// tasks, which its engine never deletes: starting with its engine, the plugin forgets those
// whose containers are gone, and the new task gets its published port again. One container
// that outlived its engine's crash keeps its endpoint until the engine answers, having killed
// it.
func TestEngineStartForgetsThePast(t *testing.T) {
	ctx := context.Background()
	r := newRig(t)
	d, spans := swarmDriver(t, r, "ens224")
	must(t, d.CreateNetwork(ctx, createReq(netA, "172.20.0.0/16", "172.20.0.1/16", nil)))
	must(t, d.CreateNetwork(ctx, createReq(netB, "172.21.0.0/16", "172.21.0.1/16", nil)))
	// join runs a task's container on netID, publishing 8080 when publish is set.
	join := func(d *Driver, netID, ep, addr string, publish bool) {
		t.Helper()
		_, err := d.CreateEndpoint(ctx, &network.CreateEndpointRequest{NetworkID: netID, EndpointID: ep, Interface: &network.EndpointInterface{Address: addr}})
		must(t, err)
		_, err = d.Join(ctx, &network.JoinRequest{NetworkID: netID, EndpointID: ep, SandboxKey: "/var/run/docker/netns/" + ep[:12]})
		must(t, err)
		if publish {
			must(t, d.ProgramExternalConnectivity(ctx, &network.ProgramExternalConnectivityRequest{NetworkID: netID, EndpointID: ep,
				Options: portmap(tcp(8080, 80))}))
		}
	}
	join(d, netA, ep1, "172.20.0.2/16", true)
	join(d, netA, ep2, "172.20.0.3/16", false)
	join(d, netB, ep3, "172.21.0.2/16", false)

	// The crash: ep1's and ep2's containers die with the node; ep3's outlives its engine.
	must(t, r.links.DeleteVeth(link.HostVethName(ep1)))
	must(t, r.links.DeleteVeth(link.HostVethName(ep2)))
	r.holder.held, r.firewall.state = map[hostports.Key]bool{}, nat.State{}
	r.open(t)
	d, spans = swarmDriver(t, r, "ens224")
	must(t, d.Restore(ctx, true))
	if !r.holder.held[hostports.Key{Proto: hostports.TCP, Port: 8080}] {
		t.Fatal("the restore did not hold port 8080 again: this test no longer shows the fault")
	}

	f, err := d.EngineStarts(ctx)
	must(t, err)
	if f != (Forgotten{Endpoints: 2, Networks: 1}) {
		t.Fatalf("the engine's start forgot %+v, want ep1, ep2 and netA", f)
	}
	if len(r.holder.held) != 0 || len(r.firewall.state.Ports) != 0 {
		t.Fatalf("port 8080 of the dead task is still held %v or mapped %+v", r.holder.held, r.firewall.state.Ports)
	}
	for _, name := range []string{link.BridgeName(netA), link.SpanPortName(netA)} {
		if _, ok := r.links.links[name]; ok {
			t.Fatalf("%s of netA, left without endpoints, is still there: %v", name, r.links.links)
		}
	}
	if _, ok := r.links.links[link.HostVethName(ep3)]; !ok || len(spans.nets) != 1 {
		t.Fatalf("ep3, whose container runs, lost its veth or netB its span: links %v spans %+v", r.links.links, spans.nets)
	}

	// The new task: its engine creates netA again and publishes 8080 for it.
	must(t, d.CreateNetwork(ctx, createReq(netA, "172.20.0.0/16", "172.20.0.1/16", nil)))
	const ep4 = "444444444444000000000000000000000000000000000000000000000000000d"
	join(d, netA, ep4, "172.20.0.4/16", true)

	// The engine killed ep3's container before it answered.
	must(t, r.links.DeleteVeth(link.HostVethName(ep3)))
	f, err = d.EngineAnswers(ctx)
	must(t, err)
	if f != (Forgotten{Endpoints: 1, Networks: 1}) {
		t.Fatalf("the engine's answer forgot %+v, want ep3 and netB; netA is the engine's again", f)
	}
	nets, eps, _ := d.Snapshot(ctx)
	if len(nets) != 1 || nets[0].ID != netA || len(eps) != 1 || eps[0].ID != ep4 {
		t.Fatalf("left: networks %+v endpoints %+v, want netA and the new task's ep4", nets, eps)
	}
	if len(r.firewall.state.Ports) != 1 || !r.holder.held[hostports.Key{Proto: hostports.TCP, Port: 8080}] {
		t.Fatalf("the new task's port 8080: mapped %+v held %v", r.firewall.state.Ports, r.holder.held)
	}

	// The past has ended: a container whose veth goes now is Docker's to delete.
	must(t, r.links.DeleteVeth(link.HostVethName(ep4)))
	if f, _ := d.EngineAnswers(ctx); f != (Forgotten{}) {
		t.Fatalf("a second answer forgot %+v", f)
	}
}
