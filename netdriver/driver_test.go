package netdriver

import (
	"cmp"
	"context"
	"errors"
	"net/netip"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/docker/go-plugins-helpers/network"
	bolt "go.etcd.io/bbolt"

	"github.com/docker-vic/docker-vic/endpoint/cfw"
	"github.com/docker-vic/docker-vic/endpoint/hostnets"
	"github.com/docker-vic/docker-vic/endpoint/hostports"
	"github.com/docker-vic/docker-vic/endpoint/link"
	"github.com/docker-vic/docker-vic/endpoint/nat"
)

// These tests drive the driver's logic with fakes of the kernel layers. The kernel test in
// driver_linux_test.go makes Docker's calls against the real links, rules and held sockets.

type fakeLinks struct {
	links map[string]string
	mtu   int // of every link; 0 is 1500
}

func (f *fakeLinks) MTU(string) (int, error) { return cmp.Or(f.mtu, 1500), nil }

func (f *fakeLinks) EnsureBridge(b link.Bridge) error {
	f.links[b.Name] = "bridge " + b.Gateway.String()
	return nil
}
func (f *fakeLinks) DeleteBridge(name string) error { delete(f.links, name); return nil }
func (f *fakeLinks) EnsureVeth(v link.Veth) error {
	f.links[v.Host] = "veth " + v.Bridge
	f.links[v.Peer] = "peer " + v.MAC.String()
	return nil
}
func (f *fakeLinks) DeleteVeth(host string) error {
	delete(f.links, host)
	delete(f.links, link.PeerPrefix+strings.TrimPrefix(host, link.HostVethPrefix))
	return nil
}
func (f *fakeLinks) Owned() ([]string, error) {
	var out []string
	for n := range f.links {
		out = append(out, n)
	}
	slices.Sort(out)
	return out, nil
}
func (f *fakeLinks) EnsureMacvlan(m link.Macvlan) error {
	f.links[m.Name] = "macvlan " + m.Parent + " " + m.MAC.String()
	return nil
}
func (f *fakeLinks) DeleteMacvlan(name string) error      { delete(f.links, name); return nil }
func (f *fakeLinks) Delete(name string) error             { delete(f.links, name); return nil }
func (f *fakeLinks) SetRouteLocalnet(bridge string) error { return nil }
func (f *fakeLinks) EnsureTrunk(uplink string) error {
	f.links[link.TrunkName] = "trunk " + uplink
	return nil
}
func (f *fakeLinks) DeleteTrunk() error { delete(f.links, link.TrunkName); return nil }
func (f *fakeLinks) EnsureSpan(s link.Span) error {
	f.links[s.Port] = "span " + s.Bridge
	f.links[s.Wire] = "wire " + link.TrunkName
	return nil
}
func (f *fakeLinks) DeleteSpan(s link.Span) error {
	delete(f.links, s.Port)
	delete(f.links, s.Wire)
	return nil
}

type fakeFirewall struct {
	state nat.State
	calls int
	fail  error
}

func (f *fakeFirewall) ChangePorts(_ context.Context, add, del []nat.Mapping) error {
	f.calls++
	if f.fail != nil {
		return f.fail
	}
	ports := slices.DeleteFunc(slices.Clone(f.state.Ports), func(m nat.Mapping) bool { return slices.Contains(del, m) })
	f.state = nat.State{Networks: f.state.Networks, Ports: append(ports, add...)}
	return nil
}

func (f *fakeFirewall) Apply(_ context.Context, s nat.State) error {
	f.calls++
	if f.fail != nil {
		return f.fail
	}
	f.state = s
	return nil
}

type fakeHolder struct {
	held map[hostports.Key]bool
	next uint16
}

func (f *fakeHolder) Hold(k hostports.Key) error {
	if k.Port == 2222 {
		return &hostports.InUseError{Key: k, By: `process "sshd" (pid 42)`}
	}
	f.held[k] = true
	return nil
}
func (f *fakeHolder) HoldEphemeral(p hostports.Proto, ip netip.Addr) (uint16, error) {
	f.next++
	k := hostports.Key{Proto: p, HostIP: ip, Port: 49152 + f.next}
	f.held[k] = true
	return k.Port, nil
}
func (f *fakeHolder) Release(k hostports.Key) { delete(f.held, k) }

