package link

import (
	"bufio"
	"fmt"
	"net"
	"net/netip"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/vishvananda/netlink"

	"github.com/docker-vic/docker-vic/endpoint/testns"
)

const (
	netID = "0123456789abcdef0123"
	epID  = "fedcba9876543210fedc"
)

var gateway = netip.MustParsePrefix("172.31.251.1/24")

// moveAndAddress moves link name into ns, sets addr on it and brings it up.
func moveAndAddress(t *testing.T, from *netlink.Handle, name string, to *testns.NS, addr string) {
	t.Helper()
	link, err := from.LinkByName(name)
	if err != nil {
		t.Fatal(err)
	}
	if err := from.LinkSetNsFd(link, int(to.Handle)); err != nil {
		t.Fatal(err)
	}
	link, err = to.Link.LinkByName(name)
	if err != nil {
		t.Fatal(err)
	}
	a, _ := netlink.ParseAddr(addr)
	if err := to.Link.AddrAdd(link, a); err != nil {
		t.Fatal(err)
	}
	if err := to.Link.LinkSetUp(link); err != nil {
		t.Fatal(err)
	}
}

// echoServer listens on addr inside ns and answers each line with "echo: line".
func echoServer(t *testing.T, ns *testns.NS, addr string) {
	t.Helper()
	var l net.Listener
	if err := ns.Do(func() (err error) { l, err = net.Listen("tcp", addr); return err }); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			line, _ := bufio.NewReader(c).ReadString('\n')
			fmt.Fprintf(c, "echo: %s", line)
			c.Close()
		}
	}()
}

// dial connects from inside ns to addr, sends a line and returns the answer.
func dial(ns *testns.NS, addr string) (string, error) {
	var answer string
	err := ns.Do(func() error {
		c, err := net.DialTimeout("tcp", addr, 2*time.Second)
		if err != nil {
			return err
		}
		defer c.Close()
		_ = c.SetDeadline(time.Now().Add(2 * time.Second))
		fmt.Fprintln(c, "hello")
		answer, err = bufio.NewReader(c).ReadString('\n')
		return err
	})
	return strings.TrimSpace(answer), err
}

func TestBridgeAndVethCarryTraffic(t *testing.T) {
	endpoint := testns.New(t, "vlk")
	container := testns.New(t, "vlk")
	l := New(endpoint.Link)
	br := Bridge{Name: BridgeName(netID), Gateway: gateway}
	mac, _ := net.ParseMAC("02:42:ac:1f:fb:02")
	veth := Veth{Host: HostVethName(epID), Peer: PeerName(epID), Bridge: br.Name, MAC: mac}
	for i := 0; i < 2; i++ { // twice: ensure converges
		if err := l.EnsureBridge(br); err != nil {
			t.Fatal(err)
		}
		if err := l.EnsureVeth(veth); err != nil {
			t.Fatal(err)
		}
	}
	if err := endpoint.Do(func() error { return SetRouteLocalnet(br.Name) }); err != nil {
		t.Fatal(err)
	}

	bridge, _ := endpoint.Link.LinkByName("vb-0123456789ab")
	addrs, _ := endpoint.Link.AddrList(bridge, netlink.FAMILY_V4)
	if len(addrs) != 1 || addrs[0].IPNet.String() != "172.31.251.1/24" {
		t.Fatalf("bridge addresses %v, want exactly the gateway", addrs)
	}
	host, _ := endpoint.Link.LinkByName("ve-fedcba987654")
	if host.Attrs().MasterIndex != bridge.Attrs().Index {
		t.Fatal("the host end of the veth is not on the bridge")
	}
	if pi, err := endpoint.Link.LinkGetProtinfo(host); err != nil || !pi.Hairpin {
		t.Fatalf("hairpin is off on the bridge port: %+v %v", pi, err)
	}
	peer, _ := endpoint.Link.LinkByName("vc-fedcba987654")
	if peer.Attrs().HardwareAddr.String() != mac.String() {
		t.Fatalf("peer MAC %s, want %s", peer.Attrs().HardwareAddr, mac)
	}
	if err := endpoint.Do(func() error {
		b, err := os.ReadFile("/proc/sys/net/ipv4/conf/vb-0123456789ab/route_localnet")
		if err == nil && strings.TrimSpace(string(b)) != "1" {
			err = fmt.Errorf("route_localnet is %s", b)
		}
		return err
	}); err != nil {
		t.Fatal(err)
	}

	// The container side, moved as Docker would, talks to the endpoint through the bridge.
	moveAndAddress(t, endpoint.Link, "vc-fedcba987654", container, "172.31.251.2/24")
	echoServer(t, endpoint, "172.31.251.1:7070")
	if got, err := dial(container, "172.31.251.1:7070"); err != nil || got != "echo: hello" {
		t.Fatalf("container to endpoint over the bridge: %q %v", got, err)
	}

	owned, _ := l.Owned()
	if strings.Join(owned, ",") != "vb-0123456789ab,ve-fedcba987654" {
		t.Fatalf("owned links %v", owned)
	}
	for i := 0; i < 2; i++ { // twice: missing means done
		if err := l.DeleteVeth(veth.Host); err != nil {
			t.Fatal(err)
		}
		if err := l.DeleteBridge(br.Name); err != nil {
			t.Fatal(err)
		}
	}
	if owned, _ := l.Owned(); len(owned) != 0 {
		t.Fatalf("links left after delete: %v", owned)
	}
	if _, err := container.Link.LinkByName("vc-fedcba987654"); err == nil {
		t.Fatal("deleting the host end must take the container end with it")
	}
}

