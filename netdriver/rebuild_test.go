package netdriver

import (
	"context"
	"net/netip"
	"os"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/docker/go-plugins-helpers/network"

	"github.com/docker-vic/docker-vic/endpoint/hostports"
	"github.com/docker-vic/docker-vic/endpoint/nat"
)

// found is endpoint e of a snapshot as the daemon finds it in Docker and the kernel after the
// state was lost: the address and MAC Docker shows, and each port as a fixed binding (the host
// port the kernel's port map shows).
func found(e Endpoint) FoundEndpoint {
	f := FoundEndpoint{Create: &network.CreateEndpointRequest{NetworkID: e.NetworkID, EndpointID: e.ID,
		Interface: &network.EndpointInterface{Address: e.Address.String(), MacAddress: e.MAC}}, Sandbox: e.Sandbox}
	for _, p := range e.Ports {
		n := map[hostports.Proto]int{hostports.TCP: 6, hostports.UDP: 17}[p.Proto]
		b := PortBinding{Proto: n, Port: p.ContainerPort, HostPort: p.HostPort, HostPortEnd: p.HostPort}
		if p.HostIP.IsValid() && p.HostIP != e.Address.Addr() { // a container network's own address is no -p address
			b.HostIP = p.HostIP.String()
		}
		f.Bindings = append(f.Bindings, b)
	}
	return f
}