type rig struct {
	d         *Driver
	links     *fakeLinks
	firewall  *fakeFirewall
	holder    *fakeHolder
	sandboxes *fakeSandboxes
	db        *bolt.DB
	store     *BoltStore
	path      string
	// hostSubnets are the endpoint VM's own subnets the driver reads.
	hostSubnets []hostnets.Subnet
}

var public = netip.MustParseAddr("198.51.100.2")

func newRig(t *testing.T) *rig {
	t.Helper()
	path := filepath.Join(t.TempDir(), "state.db")
	r := &rig{links: &fakeLinks{links: map[string]string{}}, firewall: &fakeFirewall{}, holder: &fakeHolder{held: map[hostports.Key]bool{}},
		sandboxes: &fakeSandboxes{tables: map[string]cfw.Rules{}}, path: path,
		hostSubnets: []hostnets.Subnet{{Prefix: netip.MustParsePrefix("198.51.100.0/24"), Link: "ens192"}}}
	r.open(t)
	return r
}

func (r *rig) open(t *testing.T) {
	t.Helper()
	if r.db != nil {
		r.db.Close() // a restart: the old process is gone
	}
	r.db, r.store = openStore(t, r.path)
	var err error
	r.d, err = New(Options{Store: r.store, Links: r.links, Firewall: r.firewall, Holder: r.holder, Public: public,
		HostSubnets:       func() []hostnets.Subnet { return r.hostSubnets },
		ContainerNetworks: testContainerNetworks, Sandboxes: r.sandboxes})
	if err != nil {
		t.Fatal(err)
	}
}

// openStore opens the state database at path, closed when t ends.
func openStore(t *testing.T, path string) (*bolt.DB, *BoltStore) {
	t.Helper()
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	store, err := NewBoltStore(db)
	if err != nil {
		t.Fatal(err)
	}
	return db, store
}

func createReq(id, pool, gw string, opts map[string]any) *network.CreateNetworkRequest {
	if opts == nil {
		opts = map[string]any{}
	}
	return &network.CreateNetworkRequest{NetworkID: id, Options: opts, IPv4Data: []*network.IPAMData{{AddressSpace: "vic", Pool: pool, Gateway: gw}}}
}

const (
	netA = "aaaaaaaaaaaa0000000000000000000000000000000000000000000000000001"
	netB = "bbbbbbbbbbbb0000000000000000000000000000000000000000000000000002"
	ep1  = "111111111111000000000000000000000000000000000000000000000000000a"
	ep2  = "222222222222000000000000000000000000000000000000000000000000000b"
	ep3  = "333333333333000000000000000000000000000000000000000000000000000c"
)

func portmap(entries ...map[string]any) map[string]any {
	list := make([]any, len(entries))
	for i, e := range entries {
		list[i] = e
	}
	return map[string]any{optPortMap: list}
}

func tcp(host, container int) map[string]any {
	return map[string]any{"Proto": 6.0, "IP": "", "Port": float64(container), "HostIP": "", "HostPort": float64(host), "HostPortEnd": float64(host)}
}

// run creates network netA with endpoint ep1 joined and returns the rig.
func (r *rig) run(t *testing.T, ctx context.Context, ep, addr string) {
	t.Helper()
	res, err := r.d.CreateEndpoint(ctx, &network.CreateEndpointRequest{NetworkID: netA, EndpointID: ep, Interface: &network.EndpointInterface{Address: addr}})
	if err != nil {
		t.Fatal(err)
	}
	if res.Interface == nil || !strings.HasPrefix(res.Interface.MacAddress, "02:42:") {
		t.Fatalf("the driver must pick a MAC when docker leaves it empty: %+v", res.Interface)
	}
	j, err := r.d.Join(ctx, &network.JoinRequest{NetworkID: netA, EndpointID: ep, SandboxKey: "/var/run/docker/netns/x"})
	if err != nil {
		t.Fatal(err)
	}
	if j.InterfaceName.SrcName != link.PeerName(ep) || j.InterfaceName.DstPrefix != "eth" || j.Gateway != "172.20.0.1" {
		t.Fatalf("join answer %+v", j)
	}
}

