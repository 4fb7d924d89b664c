package netdriver

import (
	"context"
	"fmt"
	"net/netip"
	"strings"
	"testing"

	"github.com/docker/go-plugins-helpers/network"

	"github.com/docker-vic/docker-vic/config"
	"github.com/docker-vic/docker-vic/endpoint/cfw"
	"github.com/docker-vic/docker-vic/endpoint/link"
)

// fakeSandboxes records the firewall of each endpoint, by sandbox and name.
type fakeSandboxes struct{ tables map[string]cfw.Rules }

func (f *fakeSandboxes) Apply(sandbox, name string, r cfw.Rules) error {
	f.tables[sandbox+"#"+name] = r
	return nil
}
func (f *fakeSandboxes) Remove(sandbox, name string) error {
	delete(f.tables, sandbox+"#"+name)
	return nil
}

const (
	consumerPG = "External-Consumer"
	closedPG   = "Closed-Net"
	netC       = "cccccccccccc0000000000000000000000000000000000000000000000000003"
	sandbox    = "/var/run/docker/netns/c1"
)

// testContainerNetworks is the configuration of the rig's endpoint: External-Consumer
// (published) and Closed-Net (closed) with an uplink each, Lonely-Net without one.
func testContainerNetworks(pg string) (ContainerNetwork, bool) {
	consumer := config.ContainerNetwork{PortGroup: consumerPG, Alias: "consumer",
		Gateway: netip.MustParsePrefix("203.0.113.129/26"), Firewall: config.FirewallPublished,
		Ranges: []config.IPRange{{First: netip.MustParseAddr("203.0.113.140"), Last: netip.MustParseAddr("203.0.113.160")}}}
	switch pg {
	case consumerPG:
		return ContainerNetwork{Config: consumer, Uplink: "vtb-c-consumer"}, true
	case closedPG:
		c := consumer
		c.PortGroup, c.Firewall, c.Gateway, c.Ranges = closedPG, config.FirewallClosed, netip.MustParsePrefix("203.0.113.193/26"), nil
		return ContainerNetwork{Config: c, Uplink: "vtb-c-closed"}, true
	case "Lonely-Net":
		return ContainerNetwork{Config: config.ContainerNetwork{PortGroup: pg, Gateway: netip.MustParsePrefix("198.51.100.129/25")}}, true
	}
	return ContainerNetwork{}, false
}

func containerNetReq(id, pg, pool, gw string) *network.CreateNetworkRequest {
	return createReq(id, pool, gw, map[string]any{optGeneric: map[string]any{OptionPortGroup: pg}})
}

