package span_test

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"net"
	"net/netip"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mdlayher/packet"

	"github.com/docker-vic/docker-vic/endpoint/link"
	"github.com/docker-vic/docker-vic/endpoint/span"
	"github.com/docker-vic/docker-vic/endpoint/testns"
)

// testNet is one spanning network of the test bed: its ID, subnet, gateway and gateway MAC.
type testNet struct {
	id     string
	subnet netip.Prefix
	mac    net.HardwareAddr
}

func (n testNet) gateway() netip.Addr { return n.subnet.Addr().Next() }
func (n testNet) host(i int) string   { return fmt.Sprintf("%s", addrAt(n.subnet, 2+i)) }
func (n testNet) bridge() string      { return link.BridgeName(n.id) }
func (n testNet) span() link.Span     { return link.SpanOf(n.id, n.bridge(), 1500) }
func (n testNet) filterNet() span.Net {
	s := n.span()
	return span.Net{Port: s.Port, Wire: s.Wire, Subnet: n.subnet, Gateway: n.gateway()}
}

func addrAt(p netip.Prefix, i int) netip.Addr {
	a := p.Addr()
	for range i {
		a = a.Next()
	}
	return a
}

var nets = []testNet{
	{"aaaaaaaaaaaa01", netip.MustParsePrefix("172.30.7.0/24"), net.HardwareAddr{0x06, 0x56, 0x49, 0, 0, 0x07}},
	{"bbbbbbbbbbbb02", netip.MustParsePrefix("172.30.8.0/24"), net.HardwareAddr{0x06, 0x56, 0x49, 0, 0, 0x08}},
}

// spanBed is two endpoints whose interfaces on the bridge port group meet on a wire (a bridge
// in namespace wire, ports port0 and port1), each with both networks spanning through its
// trunk and one container on each network: ctrs[endpoint][network].
type spanBed struct {
	wire      *testns.NS
	endpoints [2]*testns.NS
	ctrs      [2][2]*testns.NS
}

func newSpanBed(t testing.TB) *spanBed {
	testns.RequirePrivileged(t)
	b := &spanBed{wire: testns.New(t, "spanw")}
	b.wire.Bridge(t, "wire")
	for i := range 2 {
		ep := testns.New(t, "spane")
		b.endpoints[i] = ep
		b.wire.Plug(t, fmt.Sprintf("port%d", i), "wire", ep, "bpg")
		links := link.New(ep.Link)
		must(t, links.EnsureTrunk("bpg"))
		for j, n := range nets {
			must(t, links.EnsureBridge(link.Bridge{Name: n.bridge(), Gateway: netip.PrefixFrom(n.gateway(), n.subnet.Bits()), MAC: n.mac}))
			must(t, links.EnsureSpan(n.span()))
			must(t, links.EnsureSpan(n.span())) // twice converges
			ctr := testns.New(t, "spanc")
			b.ctrs[i][j] = ctr
			ep.Plug(t, fmt.Sprintf("ve-%d", j), n.bridge(), ctr, "eth0", n.host(i)+"/24")
			run(t, ctr, "ip", "route", "add", "default", "via", n.gateway().String())
		}
	}
	return b
}