// publishOnA creates network netA with endpoint ep1 joined, publishing 8080:80 and an
// ephemeral host port for 443.
func (r *rig) publishOnA(t *testing.T, ctx context.Context) {
	t.Helper()
	if err := r.d.CreateNetwork(ctx, createReq(netA, "172.20.0.0/16", "172.20.0.1/16", nil)); err != nil {
		t.Fatal(err)
	}
	r.run(t, ctx, ep1, "172.20.0.2/16")
	if err := r.d.ProgramExternalConnectivity(ctx, &network.ProgramExternalConnectivityRequest{NetworkID: netA, EndpointID: ep1,
		Options: portmap(tcp(8080, 80), tcp(0, 443))}); err != nil {
		t.Fatal(err)
	}
}

func TestDriverLifecycle(t *testing.T) {
	ctx := context.Background()
	r := newRig(t)
	r.publishOnA(t, ctx)
	if got := len(r.firewall.state.Ports); got != 2 {
		t.Fatalf("published %d ports, want 2: %+v", got, r.firewall.state)
	}
	if p := r.firewall.state.Ports[0]; p.HostPort != 8080 || p.ContainerIP.String() != "172.20.0.2" || p.Bridge != "vb-aaaaaaaaaaaa" {
		t.Fatalf("mapping %+v", p)
	}
	if !r.holder.held[hostports.Key{Proto: hostports.TCP, Port: 8080}] || len(r.holder.held) != 2 {
		t.Fatalf("held ports %v", r.holder.held)
	}

	// A restart with the same database restores ports and rules without Docker's help.
	r.firewall.state = nat.State{}
	r.holder.held = map[hostports.Key]bool{}
	r.links.links["vb-deadbeef0000"] = "stale bridge"
	r.open(t)
	if err := r.d.Restore(ctx, true); err != nil {
		t.Fatal(err)
	}
	if len(r.firewall.state.Ports) != 2 || len(r.holder.held) != 2 {
		t.Fatalf("after restart: rules %+v held %v", r.firewall.state, r.holder.held)
	}
	if _, ok := r.links.links["vb-deadbeef0000"]; ok {
		t.Fatal("a stale link of ours survived the restart")
	}

	// Docker's stop sequence.
	for _, step := range []func() error{
		func() error {
			return r.d.RevokeExternalConnectivity(ctx, &network.RevokeExternalConnectivityRequest{NetworkID: netA, EndpointID: ep1})
		},
		func() error { return r.d.Leave(ctx, &network.LeaveRequest{NetworkID: netA, EndpointID: ep1}) },
		func() error {
			return r.d.DeleteEndpoint(ctx, &network.DeleteEndpointRequest{NetworkID: netA, EndpointID: ep1})
		},
		func() error { return r.d.DeleteNetwork(ctx, &network.DeleteNetworkRequest{NetworkID: netA}) },
	} {
		for i := 0; i < 2; i++ { // every step twice: unknown IDs succeed
			if err := step(); err != nil {
				t.Fatal(err)
			}
		}
	}
	if len(r.links.links) != 0 || len(r.holder.held) != 0 || len(r.firewall.state.Networks) != 0 {
		t.Fatalf("left behind: links %v held %v rules %+v", r.links.links, r.holder.held, r.firewall.state)
	}
	nets, eps, _ := r.d.Snapshot(ctx)
	if len(nets)+len(eps) != 0 {
		t.Fatalf("state left: %v %v", nets, eps)
	}
}

