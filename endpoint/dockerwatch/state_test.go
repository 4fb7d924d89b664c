package dockerwatch

import (
	"context"
	"net"
	"net/netip"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/network"
	"github.com/moby/moby/client"

	"github.com/docker-vic/docker-vic/endpoint/nat"
	"github.com/docker-vic/docker-vic/ipamdriver"
	"github.com/docker-vic/docker-vic/netdriver"
)

// fakeState is Docker's networks and containers as a rebuild reads them; inspecting a
// container named in gone answers "not found", as for a container removed meanwhile.
type fakeState struct {
	nets       []network.Network
	containers []container.InspectResponse
	gone       string
}

func (f *fakeState) NetworkList(context.Context, client.NetworkListOptions) (client.NetworkListResult, error) {
	var res client.NetworkListResult
	for _, n := range f.nets {
		res.Items = append(res.Items, network.Summary{Network: n})
	}
	return res, nil
}

func (f *fakeState) ContainerList(_ context.Context, o client.ContainerListOptions) (client.ContainerListResult, error) {
	var res client.ContainerListResult
	for _, c := range f.containers {
		res.Items = append(res.Items, container.Summary{ID: c.ID, Names: []string{c.Name},
			NetworkSettings: &container.NetworkSettingsSummary{Networks: c.NetworkSettings.Networks}})
	}
	return res, nil
}

func (f *fakeState) ContainerInspect(_ context.Context, id string, _ client.ContainerInspectOptions) (client.ContainerInspectResult, error) {
	for _, c := range f.containers {
		if c.ID == id && c.Name != f.gone {
			return client.ContainerInspectResult{Container: c}, nil
		}
	}
	return client.ContainerInspectResult{}, errdefs.ErrNotFound.WithMessage("no such container: " + id)
}

const (
	webNet   = "aaaaaaaaaaaa0000000000000000000000000000000000000000000000000001"
	dbNet    = "bbbbbbbbbbbb0000000000000000000000000000000000000000000000000002"
	consNet  = "cccccccccccc0000000000000000000000000000000000000000000000000003"
	plainNet = "dddddddddddd0000000000000000000000000000000000000000000000000004"
	bridge0  = "eeeeeeeeeeee0000000000000000000000000000000000000000000000000005"
)

var publicAddr = netip.MustParseAddr("198.51.100.2")

func vicNet(id, name, subnet, gw string, opts map[string]string, ipamOpts map[string]string) network.Network {
	n := network.Network{ID: id, Name: name, Driver: "vic", Options: opts,
		IPAM: network.IPAM{Driver: "vic", Options: ipamOpts, Config: []network.IPAMConfig{{Subnet: netip.MustParsePrefix(subnet), Gateway: netip.MustParseAddr(gw)}}}}
	return n
}

// ctr is a container with endpoints "network:endpointID:address/bits:gateway" ("" for none).
func ctr(name string, hc *container.HostConfig, exposed []string, endpoints ...string) container.InspectResponse {
	c := container.InspectResponse{ID: strings.Repeat(name[:1], 64), Name: "/" + name, HostConfig: hc, Config: &container.Config{ExposedPorts: network.PortSet{}},
		NetworkSettings: &container.NetworkSettings{SandboxKey: "/var/run/docker/netns/" + name, Networks: map[string]*network.EndpointSettings{}}}
	if c.HostConfig == nil {
		c.HostConfig = &container.HostConfig{}
	}
	for _, p := range exposed {
		c.Config.ExposedPorts[network.MustParsePort(p)] = struct{}{}
	}
	for i, e := range endpoints {
		parts := strings.Split(e, ":")
		es := &network.EndpointSettings{NetworkID: parts[0], EndpointID: parts[1]}
		if parts[2] != "" {
			p := netip.MustParsePrefix(parts[2])
			es.IPAddress, es.IPPrefixLen = p.Addr(), p.Bits()
			es.MacAddress = network.HardwareAddr(net.HardwareAddr{2, 0x42, 0, 0, byte(len(name)), byte(i)})
		}
		if parts[3] != "" {
			es.Gateway = netip.MustParseAddr(parts[3])
		}
		c.NetworkSettings.Networks[name+"-net"+string(rune('0'+i))] = es
	}
	return c
}