// TestSpanKeepsNetworksApartAndGatewaysLocal: containers of one network on two endpoints reach
// each other over the shared wire with their own addresses, and each reaches the gateway on
// its own endpoint. Without the filter (the fault), a container that takes an address of the
// other network reaches that network's containers across the wire, and the gateways' frames
// and the ARP requests for them cross it; with the filter, neither.
func TestSpanKeepsNetworksApartAndGatewaysLocal(t *testing.T) {
	b := newSpanBed(t)
	a0, bRemote := b.ctrs[0][0], nets[1].host(1)
	// a0 speaks for network b: an address of its subnet, on link.
	run(t, a0, "ip", "addr", "add", addrAt(nets[1].subnet, 99).String()+"/24", "dev", "eth0")

	seen := b.watchWire(t, func() {
		b.ping(t, 0, 0, nets[0].host(1))
		b.ping(t, 0, 0, nets[0].gateway().String())
		run(t, a0, "busybox", "ping", "-c", "1", "-W", "2", "-I", addrAt(nets[1].subnet, 99).String(), bRemote)
	})
	if seen.fromGateway == 0 && seen.arpForGateway == 0 {
		t.Fatalf("without the filter, no frame of a gateway and no ARP for one crossed the wire: the test shows nothing")
	}

	// No table yet: removing it is done, and touches nothing.
	must(t, span.New(b.endpoints[0].Name).Teardown())
	var filtered []span.Net
	for _, n := range nets {
		filtered = append(filtered, n.filterNet())
	}
	for _, ep := range b.endpoints {
		must(t, span.New(ep.Name).Apply(filtered))
		must(t, span.New(ep.Name).Apply(filtered)) // twice converges
	}
	for _, row := range b.ctrs {
		for _, ctr := range row {
			run(t, ctr, "ip", "neigh", "flush", "all")
		}
	}
	seen = b.watchWire(t, func() {
		for j, n := range nets {
			b.ping(t, 0, j, n.host(1))
			b.ping(t, 1, j, n.host(0))
			b.ping(t, 0, j, n.gateway().String())
			b.ping(t, 1, j, n.gateway().String())
		}
		out, err := exec.Command("ip", "netns", "exec", a0.Name, "busybox", "ping", "-c", "1", "-W", "1", "-I", addrAt(nets[1].subnet, 99).String(), bRemote).CombinedOutput()
		if err == nil {
			t.Errorf("a container of network a that took an address of network b reached %s on the other endpoint: %s", bRemote, out)
		}
	})
	if seen.fromGateway != 0 || seen.arpForGateway != 0 {
		t.Fatalf("with the filter, the wire saw %d frames from a gateway's MAC and %d ARP requests for a gateway", seen.fromGateway, seen.arpForGateway)
	}
	if seen.fromContainers == 0 {
		t.Fatalf("no frame of a container crossed the wire: the pings did not go through it")
	}
	for i, row := range b.ctrs {
		for j, ctr := range row {
			out := run(t, ctr, "ip", "neigh", "show", nets[j].gateway().String())
			if !strings.Contains(out, nets[j].mac.String()) {
				t.Fatalf("container %d/%d knows its gateway as %q, want MAC %s", i, j, out, nets[j].mac)
			}
		}
	}

	// A flush of the ruleset is seen, so that the daemon programs the filter again.
	f := span.New(b.endpoints[1].Name)
	if holds, err := f.Holds(filtered); !holds || err != nil {
		t.Fatalf("Holds of the filter just applied = %v, %v", holds, err)
	}
	run(t, b.endpoints[1], "nft", "flush", "ruleset")
	if holds, err := f.Holds(filtered); holds || err != nil {
		t.Fatalf("Holds after nft flush ruleset = %v, %v; want false", holds, err)
	}
	must(t, f.Apply(filtered))

	for _, ep := range b.endpoints {
		must(t, span.New(ep.Name).Teardown())
		if out := run(t, ep, "nft", "list", "tables"); strings.Contains(out, "bridge "+span.TableName) {
			t.Fatalf("after Teardown, %s still lists %q", ep.Name, out)
		}
	}
}

// TestSpanOfNoNetworkIsClosed: a span whose ends the filter does not know carries nothing, and
// carries its network's frames once the filter knows it.
func TestSpanOfNoNetworkIsClosed(t *testing.T) {
	b := newSpanBed(t)
	var filtered []span.Net
	for _, n := range nets {
		filtered = append(filtered, n.filterNet())
	}
	for _, ep := range b.endpoints {
		must(t, span.New(ep.Name).Apply(filtered))
	}
	b.ping(t, 0, 0, nets[0].host(1))
	// Network a on endpoint 0 reaches the trunk only through a span the filter does not know.
	links := link.New(b.endpoints[0].Link)
	must(t, links.DeleteSpan(nets[0].span()))
	unknown := link.Span{Bridge: nets[0].bridge(), Port: "vs-unknown", Wire: "vw-unknown", MTU: 1500}
	must(t, links.EnsureSpan(unknown))
	run(t, b.ctrs[0][0], "ip", "neigh", "flush", "all")
	out, err := exec.Command("ip", "netns", "exec", b.ctrs[0][0].Name, "busybox", "ping", "-c", "1", "-W", "1", nets[0].host(1)).CombinedOutput()
	if err == nil {
		t.Fatalf("a container reached %s through a span the filter does not know: %s", nets[0].host(1), out)
	}
	known := append(filtered[1:], span.Net{Port: unknown.Port, Wire: unknown.Wire, Subnet: nets[0].subnet, Gateway: nets[0].gateway()})
	must(t, span.New(b.endpoints[0].Name).Apply(known))
	b.ping(t, 0, 0, nets[0].host(1))
}