func TestDriverRefusesBadNetworks(t *testing.T) {
	ctx := context.Background()
	cases := []struct {
		name string
		req  *network.CreateNetworkRequest
		want string
	}{
		{"unknown option", createReq(netB, "172.21.0.0/16", "172.21.0.1/16", map[string]any{optGeneric: map[string]any{"color": "blue"}}),
			`network bbbbbbbbbbbb: option "color" is not known to the vic driver (known: com.docker.network.driver.mtu, com.docker.network.vic.portgroup)`},
		{"bad mtu", createReq(netB, "172.21.0.0/16", "172.21.0.1/16", map[string]any{optGeneric: map[string]any{OptionMTU: "70000"}}),
			`network bbbbbbbbbbbb: option com.docker.network.driver.mtu="70000" must be an MTU between 576 and 9000`},
		{"ipv6", createReq(netB, "172.21.0.0/16", "172.21.0.1/16", map[string]any{optEnableIPv6: true}),
			`network bbbbbbbbbbbb asks for IPv6, which vic networks do not support`},
		{"overlap", createReq(netB, "172.20.5.0/24", "172.20.5.1/24", nil),
			`network bbbbbbbbbbbb: subnet 172.20.5.0/24 overlaps subnet 172.20.0.0/16 of vic network aaaaaaaaaaaa`},
		{"overlap public", createReq(netB, "198.51.100.0/25", "198.51.100.1/25", nil),
			`network bbbbbbbbbbbb: subnet 198.51.100.0/25 overlaps 198.51.100.0/24 of ens192, a network of the endpoint VM itself: choose another subnet`},
		{"tiny", createReq(netB, "172.21.0.0/31", "172.21.0.1/31", nil),
			`network bbbbbbbbbbbb: subnet 172.21.0.0/31 is smaller than a /30 and leaves no room for containers`},
	}
	r := newRig(t)
	if err := r.d.CreateNetwork(ctx, createReq(netA, "172.20.0.0/16", "172.20.0.1/16", nil)); err != nil {
		t.Fatal(err)
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := r.d.CreateNetwork(ctx, tc.req)
			if err == nil || err.Error() != tc.want {
				t.Fatalf("got %v\nwant %s", err, tc.want)
			}
			if _, ok := r.links.links[link.BridgeName(netB)]; ok {
				t.Fatal("a refused network left its bridge")
			}
			if nets, _, _ := r.d.Snapshot(ctx); len(nets) != 1 {
				t.Fatalf("a refused network was recorded: %v", nets)
			}
		})
	}
}

func TestDriverPortConflicts(t *testing.T) {
	ctx := context.Background()
	r := newRig(t)
	if err := r.d.CreateNetwork(ctx, createReq(netA, "172.20.0.0/16", "172.20.0.1/16", nil)); err != nil {
		t.Fatal(err)
	}
	r.run(t, ctx, ep1, "172.20.0.2/16")
	r.run(t, ctx, ep2, "172.20.0.3/16")
	program := func(ep string, pm map[string]any) error {
		return r.d.ProgramExternalConnectivity(ctx, &network.ProgramExternalConnectivityRequest{NetworkID: netA, EndpointID: ep, Options: pm})
	}
	if err := program(ep1, portmap(tcp(8080, 80))); err != nil {
		t.Fatal(err)
	}
	names := namer{ep1: "web"}
	r.d.names = names
	loopback := tcp(8080, 80)
	loopback["HostIP"] = "127.0.0.1"
	management := tcp(9090, 80)
	management["HostIP"] = "203.0.113.5"
	for _, tc := range []struct {
		name string
		pm   map[string]any
		want string
	}{
		{"same port", portmap(tcp(9000, 90), tcp(8080, 80)), `cannot publish -p 8080:80/tcp: host port 8080/tcp is already in use by container "web" (8080->80/tcp)`},
		{"loopback overlaps any", portmap(loopback), `cannot publish -p 127.0.0.1:8080:80/tcp: host port 127.0.0.1:8080/tcp is already in use by container "web" (8080->80/tcp)`},
		{"other process", portmap(tcp(2222, 22)), `cannot publish -p 2222:22/tcp: host port 2222/tcp is already in use by process "sshd" (pid 42)`},
		{"management address", portmap(management), `port -p 203.0.113.5:9090:80/tcp: host address 203.0.113.5 is neither the endpoint's public address 198.51.100.2 nor 127.0.0.1`},
		{"own list", portmap(tcp(9000, 90), tcp(9000, 91)), `cannot publish -p 9000:91/tcp: host port 9000/tcp is already published by this container's own 9000->90/tcp: its -p list names that host port twice`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := program(ep2, tc.pm)
			if err == nil || err.Error() != tc.want {
				t.Fatalf("got %v\nwant %s", err, tc.want)
			}
			if r.holder.held[hostports.Key{Proto: hostports.TCP, Port: 9000}] || len(r.firewall.state.Ports) != 1 {
				t.Fatalf("a refused publication left ports: held %v rules %v", r.holder.held, r.firewall.state.Ports)
			}
		})
	}
	// A host range takes the first free port.
	rng := tcp(8080, 80)
	rng["HostPortEnd"] = 8082.0
	if err := program(ep2, portmap(rng)); err != nil {
		t.Fatal(err)
	}
	_, eps, _ := r.d.Snapshot(ctx)
	if got := eps[1].Ports[0].HostPort; got != 8081 {
		t.Fatalf("range picked %d, want 8081", got)
	}
	// A range steps over the ports the same container takes earlier in its own list.
	rng["HostPort"], rng["HostPortEnd"] = 7000.0, 7002.0
	r.run(t, ctx, ep3, "172.20.0.4/16")
	if err := program(ep3, portmap(tcp(7000, 70), tcp(7001, 71), rng)); err != nil {
		t.Fatal(err)
	}
	_, eps, _ = r.d.Snapshot(ctx)
	for _, e := range eps {
		if e.ID == ep3 && (len(e.Ports) != 3 || e.Ports[2].HostPort != 7002) {
			t.Fatalf("ports of a container with a range after two of its own: %+v", e.Ports)
		}
	}
}