func bindings(spec map[string][]string) network.PortMap {
	m := network.PortMap{}
	for port, hosts := range spec {
		for _, h := range hosts {
			ip, hp, _ := strings.Cut(h, "|")
			b := network.PortBinding{HostPort: hp}
			if ip != "" {
				b.HostIP = netip.MustParseAddr(ip)
			}
			m[network.MustParsePort(port)] = append(m[network.MustParsePort(port)], b)
		}
	}
	return m
}

func element(proto nat.Proto, host string, target string) nat.Element {
	return nat.Element{Proto: proto, Host: netip.MustParseAddrPort(host), Target: netip.MustParseAddrPort(target)}
}

func TestReadStateFindsWhatTheDriversHad(t *testing.T) {
	api := &fakeState{nets: []network.Network{
		vicNet(webNet, "web", "172.16.0.0/16", "172.16.0.1", nil, nil),
		vicNet(dbNet, "db", "172.17.0.0/16", "172.17.0.1", map[string]string{netdriver.OptionMTU: "1400"}, nil),
		vicNet(consNet, "consumer", "203.0.113.128/26", "203.0.113.129", map[string]string{netdriver.OptionPortGroup: "External-Consumer"},
			map[string]string{ipamdriver.OptionPortGroup: "External-Consumer"}),
		{ID: plainNet, Name: "plain", Driver: "vic", IPAM: network.IPAM{Driver: "default", Config: []network.IPAMConfig{{Subnet: netip.MustParsePrefix("10.9.0.0/24"), Gateway: netip.MustParseAddr("10.9.0.1")}}}},
		{ID: bridge0, Name: "bridge", Driver: "bridge", IPAM: network.IPAM{Driver: "default"}},
	}}
	api.containers = []container.InspectResponse{
		ctr("alpha", &container.HostConfig{PortBindings: bindings(map[string][]string{"80/tcp": {"|8080"}, "443/tcp": {"|"}, "53/udp": {"127.0.0.1|0"}})}, nil,
			webNet+":a1a1a1a1a1a10000:172.16.0.2/16:172.16.0.1"),
		ctr("bravo", &container.HostConfig{PublishAllPorts: true}, []string{"80/tcp", "8000/tcp"},
			webNet+":b1b1b1b1b1b10000:172.16.0.3/16:172.16.0.1"),
		// On two vic networks: "charlie-net0" (db) sorts first and publishes.
		ctr("charlie", &container.HostConfig{PortBindings: bindings(map[string][]string{"80/tcp": {"|9000-9010"}})}, nil,
			dbNet+":c1c1c1c1c1c10000:172.17.0.2/16:172.17.0.1", webNet+":c2c2c2c2c2c20000:172.16.0.4/16:172.16.0.1"),
		ctr("delta", &container.HostConfig{PortBindings: bindings(map[string][]string{"80/tcp": {"|8081"}})}, []string{"53/udp"},
			consNet+":d1d1d1d1d1d10000:203.0.113.140/26:203.0.113.129"),
		// Docker's bridge gives echo its gateway and its ports: the vic endpoint publishes nothing.
		ctr("echo", &container.HostConfig{PortBindings: bindings(map[string][]string{"80/tcp": {"|7000"}})}, nil,
			bridge0+":e1e1e1e1e1e10000:172.30.0.2/16:172.30.0.1", webNet+":e2e2e2e2e2e20000:172.16.0.5/16:172.16.0.1"),
		ctr("foxtrot", nil, nil, plainNet+":f1f1f1f1f1f10000:10.9.0.2/24:10.9.0.1"),
		ctr("golf", nil, nil, webNet+"::172.16.0.9/16:"), // stopped: no endpoint
		ctr("hotel", nil, nil, webNet+":h1h1h1h1h1h10000:172.16.0.6/16:172.16.0.1"),
	}
	api.gone = "/hotel"
	published := []nat.Element{
		element(nat.TCP, "198.51.100.2:8080", "172.16.0.2:80"), element(nat.TCP, "127.0.0.1:8080", "172.16.0.2:80"),
		element(nat.TCP, "198.51.100.2:49153", "172.16.0.2:443"), element(nat.TCP, "127.0.0.1:49153", "172.16.0.2:443"),
		element(nat.UDP, "127.0.0.1:49160", "172.16.0.2:53"),
		element(nat.TCP, "198.51.100.2:49154", "172.16.0.3:80"), element(nat.TCP, "127.0.0.1:49154", "172.16.0.3:80"),
		element(nat.TCP, "198.51.100.2:9003", "172.17.0.2:80"), element(nat.TCP, "127.0.0.1:9003", "172.17.0.2:80"),
	}
	st, err := ReadState(context.Background(), api, "vic", published, publicAddr)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"endpoint b1b1b1b1b1b1: the kernel shows no host port for -p 0:8000/tcp: it is published again on a free one"}; !slices.Equal(st.Problems, want) {
		t.Errorf("problems %q, want %q", st.Problems, want)
	}
	nets, eps, pools := st.Drivers()

	var netIDs []string
	for _, n := range nets {
		netIDs = append(netIDs, n.ID[:4])
	}
	if !slices.Equal(netIDs, []string{"aaaa", "bbbb", "cccc", "dddd"}) {
		t.Fatalf("network driver's networks %q, want the four vic networks", netIDs)
	}
	if got := nets[1]; got.Options[netdriver.OptionMTU] != "1400" || len(got.Subnets) != 1 || got.Subnets[0].Gateway.String() != "172.17.0.1" {
		t.Fatalf("network db found as %+v", got)
	}
	ports := map[string]string{}
	for _, e := range eps {
		var parts []string
		for _, b := range e.Bindings {
			parts = append(parts, b.String())
		}
		for _, x := range e.Exposed {
			parts = append(parts, "expose "+netdriver.PortBinding{Proto: x.Proto, Port: x.Port}.String())
		}
		ports[e.Create.EndpointID[:2]] = strings.Join(parts, ", ")
		if e.Create.Interface.MacAddress == "" || e.Sandbox == "" {
			t.Errorf("endpoint %s found without MAC or sandbox: %+v", e.Create.EndpointID, e)
		}
	}
	want := map[string]string{
		"a1": "-p 127.0.0.1:49160:53/udp, -p 8080:80/tcp, -p 49153:443/tcp, expose -p 0:53/udp, expose -p 0:80/tcp, expose -p 0:443/tcp",
		"b1": "-p 49154:80/tcp, -p 0:8000/tcp, expose -p 0:80/tcp, expose -p 0:8000/tcp",
		"c1": "-p 9003:80/tcp, expose -p 0:80/tcp",
		"c2": "",
		"d1": "-p 8081:80/tcp, expose -p 0:53/udp, expose -p 0:80/tcp",
		"e2": "",
		"f1": "",
	}
	if !reflect.DeepEqual(ports, want) {
		t.Fatalf("ports by endpoint:\n%v\nwant:\n%v", ports, want)
	}
	var got []string
	for _, p := range pools {
		var addrs []string
		for _, a := range p.Addresses {
			addrs = append(addrs, a.Address.String())
		}
		slices.Sort(addrs)
		got = append(got, p.Name+" "+p.Subnet.String()+" gw "+p.Gateway.String()+" pg "+p.PortGroup+": "+strings.Join(addrs, " "))
	}
	wantPools := []string{
		"web 172.16.0.0/16 gw 172.16.0.1 pg : 172.16.0.2/16 172.16.0.3/16 172.16.0.4/16 172.16.0.5/16",
		"db 172.17.0.0/16 gw 172.17.0.1 pg : 172.17.0.2/16",
		"consumer 203.0.113.128/26 gw 203.0.113.129 pg External-Consumer: 203.0.113.140/26",
	}
	if !slices.Equal(got, wantPools) {
		t.Fatalf("pools:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(wantPools, "\n"))
	}
}