func TestContainerNetworkLifecycle(t *testing.T) {
	ctx := context.Background()
	r := newRig(t)
	if err := r.d.CreateNetwork(ctx, containerNetReq(netC, consumerPG, "203.0.113.128/26", "203.0.113.129/26")); err != nil {
		t.Fatal(err)
	}
	if len(r.links.links) != 0 || len(r.firewall.state.Networks) != 0 {
		t.Fatalf("a container network made links %v or rules %+v", r.links.links, r.firewall.state)
	}
	res, err := r.d.CreateEndpoint(ctx, &network.CreateEndpointRequest{NetworkID: netC, EndpointID: ep1,
		Interface: &network.EndpointInterface{Address: "203.0.113.140/26"}})
	if err != nil {
		t.Fatal(err)
	}
	mac := res.Interface.MacAddress
	if !strings.HasPrefix(mac, "02:") || strings.HasPrefix(mac, "02:42:") {
		t.Fatalf("container-network MAC %q: want a locally administered MAC not derived from the address", mac)
	}
	again, _ := r.d.CreateEndpoint(ctx, &network.CreateEndpointRequest{NetworkID: netC, EndpointID: ep1,
		Interface: &network.EndpointInterface{Address: "203.0.113.140/26"}})
	if again.Interface == nil || again.Interface.MacAddress != mac {
		t.Fatalf("a repeated CreateEndpoint answered %+v, want MAC %s again", again.Interface, mac)
	}

	j, err := r.d.Join(ctx, &network.JoinRequest{NetworkID: netC, EndpointID: ep1, SandboxKey: sandbox})
	if err != nil {
		t.Fatal(err)
	}
	if j.InterfaceName.SrcName != link.MacvlanName(ep1) || j.Gateway != "203.0.113.129" {
		t.Fatalf("join answer %+v", j)
	}
	if got := r.links.links[link.MacvlanName(ep1)]; got != "macvlan vtb-c-consumer "+mac {
		t.Fatalf("macvlan %q, want one on the port group's uplink with the endpoint's MAC", got)
	}
	fw, ok := r.sandboxes.tables[sandbox+"#"+link.ShortID(ep1)]
	if !ok || fw.Level != config.FirewallPublished || fw.Address.String() != "203.0.113.140" || len(fw.Ports) != 0 {
		t.Fatalf("firewall after join %+v, want the published level with no port yet", fw)
	}
	if got := len(fw.Peers); got != 3 {
		t.Errorf("peers %v: want the range .140-.160 as 3 prefixes", fw.Peers)
	}

	// -p 80:80 and -p 8081:80: no host port held, no NAT; the container's own firewall opens
	// 80 and redirects 8081 to it.
	if err := r.d.ProgramExternalConnectivity(ctx, &network.ProgramExternalConnectivityRequest{NetworkID: netC, EndpointID: ep1,
		Options: portmap(tcp(80, 80), tcp(8081, 80))}); err != nil {
		t.Fatal(err)
	}
	if len(r.holder.held) != 0 || len(r.firewall.state.Ports) != 0 {
		t.Fatalf("a container network held %v or published %+v on the endpoint", r.holder.held, r.firewall.state.Ports)
	}
	fw = r.sandboxes.tables[sandbox+"#"+link.ShortID(ep1)]
	want := []cfw.Port{{Proto: "tcp", Port: 80, Target: 80}, {Proto: "tcp", Port: 8081, Target: 80}}
	if len(fw.Ports) != 2 || fw.Ports[0] != want[0] || fw.Ports[1] != want[1] {
		t.Fatalf("firewall ports %+v, want %+v", fw.Ports, want)
	}
	_, eps, _ := r.d.Snapshot(ctx)
	if len(eps) != 1 || len(eps[0].Ports) != 2 || eps[0].Ports[1].String() != "203.0.113.140:8081->80/tcp" {
		t.Fatalf("snapshot %+v: docker vic port must show the container's own address", eps)
	}

	// Docker's stop sequence, every step twice.
	for _, step := range []func() error{
		func() error {
			return r.d.RevokeExternalConnectivity(ctx, &network.RevokeExternalConnectivityRequest{NetworkID: netC, EndpointID: ep1})
		},
		func() error { return r.d.Leave(ctx, &network.LeaveRequest{NetworkID: netC, EndpointID: ep1}) },
		func() error {
			return r.d.DeleteEndpoint(ctx, &network.DeleteEndpointRequest{NetworkID: netC, EndpointID: ep1})
		},
		func() error { return r.d.DeleteNetwork(ctx, &network.DeleteNetworkRequest{NetworkID: netC}) },
	} {
		for range 2 {
			if err := step(); err != nil {
				t.Fatal(err)
			}
		}
	}
	if len(r.links.links) != 0 || len(r.sandboxes.tables) != 0 {
		t.Fatalf("left behind: links %v firewalls %v", r.links.links, r.sandboxes.tables)
	}
	if nets, eps, _ := r.d.Snapshot(ctx); len(nets)+len(eps) != 0 {
		t.Fatalf("state left: %v %v", nets, eps)
	}
}