func TestDriverRollsBackWhenRulesFail(t *testing.T) {
	ctx := context.Background()
	r := newRig(t)
	r.firewall.fail = errors.New("iptables-restore: line 3 failed")
	err := r.d.CreateNetwork(ctx, createReq(netA, "172.20.0.0/16", "172.20.0.1/16", nil))
	if err == nil || err.Error() != "programming the rules of network aaaaaaaaaaaa: iptables-restore: line 3 failed" {
		t.Fatalf("got %v", err)
	}
	if len(r.links.links) != 0 {
		t.Fatalf("links left: %v", r.links.links)
	}
	if nets, _, _ := r.d.Snapshot(ctx); len(nets) != 0 {
		t.Fatal("network recorded despite the failure")
	}
	r.open(t)
	if nets, _, _ := r.d.Snapshot(ctx); len(nets) != 0 {
		t.Fatal("network persisted despite the failure")
	}
}

type namer map[string]string

func (n namer) ContainerName(id string) string { return n[id] }

func TestDescribeFallsBackToEndpointID(t *testing.T) {
	d := &Driver{names: namer{ep1: "web"}}
	if got := d.describe(ep2); got != "endpoint 222222222222" {
		t.Fatalf("unknown container: %q", got)
	}
	if got := d.describe(ep1); got != `container "web"` {
		t.Fatalf("known container: %q", got)
	}
}