func TestEnsureBridgeReplacesForeignAddress(t *testing.T) {
	endpoint := testns.New(t, "vlk")
	l := New(endpoint.Link)
	br := Bridge{Name: BridgeName(netID), Gateway: gateway}
	if err := l.EnsureBridge(br); err != nil {
		t.Fatal(err)
	}
	br.Gateway = netip.MustParsePrefix("172.31.252.1/24")
	if err := l.EnsureBridge(br); err != nil {
		t.Fatal(err)
	}
	link, _ := endpoint.Link.LinkByName(br.Name)
	addrs, _ := endpoint.Link.AddrList(link, netlink.FAMILY_V4)
	if len(addrs) != 1 || addrs[0].IPNet.String() != "172.31.252.1/24" {
		t.Fatalf("addresses %v", addrs)
	}
}

func TestEnsureRefusesForeignLinkOfSameName(t *testing.T) {
	endpoint := testns.New(t, "vlk")
	attrs := netlink.NewLinkAttrs()
	attrs.Name = BridgeName(netID)
	if err := endpoint.Link.LinkAdd(&netlink.Veth{LinkAttrs: attrs, PeerName: "vlk-peer"}); err != nil {
		t.Fatal(err)
	}
	err := New(endpoint.Link).EnsureBridge(Bridge{Name: attrs.Name, Gateway: gateway})
	if err == nil || err.Error() != `link "vb-0123456789ab" exists and is a veth, not a bridge` {
		t.Fatalf("got %v", err)
	}
}

// A macvlan on the endpoint's NIC reaches another host on the port group's wire with its own MAC.
func TestMacvlanReachesThePortGroup(t *testing.T) {
	endpoint := testns.New(t, "vlk")
	wire := testns.New(t, "vlk")
	container := testns.New(t, "vlk")
	attrs := netlink.NewLinkAttrs()
	attrs.Name = "vlk-uplink"
	if err := endpoint.Link.LinkAdd(&netlink.Veth{LinkAttrs: attrs, PeerName: "vlk-wire"}); err != nil {
		t.Fatal(err)
	}
	uplink, _ := endpoint.Link.LinkByName("vlk-uplink")
	if err := endpoint.Link.LinkSetUp(uplink); err != nil {
		t.Fatal(err)
	}
	moveAndAddress(t, endpoint.Link, "vlk-wire", wire, "203.0.113.250/24")

	l := New(endpoint.Link)
	mac, _ := net.ParseMAC("02:42:cb:00:71:0a")
	m := Macvlan{Name: PeerName(epID), Parent: "vlk-uplink", MAC: mac}
	for i := 0; i < 2; i++ {
		if err := l.EnsureMacvlan(m); err != nil {
			t.Fatal(err)
		}
	}
	moveAndAddress(t, endpoint.Link, m.Name, container, "203.0.113.10/24")
	echoServer(t, container, "203.0.113.10:8080")
	if got, err := dial(wire, "203.0.113.10:8080"); err != nil || got != "echo: hello" {
		t.Fatalf("port group host to container: %q %v", got, err)
	}
	var neighMAC string
	_ = wire.Do(func() error {
		neigh, _ := netlink.NeighList(0, netlink.FAMILY_V4)
		for _, n := range neigh {
			if n.IP.String() == "203.0.113.10" {
				neighMAC = n.HardwareAddr.String()
			}
		}
		return nil
	})
	if neighMAC != mac.String() {
		t.Fatalf("the wire learned MAC %q for the container, want %s", neighMAC, mac)
	}
	if err := l.DeleteMacvlan(m.Name); err != nil {
		t.Fatal(err)
	}
}
