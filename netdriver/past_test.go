package netdriver

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
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

	// The engine killed ep3's container before it answered, and runs only the new task: its
	// word counts, even while ep3's veth lingers in the kernel.
	f, err = d.EngineAnswers(ctx, map[string]bool{ep4: true})
	must(t, err)
	if f != (Forgotten{Endpoints: 1, Networks: 1}) {
		t.Fatalf("the engine's answer forgot %+v, want ep3 and netB; netA is the engine's again", f)
	}
	if _, ok := r.links.links[link.HostVethName(ep3)]; ok {
		t.Fatalf("ep3's veth is left: %v", r.links.links)
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
	if f, _ := d.EngineAnswers(ctx, nil); f != (Forgotten{}) {
		t.Fatalf("a second answer forgot %+v", f)
	}
}

// A container that outlived its engine's crash may keep its veth a moment after the engine
// killed it, and the engine may start a new task meanwhile: the new task's published port
// forgets the dead past endpoint that holds it, so the task gets its port at the first try.
func TestPublishForgetsThePastThatHoldsItsPort(t *testing.T) {
	ctx := context.Background()
	r := newRig(t)
	d, _ := swarmDriver(t, r, "ens224")
	must(t, d.CreateNetwork(ctx, createReq(netA, "172.20.0.0/16", "172.20.0.1/16", nil)))
	for i, ep := range []string{ep1, ep2} {
		_, err := d.CreateEndpoint(ctx, &network.CreateEndpointRequest{NetworkID: netA, EndpointID: ep,
			Interface: &network.EndpointInterface{Address: fmt.Sprintf("172.20.0.%d/16", 2+i)}})
		must(t, err)
		_, err = d.Join(ctx, &network.JoinRequest{NetworkID: netA, EndpointID: ep, SandboxKey: "/var/run/docker/netns/" + ep[:12]})
		must(t, err)
	}
	must(t, d.ProgramExternalConnectivity(ctx, &network.ProgramExternalConnectivityRequest{NetworkID: netA, EndpointID: ep1,
		Options: portmap(tcp(8080, 80))}))
	f, err := d.EngineStarts(ctx) // both containers still run
	must(t, err)
	if f != (Forgotten{}) {
		t.Fatalf("the engine's start forgot %+v of containers that run", f)
	}

	// ep1's container dies; a new task publishes its port.
	must(t, r.links.DeleteVeth(link.HostVethName(ep1)))
	_, err = d.CreateEndpoint(ctx, &network.CreateEndpointRequest{NetworkID: netA, EndpointID: ep3,
		Interface: &network.EndpointInterface{Address: "172.20.0.4/16"}})
	must(t, err)
	must(t, d.ProgramExternalConnectivity(ctx, &network.ProgramExternalConnectivityRequest{NetworkID: netA, EndpointID: ep3,
		Options: portmap(tcp(8080, 80))}))
	_, eps, _ := d.Snapshot(ctx)
	var ids []string
	for _, e := range eps {
		ids = append(ids, e.ID[:12])
	}
	if len(eps) != 2 || eps[0].ID != ep2 || eps[1].ID != ep3 {
		t.Fatalf("endpoints %v, want ep2, whose container runs, and the new ep3", ids)
	}
}

// On a container network a container's endpoint lives as long as its sandbox: a sandbox gone
// with the node makes it past, one still there keeps it.
func TestEngineStartForgetsContainerNetworkEndpointsBySandbox(t *testing.T) {
	ctx := context.Background()
	r := newRig(t)
	must(t, r.d.CreateNetwork(ctx, containerNetReq(netC, consumerPG, "203.0.113.128/26", "203.0.113.129/26")))
	live := filepath.Join(t.TempDir(), "netns-live")
	must(t, os.WriteFile(live, nil, 0o600))
	for i, ep := range []string{ep1, ep2} {
		sb := live
		if ep == ep2 {
			sb = filepath.Join(t.TempDir(), "netns-gone")
		}
		_, err := r.d.CreateEndpoint(ctx, &network.CreateEndpointRequest{NetworkID: netC, EndpointID: ep,
			Interface: &network.EndpointInterface{Address: fmt.Sprintf("203.0.113.%d/26", 140+i)}})
		must(t, err)
		_, err = r.d.Join(ctx, &network.JoinRequest{NetworkID: netC, EndpointID: ep, SandboxKey: sb})
		must(t, err)
	}
	f, err := r.d.EngineStarts(ctx)
	must(t, err)
	_, eps, _ := r.d.Snapshot(ctx)
	if f != (Forgotten{Endpoints: 1}) || len(eps) != 1 || eps[0].ID != ep1 {
		t.Fatalf("forgot %+v, left %d endpoints: want ep2 forgotten, ep1 (its sandbox is there) kept", f, len(eps))
	}
	if _, ok := r.links.links[link.MacvlanName(ep2)]; ok {
		t.Fatalf("ep2's macvlan is left: %v", r.links.links)
	}
}