// TestDriverRefusesBadEndpoints: what a raw API client could send, and Docker never does, is
// refused with one sentence and leaves no record.
func TestDriverRefusesBadEndpoints(t *testing.T) {
	ctx := context.Background()
	r := newRig(t)
	if err := r.d.CreateNetwork(ctx, createReq(netA, "172.20.0.0/16", "172.20.0.1/16", nil)); err != nil {
		t.Fatal(err)
	}
	r.run(t, ctx, ep1, "172.20.0.2/16")
	twin := ep1[:12] + strings.Repeat("f", 52)
	cases := []struct {
		name, ep, addr, mac, want string
	}{
		{"outside", ep2, "172.21.0.2/16", "", "endpoint 222222222222: address 172.21.0.2 is outside network aaaaaaaaaaaa (subnet 172.20.0.0/16)"},
		{"prefix", ep2, "172.20.0.3/24", "", "endpoint 222222222222: address 172.20.0.3/24 has prefix length 24, and network aaaaaaaaaaaa has /16"},
		{"gateway", ep2, "172.20.0.1/16", "", "endpoint 222222222222: address 172.20.0.1 is the gateway of network aaaaaaaaaaaa"},
		{"network", ep2, "172.20.0.0/16", "", "endpoint 222222222222: address 172.20.0.0 is the network address of subnet 172.20.0.0/16"},
		{"broadcast", ep2, "172.20.255.255/16", "", "endpoint 222222222222: address 172.20.255.255 is the broadcast address of subnet 172.20.0.0/16"},
		{"taken", ep2, "172.20.0.2/16", "", "endpoint 222222222222: address 172.20.0.2 is already used by endpoint 111111111111 of the same network"},
		{"readdress", ep1, "172.20.0.9/16", "", "endpoint 111111111111 already exists with address 172.20.0.2: it cannot take 172.20.0.9"},
		{"twin", twin, "172.20.0.9/16", "", "endpoint " + twin + ": its ID starts with the same 12 characters as endpoint " + ep1 +
			", and both would share link ve-111111111111: endpoint IDs must differ in their first 12 characters"},
		{"other mac", ep1, "172.20.0.2/16", "02:00:00:00:00:09", "endpoint 111111111111 already exists with MAC address 02:42:ac:14:00:02: it cannot take 02:00:00:00:00:09"},
		{"mac-multicast", ep2, "172.20.0.9/16", "01:00:5e:00:00:01", "endpoint 222222222222: MAC address 01:00:5e:00:00:01 is a multicast or broadcast address: a container's interface needs a unicast one"},
		{"mac-broadcast", ep2, "172.20.0.9/16", "ff:ff:ff:ff:ff:ff", "endpoint 222222222222: MAC address ff:ff:ff:ff:ff:ff is a multicast or broadcast address: a container's interface needs a unicast one"},
		{"mac-long", ep2, "172.20.0.9/16", "02:00:00:00:00:00:00:01", `endpoint 222222222222: MAC address "02:00:00:00:00:00:00:01" has 8 bytes: an Ethernet MAC has 6`},
		{"mac-zero", ep2, "172.20.0.9/16", "00:00:00:00:00:00", "endpoint 222222222222: MAC address 00:00:00:00:00:00 is all zeros"},
		{"mac-junk", ep2, "172.20.0.9/16", "not-a-mac", `endpoint 222222222222: MAC address "not-a-mac" is not valid`},
	}
	for _, tc := range cases {
		_, err := r.d.CreateEndpoint(ctx, &network.CreateEndpointRequest{NetworkID: netA, EndpointID: tc.ep,
			Interface: &network.EndpointInterface{Address: tc.addr, MacAddress: tc.mac}})
		if err == nil || err.Error() != tc.want {
			t.Errorf("%s: error %v, want %q", tc.name, err, tc.want)
		}
	}
	if err := r.d.CreateNetwork(ctx, createReq(netB, "172.21.0.0/16", "172.21.0.1/16", nil)); err != nil {
		t.Fatal(err)
	}
	_, err := r.d.CreateEndpoint(ctx, &network.CreateEndpointRequest{NetworkID: netB, EndpointID: ep1,
		Interface: &network.EndpointInterface{Address: "172.21.0.2/16"}})
	if want := "endpoint 111111111111 already exists on network aaaaaaaaaaaa: an endpoint ID names one endpoint"; err == nil || err.Error() != want {
		t.Errorf("an endpoint ID on a second network: %v, want %q", err, want)
	}
	if err := r.d.DeleteNetwork(ctx, &network.DeleteNetworkRequest{NetworkID: netB}); err != nil {
		t.Fatal(err)
	}
	_, eps, _ := r.d.Snapshot(ctx)
	if len(eps) != 1 || eps[0].Address.String() != "172.20.0.2/16" {
		t.Fatalf("endpoints after refusals: %+v", eps)
	}

	// The network is in use while ep1's veth lives; once the container is gone it can go.
	err = r.d.DeleteNetwork(ctx, &network.DeleteNetworkRequest{NetworkID: netA})
	if err == nil || err.Error() != "network aaaaaaaaaaaa is still in use by endpoint 111111111111: disconnect or remove them first" {
		t.Fatalf("DeleteNetwork with a live endpoint: %v", err)
	}
	if _, ok := r.links.links["vb-aaaaaaaaaaaa"]; !ok {
		t.Fatal("the refused DeleteNetwork removed the bridge")
	}
	_ = r.links.DeleteVeth(link.HostVethName(ep1)) // the container's namespace went, and its veth with it
	if err := r.d.DeleteNetwork(ctx, &network.DeleteNetworkRequest{NetworkID: netA}); err != nil {
		t.Fatal(err)
	}
	if nets, eps, _ := r.d.Snapshot(ctx); len(nets)+len(eps) != 0 {
		t.Fatalf("state left: %v %v", nets, eps)
	}
}