func TestContainerNetworkRefusals(t *testing.T) {
	ctx := context.Background()
	r := newRig(t)
	if err := r.d.CreateNetwork(ctx, containerNetReq(netC, consumerPG, "203.0.113.128/26", "203.0.113.129/26")); err != nil {
		t.Fatal(err)
	}
	internal := containerNetReq(netB, closedPG, "203.0.113.192/26", "203.0.113.193/26")
	internal.Options[optInternal] = true
	for _, c := range []struct {
		name string
		req  *network.CreateNetworkRequest
		want string
	}{
		{"port group not configured", containerNetReq(netB, "VM Network", "203.0.113.192/26", "203.0.113.193/26"),
			`network bbbbbbbbbbbb: port group "VM Network" is not a container network of this VCH: add it with docker vic configure --container-network`},
		{"second docker network", containerNetReq(netB, consumerPG, "203.0.113.128/26", "203.0.113.129/26"),
			`network bbbbbbbbbbbb: container network "External-Consumer" already is Docker network cccccccccccc`},
		{"wrong subnet", containerNetReq(netB, closedPG, "203.0.113.0/26", "203.0.113.1/26"),
			`network bbbbbbbbbbbb: container network "Closed-Net" has subnet 203.0.113.192/26 and gateway 203.0.113.193, not 203.0.113.0/26 and 203.0.113.1: use --ipam-driver vic`},
		{"internal", internal,
			`network bbbbbbbbbbbb: container network "Closed-Net" cannot be --internal: its containers sit on the port group itself`},
		{"no uplink", containerNetReq(netB, "Lonely-Net", "198.51.100.128/25", "198.51.100.129/25"),
			`network bbbbbbbbbbbb: the endpoint has no interface on port group "Lonely-Net": give it a NIC there, or pass --uplink Lonely-Net=IFACE to vic-endpoint`},
	} {
		t.Run(c.name, func(t *testing.T) {
			err := r.d.CreateNetwork(ctx, c.req)
			if err == nil || err.Error() != c.want {
				t.Fatalf("got %v\nwant %s", err, c.want)
			}
			if nets, _, _ := r.d.Snapshot(ctx); len(nets) != 1 {
				t.Fatalf("a refused network was recorded: %v", nets)
			}
		})
	}

	// A redirect on a closed network is refused at ProgramExternalConnectivity, and the
	// container keeps its closed firewall.
	if err := r.d.CreateNetwork(ctx, containerNetReq(netB, closedPG, "203.0.113.192/26", "203.0.113.193/26")); err != nil {
		t.Fatal(err)
	}
	if _, err := r.d.CreateEndpoint(ctx, &network.CreateEndpointRequest{NetworkID: netB, EndpointID: ep2,
		Interface: &network.EndpointInterface{Address: "203.0.113.200/26"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := r.d.Join(ctx, &network.JoinRequest{NetworkID: netB, EndpointID: ep2, SandboxKey: sandbox}); err != nil {
		t.Fatal(err)
	}
	err := r.d.ProgramExternalConnectivity(ctx, &network.ProgramExternalConnectivityRequest{NetworkID: netB, EndpointID: ep2,
		Options: portmap(tcp(8081, 80))})
	if err == nil || !strings.Contains(err.Error(), `"closed"`) {
		t.Fatalf("a redirect on a closed network: %v", err)
	}
	// So is a plain -p: the level would let nothing in, and the user would be left guessing.
	err = r.d.ProgramExternalConnectivity(ctx, &network.ProgramExternalConnectivityRequest{NetworkID: netB, EndpointID: ep2,
		Options: portmap(tcp(80, 80))})
	if want := `port -p 80:80/tcp: container network "` + closedPG + `" is at firewall level "closed", which lets no connection in: use a container network at level published, peers or open, or change its level with docker vic configure --container-network-firewall`; err == nil || err.Error() != want {
		t.Fatalf("a plain -p on a closed network: %v\nwant %s", err, want)
	}
	if fw := r.sandboxes.tables[sandbox+"#"+link.ShortID(ep2)]; fw.Level != config.FirewallClosed || len(fw.Ports) != 0 {
		t.Fatalf("firewall after the refusal %+v", fw)
	}
	if _, eps, _ := r.d.Snapshot(ctx); len(eps) != 1 || len(eps[0].Ports) != 0 {
		t.Fatalf("a refused publication was recorded: %+v", eps)
	}
}

// VIC's external-network use case: `docker run --expose=80 --net=vic-production` serves port
// 80 at the container's own address; -p 80 and --expose 80 together open it once.
func TestContainerNetworkExposedPorts(t *testing.T) {
	ctx := context.Background()
	r := newRig(t)
	if err := r.d.CreateNetwork(ctx, containerNetReq(netC, consumerPG, "203.0.113.128/26", "203.0.113.129/26")); err != nil {
		t.Fatal(err)
	}
	for i, c := range []struct {
		opts map[string]any
		want string
	}{
		{map[string]any{optExposedPorts: []any{map[string]any{"Proto": 6.0, "Port": 80.0}}}, "[80/tcp]"},
		{map[string]any{optPortMap: []any{tcp(0, 80)}, optExposedPorts: []any{map[string]any{"Proto": 6.0, "Port": 80.0},
			map[string]any{"Proto": 17.0, "Port": 53.0}}}, "[80/tcp 53/udp]"},
	} {
		ep := []string{ep1, ep2}[i]
		r.joinContainer(t, ep, []string{"203.0.113.140/26", "203.0.113.141/26"}[i])
		if err := r.d.ProgramExternalConnectivity(ctx, &network.ProgramExternalConnectivityRequest{NetworkID: netC, EndpointID: ep, Options: c.opts}); err != nil {
			t.Fatal(err)
		}
		if got := fmt.Sprint(r.sandboxes.tables[sandbox+"#"+link.ShortID(ep)].Ports); got != c.want {
			t.Errorf("case %d: open ports %s, want %s", i, got, c.want)
		}
	}
}

// `docker vic configure` changing a network's level reaches the containers that run: their
// firewall is set again, and a redirect the new level cannot keep is closed.
func TestRefreshContainerFirewalls(t *testing.T) {
	ctx := context.Background()
	r := newRig(t)
	level := config.FirewallPublished
	r.d.containerNets = func(pg string) (ContainerNetwork, bool) {
		cn, ok := testContainerNetworks(pg)
		cn.Config.Firewall = level
		return cn, ok
	}
	if err := r.d.CreateNetwork(ctx, containerNetReq(netC, consumerPG, "203.0.113.128/26", "203.0.113.129/26")); err != nil {
		t.Fatal(err)
	}
	r.joinContainer(t, ep1, "203.0.113.140/26")
	if err := r.d.ProgramExternalConnectivity(ctx, &network.ProgramExternalConnectivityRequest{NetworkID: netC, EndpointID: ep1,
		Options: portmap(tcp(80, 80), tcp(8081, 80))}); err != nil {
		t.Fatal(err)
	}
	level = config.FirewallClosed
	if err := r.d.RefreshContainerFirewalls(ctx); err != nil {
		t.Fatal(err)
	}
	fw := r.sandboxes.tables[sandbox+"#"+link.ShortID(ep1)]
	if fw.Level != config.FirewallClosed || fmt.Sprint(fw.Ports) != "[80/tcp]" {
		t.Fatalf("after the level changed to closed: %s %v, want closed with the redirect gone", fw.Level, fw.Ports)
	}
}

// The sandbox of a container-network endpoint survives a restart of the endpoint, so that a
// level changed afterwards still reaches the container.
func TestContainerSandboxSurvivesRestart(t *testing.T) {
	ctx := context.Background()
	r := newRig(t)
	if err := r.d.CreateNetwork(ctx, containerNetReq(netC, consumerPG, "203.0.113.128/26", "203.0.113.129/26")); err != nil {
		t.Fatal(err)
	}
	r.joinContainer(t, ep1, "203.0.113.140/26")
	r.open(t) // a restart
	delete(r.sandboxes.tables, sandbox+"#"+link.ShortID(ep1))
	if err := r.d.RefreshContainerFirewalls(ctx); err != nil {
		t.Fatal(err)
	}
	if _, ok := r.sandboxes.tables[sandbox+"#"+link.ShortID(ep1)]; !ok {
		t.Fatal("after a restart the container's firewall could not be set again: its sandbox was forgotten")
	}
}

// joinContainer creates endpoint ep with address addr on network netC and joins it to sandbox.
func (r *rig) joinContainer(t *testing.T, ep, addr string) {
	t.Helper()
	ctx := context.Background()
	if _, err := r.d.CreateEndpoint(ctx, &network.CreateEndpointRequest{NetworkID: netC, EndpointID: ep,
		Interface: &network.EndpointInterface{Address: addr}}); err != nil {
		t.Fatal(err)
	}
	if _, err := r.d.Join(ctx, &network.JoinRequest{NetworkID: netC, EndpointID: ep, SandboxKey: sandbox}); err != nil {
		t.Fatal(err)
	}
}