// beforeTheLoss makes bridge network netA with ep1 publishing 8080:80 and an ephemeral port
// for 443, and container network netC with ep2 publishing 8081:80, then returns the state.
func beforeTheLoss(t *testing.T, ctx context.Context, r *rig) ([]Network, []Endpoint) {
	t.Helper()
	r.publishOnA(t, ctx)
	if err := r.d.CreateNetwork(ctx, containerNetReq(netC, consumerPG, "203.0.113.128/26", "203.0.113.129/26")); err != nil {
		t.Fatal(err)
	}
	if _, err := r.d.CreateEndpoint(ctx, &network.CreateEndpointRequest{NetworkID: netC, EndpointID: ep2,
		Interface: &network.EndpointInterface{Address: "203.0.113.140/26"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := r.d.Join(ctx, &network.JoinRequest{NetworkID: netC, EndpointID: ep2, SandboxKey: sandbox}); err != nil {
		t.Fatal(err)
	}
	if err := r.d.ProgramExternalConnectivity(ctx, &network.ProgramExternalConnectivityRequest{NetworkID: netC, EndpointID: ep2,
		Options: portmap(tcp(8081, 80))}); err != nil {
		t.Fatal(err)
	}
	nets, eps, err := r.d.Snapshot(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return nets, eps
}

// lose starts the driver again on a new, empty database: the kernel (links, rules) stays, the
// ports held by the old process are free.
func lose(t *testing.T, r *rig) {
	t.Helper()
	r.holder.held = map[hostports.Key]bool{}
	r.path = r.path + ".new"
	r.db.Close()
	r.db = nil
	r.open(t)
}

// foundNetworks are networks as Docker shows them.
func foundNetworks(nets []Network) []FoundNetwork {
	var out []FoundNetwork
	for _, n := range nets {
		f := FoundNetwork{ID: n.ID, Subnets: []FoundSubnet{{Subnet: n.Subnet, Gateway: n.Gateway.Addr()}}}
		if n.PortGroup != "" {
			f.Options = map[string]string{OptionPortGroup: n.PortGroup}
		}
		out = append(out, f)
	}
	return out
}

func bridgeNetwork(id, subnet, gateway string) FoundNetwork {
	return FoundNetwork{ID: id, Subnets: []FoundSubnet{{Subnet: netip.MustParsePrefix(subnet), Gateway: netip.MustParseAddr(gateway)}}}
}

func TestRebuildGivesBackWhatWasLost(t *testing.T) {
	ctx := context.Background()
	r := newRig(t)
	nets, eps := beforeTheLoss(t, ctx, r)
	rules := r.firewall.state
	r.links.links["vb-deadbeef0000"] = "a bridge nobody knows"
	links := copyMap(r.links.links)

	lose(t, r)
	var fs []FoundEndpoint
	for _, e := range eps {
		fs = append(fs, found(e))
	}
	skipped, err := r.d.Rebuild(ctx, foundNetworks(nets), fs)
	if err != nil || len(skipped) > 0 {
		t.Fatalf("Rebuild: %v, skipped %v", err, skipped)
	}
	if err := r.d.Restore(ctx, false); err != nil {
		t.Fatal(err)
	}
	gotNets, gotEps, _ := r.d.Snapshot(ctx)
	if !reflect.DeepEqual(gotNets, nets) || !reflect.DeepEqual(gotEps, eps) {
		t.Fatalf("rebuilt state:\n%+v\n%+v\nwant:\n%+v\n%+v", gotNets, gotEps, nets, eps)
	}
	if !reflect.DeepEqual(copyMap(r.links.links), links) {
		t.Fatalf("links after the rebuild %v, want them all kept: %v", r.links.links, links)
	}
	if !sameState(r.firewall.state, rules) {
		t.Fatalf("rules after the rebuild %+v, want %+v", r.firewall.state, rules)
	}
	if len(r.holder.held) != 2 {
		t.Fatalf("held ports after the rebuild %v, want 8080 and the ephemeral one", r.holder.held)
	}
	// The rebuilt state is the stored one.
	r.open(t)
	if again, _, _ := r.d.Snapshot(ctx); !reflect.DeepEqual(again, nets) {
		t.Fatalf("the rebuilt networks were not saved: %+v", again)
	}
	// And a clean start now removes what nobody knows.
	if err := r.d.Restore(ctx, true); err != nil {
		t.Fatal(err)
	}
	if _, ok := r.links.links["vb-deadbeef0000"]; ok {
		t.Fatal("a start with a sound state kept a link nobody knows")
	}
}

func TestRebuildLeavesOutWhatDoesNotFit(t *testing.T) {
	ctx := context.Background()
	r := newRig(t)
	nets := []FoundNetwork{
		bridgeNetwork(netA, "172.20.0.0/16", "172.20.0.1"),
		bridgeNetwork(netB, "172.20.128.0/17", "172.20.128.1"),
		{ID: netC, IPv6: true},
		{ID: "dddddddddddd0000000000000000000000000000000000000000000000000004", Options: map[string]string{"com.example.unknown": "x"},
			Subnets: []FoundSubnet{{Subnet: netip.MustParsePrefix("172.22.0.0/16"), Gateway: netip.MustParseAddr("172.22.0.1")}}},
		// The endpoint VM routes it since: its containers keep working, as at a start.
		bridgeNetwork(netE, "198.51.100.128/25", "198.51.100.129"),
	}
	eps := []FoundEndpoint{{
		Create:   &network.CreateEndpointRequest{NetworkID: netA, EndpointID: ep1, Interface: &network.EndpointInterface{Address: "172.20.0.2/16"}},
		Bindings: []PortBinding{{Proto: 6, Port: 22, HostPort: 2222, HostPortEnd: 2222}, {Proto: 6, Port: 80, HostPort: 8080, HostPortEnd: 8080}},
	}, {
		Create: &network.CreateEndpointRequest{NetworkID: netB, EndpointID: ep2, Interface: &network.EndpointInterface{Address: "172.20.128.2/17"}},
	}, {
		Create:   &network.CreateEndpointRequest{NetworkID: netA, EndpointID: ep3, Interface: &network.EndpointInterface{Address: "172.20.0.3/16"}},
		Bindings: []PortBinding{{Proto: 6, Port: 80, HostPort: 8080, HostPortEnd: 8080}},
	}}
	skipped, err := r.d.Rebuild(ctx, nets, eps)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range skipped {
		got = append(got, e.Error())
	}
	want := []string{
		"network bbbbbbbbbbbb: subnet 172.20.128.0/17 overlaps subnet 172.20.0.0/16 of vic network aaaaaaaaaaaa",
		"network cccccccccccc asks for IPv6, which vic networks do not support",
		`network dddddddddddd: option "com.example.unknown" is not known to the vic driver (known: com.docker.network.driver.mtu, com.docker.network.vic.portgroup)`,
		`endpoint 111111111111: cannot publish -p 2222:22/tcp: host port 2222/tcp is already in use by process "sshd" (pid 42)`,
		"network bbbbbbbbbbbb is not known to the vic driver: recreate it with docker network create -d vic",
		"endpoint 333333333333: cannot publish -p 8080:80/tcp: host port 8080/tcp is already in use by endpoint 111111111111 (8080->80/tcp)",
	}
	if !slices.Equal(got, want) {
		t.Fatalf("skipped:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	nets2, rebuilt, _ := r.d.Snapshot(ctx)
	if len(nets2) != 2 || nets2[0].ID != netA || nets2[1].ID != netE {
		t.Fatalf("rebuilt networks %+v, want %s and %s", nets2, netA, netE)
	}
	if len(rebuilt) != 2 || len(rebuilt[0].Ports) != 1 || rebuilt[0].Ports[0].HostPort != 8080 || len(rebuilt[1].Ports) != 0 {
		t.Fatalf("rebuilt endpoints %+v, want ep1 with 8080 and ep3 without ports", rebuilt)
	}
}

const netE = "eeeeeeeeeeee0000000000000000000000000000000000000000000000000005"

// A rebuild that cannot save leaves the driver as it was, and holds no port.
func TestRebuildFailsWhole(t *testing.T) {
	ctx := context.Background()
	r := newRig(t)
	nets, eps := beforeTheLoss(t, ctx, r)
	held := copyMap(r.holder.held)
	r.db.Close()
	_, err := r.d.Rebuild(ctx, []FoundNetwork{bridgeNetwork(netB, "172.21.0.0/16", "172.21.0.1")}, []FoundEndpoint{{
		Create:   &network.CreateEndpointRequest{NetworkID: netB, EndpointID: ep3, Interface: &network.EndpointInterface{Address: "172.21.0.2/16"}},
		Bindings: []PortBinding{{Proto: 6, Port: 80, HostPort: 9090, HostPortEnd: 9090}},
	}})
	if err == nil {
		t.Fatal("Rebuild on a closed database succeeded")
	}
	if got := err.Error(); !strings.HasPrefix(got, "reading the stored networks: ") || strings.Contains(got, "\n") {
		t.Fatalf("error %q, want one sentence saying what failed", got)
	}
	gotNets, gotEps, _ := r.d.Snapshot(ctx)
	if !reflect.DeepEqual(gotNets, nets) || !reflect.DeepEqual(gotEps, eps) {
		t.Fatalf("state after a failed rebuild:\n%+v\n%+v", gotNets, gotEps)
	}
	if !reflect.DeepEqual(copyMap(r.holder.held), held) {
		t.Fatalf("held ports after a failed rebuild %v, want %v", r.holder.held, held)
	}
	if _, err := os.Stat(r.path); err != nil {
		t.Fatal(err)
	}
}

func copyMap[K comparable, V any](m map[K]V) map[K]V {
	out := make(map[K]V, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// sameState compares two NAT states whatever the order of their ports.
func sameState(a, b nat.State) bool {
	key := func(m nat.Mapping) string { return m.String() + " " + m.Bridge }
	ka, kb := []string{}, []string{}
	for _, m := range a.Ports {
		ka = append(ka, key(m))
	}
	for _, m := range b.Ports {
		kb = append(kb, key(m))
	}
	slices.Sort(ka)
	slices.Sort(kb)
	return reflect.DeepEqual(a.Networks, b.Networks) && slices.Equal(ka, kb)
}