// TestDriverRestartChecksRecords: a stored network whose subnet the host took since is restored
// (its containers keep working) and said loudly; a damaged record is held back: neither served
// nor programmed, its links and record kept, until Docker deletes the network.
func TestDriverRestartChecksRecords(t *testing.T) {
	ctx := context.Background()
	r := newRig(t)
	if err := r.d.CreateNetwork(ctx, createReq(netA, "172.20.0.0/16", "172.20.0.1/16", nil)); err != nil {
		t.Fatal(err)
	}
	r.run(t, ctx, ep1, "172.20.0.2/16")
	if err := r.d.CreateNetwork(ctx, createReq(netB, "172.21.0.0/16", "172.21.0.1/16", nil)); err != nil {
		t.Fatal(err)
	}
	// The host routes 172.20.0.0/16 itself now, and netB's record is damaged.
	r.hostSubnets = append(r.hostSubnets, hostnets.Subnet{Prefix: netip.MustParsePrefix("172.20.0.0/16"), Link: "ens224"})
	damaged := Network{ID: netB, Bridge: "vb-elsewhere", Subnet: netip.MustParsePrefix("172.21.0.0/16"), Gateway: netip.MustParsePrefix("172.21.0.1/16")}
	if err := r.store.PutNetwork(&damaged); err != nil {
		t.Fatal(err)
	}
	r.open(t)
	if err := r.d.Restore(ctx, true); err != nil {
		t.Fatal(err)
	}
	nets, _, _ := r.d.Snapshot(ctx)
	if len(nets) != 1 || nets[0].ID != netA {
		t.Fatalf("networks served after the restart: %+v, want netA only", nets)
	}
	if len(r.firewall.state.Networks) != 1 || r.firewall.state.Networks[0].Bridge != link.BridgeName(netA) {
		t.Fatalf("rules after the restart: %+v, want netA's", r.firewall.state)
	}
	for _, name := range []string{link.BridgeName(netA), link.HostVethName(ep1), link.BridgeName(netB)} {
		if _, ok := r.links.links[name]; !ok {
			t.Fatalf("link %s was removed at the restart: %v", name, r.links.links)
		}
	}
	if stored, err := r.store.Networks(); err != nil || len(stored) != 2 {
		t.Fatalf("the database lost a network: %v %v", stored, err)
	}
	if err := r.d.DeleteNetwork(ctx, &network.DeleteNetworkRequest{NetworkID: netB}); err != nil {
		t.Fatal(err)
	}
	if stored, err := r.store.Networks(); err != nil || len(stored) != 1 {
		t.Fatalf("Docker deleted the held-back network, but its record stayed: %v %v", stored, err)
	}
}

// Docker reads the scope once, when the plugin starts: local for one engine, global in a
// swarm, where only a global driver's networks may be created (and named across nodes).
func TestCapabilitiesFollowTheSwarmSetting(t *testing.T) {
	r := newRig(t)
	for _, swarm := range []bool{false, true} {
		d, err := New(Options{Store: r.store, Links: r.links, Firewall: r.firewall, Holder: r.holder, Public: public, Swarm: swarm})
		if err != nil {
			t.Fatal(err)
		}
		caps, err := d.GetCapabilities(context.Background())
		want := network.LocalScope
		if swarm {
			want = network.GlobalScope
		}
		if err != nil || caps.Scope != want || caps.ConnectivityScope != want {
			t.Fatalf("swarm %v: GetCapabilities = %+v, %v; want scope and connectivity scope %s", swarm, caps, err, want)
		}
	}
}