// TestFilterOfManyNetworks: an endpoint with many spanning networks gets its filter, in one
// transaction (the filter of the first form, 12 rules a network, overflowed netlink's buffer
// from 12 networks on).
func TestFilterOfManyNetworks(t *testing.T) {
	ns := testns.New(t, "spanm")
	var many []span.Net
	for i := range 250 {
		many = append(many, span.Net{Port: fmt.Sprintf("vs-many%d", i), Wire: fmt.Sprintf("vw-many%d", i),
			Subnet: netip.MustParsePrefix(fmt.Sprintf("10.78.%d.0/24", i)), Gateway: netip.MustParseAddr(fmt.Sprintf("10.78.%d.1", i))})
	}
	f := span.New(ns.Name)
	must(t, f.Apply(many))
	if holds, err := f.Holds(many); !holds || err != nil {
		t.Fatalf("Holds of the filter of %d networks just applied = %v, %v", len(many), holds, err)
	}
	if holds, err := f.Holds(many[1:]); holds || err != nil {
		t.Fatalf("Holds of the filter of one network fewer = %v, %v; want false", holds, err)
	}
	must(t, f.Teardown())
}

// wireSeen counts what crossed the wire.
type wireSeen struct{ fromGateway, arpForGateway, fromContainers int }

// watchWire records the frames on both ports of the wire while fn runs.
func (b *spanBed) watchWire(t *testing.T, fn func()) wireSeen {
	t.Helper()
	var (
		seen  wireSeen
		mu    sync.Mutex
		wg    sync.WaitGroup
		conns []*packet.Conn
	)
	for i := range 2 {
		must(t, b.wire.Do(func() error {
			ifi, err := net.InterfaceByName(fmt.Sprintf("port%d", i))
			if err != nil {
				return err
			}
			c, err := packet.Listen(ifi, packet.Raw, 0x0003, nil) // ETH_P_ALL
			conns = append(conns, c)
			return err
		}))
	}
	for _, c := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			buf := make([]byte, 2048)
			for {
				n, _, err := c.ReadFrom(buf)
				if err != nil {
					return
				}
				mu.Lock()
				seen.count(buf[:n])
				mu.Unlock()
			}
		}()
	}
	fn()
	time.Sleep(200 * time.Millisecond)
	for _, c := range conns {
		_ = c.Close()
	}
	wg.Wait()
	return seen
}

// count classifies one Ethernet frame.
func (s *wireSeen) count(f []byte) {
	if len(f) < 14 {
		return
	}
	for _, n := range nets {
		if bytes.Equal(f[6:12], n.mac) {
			s.fromGateway++
		}
		gw := n.gateway().As4()
		if binary.BigEndian.Uint16(f[12:14]) == 0x0806 && len(f) >= 14+28 && bytes.Equal(f[14+24:14+28], gw[:]) {
			s.arpForGateway++
		}
	}
	if binary.BigEndian.Uint16(f[12:14]) == 0x0800 && len(f) >= 14+20 {
		src := netip.AddrFrom4([4]byte(f[14+12 : 14+16]))
		for _, n := range nets {
			if n.subnet.Contains(src) {
				s.fromContainers++
			}
		}
	}
}

// ping from container ctrs[ep][net] to addr must succeed.
func (b *spanBed) ping(t *testing.T, ep, net int, addr string) {
	t.Helper()
	run(t, b.ctrs[ep][net], "busybox", "ping", "-c", "1", "-W", "2", addr)
}

func run(t testing.TB, ns *testns.NS, args ...string) string {
	t.Helper()
	out, err := exec.Command("ip", append([]string{"netns", "exec", ns.Name}, args...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s in %s: %v: %s", strings.Join(args, " "), ns.Name, err, out)
	}
	return string(out)
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
