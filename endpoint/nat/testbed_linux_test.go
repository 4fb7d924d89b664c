package nat

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vishvananda/netlink"

	"github.com/docker-vic/docker-vic/endpoint/link"
	"github.com/docker-vic/docker-vic/endpoint/testns"
)

// testbed is an endpoint namespace with two bridge networks, three containers and an outside
// machine on the public and management wires:
//
//	c1 (172.31.250.2), c2 (.3) --- vbr0 172.31.250.1/24 \
//	c3 (172.31.251.2)          --- vbr1 172.31.251.1/24  ep --- pub0 198.51.100.2/24 --- out 198.51.100.10
//	                                                         --- mgmt0 203.0.113.2/24 --- out 203.0.113.10
type testbed struct {
	t     *testing.T
	ns    map[string]*testns.NS // by short name: ep, c1, c2, c3, out
	epRun Runner
}

var (
	tbPublic = netip.MustParseAddr("198.51.100.2")
	tbNet0   = BridgeNetwork{Bridge: "vbr0", Subnet: netip.MustParsePrefix("172.31.250.0/24")}
	tbNet1   = BridgeNetwork{Bridge: "vbr1", Subnet: netip.MustParsePrefix("172.31.251.0/24")}
)

func newTestbed(t *testing.T) *testbed {
	t.Helper()
	tb := &testbed{t: t, ns: make(map[string]*testns.NS)}
	for _, name := range []string{"ep", "c1", "c2", "c3", "out"} {
		tb.ns[name] = testns.New(t, "vnt")
	}
	tb.epRun = NamespaceRunner(tb.ns["ep"].Name)
	tb.wire()
	return tb
}

func (tb *testbed) must(err error) {
	tb.t.Helper()
	if err != nil {
		tb.t.Fatal(err)
	}
}

// wire builds the links, addresses, routes and sysctls of the testbed.
func (tb *testbed) wire() {
	t, ep := tb.t, tb.ns["ep"]
	t.Helper()
	ep.Bridge(t, "vbr0", "172.31.250.1/24")
	ep.Bridge(t, "vbr1", "172.31.251.1/24")
	legs := []struct {
		host, bridge, peerNS, peer, addr, gw string
	}{
		{"c1p", "vbr0", "c1", "eth0", "172.31.250.2/24", "172.31.250.1"},
		{"c2p", "vbr0", "c2", "eth0", "172.31.250.3/24", "172.31.250.1"},
		{"c3p", "vbr1", "c3", "eth0", "172.31.251.2/24", "172.31.251.1"},
		{"pub0", "", "out", "eth0", "198.51.100.10/24", ""},
		{"mgmt0", "", "out", "eth1", "203.0.113.10/24", ""},
	}
	for _, l := range legs {
		peer := tb.ns[l.peerNS]
		ep.Plug(t, l.host, l.bridge, peer, l.peer, l.addr)
		if l.bridge != "" { // as link.EnsureVeth does for the driver
			port, err := ep.Link.LinkByName(l.host)
			tb.must(err)
			tb.must(ep.Link.LinkSetHairpin(port, true))
		}
		if l.gw != "" {
			if err := peer.Link.RouteAdd(&netlink.Route{Gw: net.ParseIP(l.gw)}); err != nil {
				t.Fatalf("default route in %s: %v", l.peerNS, err)
			}
		}
	}
	ep.LinkUp(t, "pub0", "198.51.100.2/24")
	ep.LinkUp(t, "mgmt0", "203.0.113.2/24")
	tb.must(ep.Do(func() error {
		for _, kv := range [][2]string{
			{"net/ipv4/ip_forward", "1"},
			{"net/bridge/bridge-nf-call-iptables", "1"}, // as Docker leaves it (br_netfilter)
		} {
			p := filepath.Join("/proc/sys", kv[0])
			if _, err := os.Stat(p); err != nil {
				continue // br_netfilter not loaded: bridged traffic skips iptables
			}
			if err := os.WriteFile(p, []byte(kv[1]), 0o644); err != nil {
				return fmt.Errorf("writing %s: %w", p, err)
			}
		}
		for _, br := range []string{"vbr0", "vbr1"} {
			if err := link.SetRouteLocalnet(br); err != nil {
				return err
			}
		}
		return nil
	}))
}

// iptables runs one iptables command in the endpoint namespace, as an admin would.
func (tb *testbed) iptables(t *testing.T, args ...string) {
	t.Helper()
	if _, err := tb.epRun.Run(context.Background(), nil, "iptables", args...); err != nil {
		t.Fatal(err)
	}
}

// nft runs one nft command in the endpoint namespace (scripts/setup.sh installs nft).
func (tb *testbed) nft(t *testing.T, command string) {
	t.Helper()
	if _, err := tb.epRun.Run(context.Background(), nil, "nft", strings.Fields(command)...); err != nil {
		t.Fatal(err)
	}
}

// serve starts a TCP and a UDP server on port in namespace ns; each answers one line naming
// the server and the peer address it sees.
func (tb *testbed) serve(ns string, port int) {
	tb.t.Helper()
	var tl net.Listener
	var ul net.PacketConn
	tb.must(tb.ns[ns].Do(func() error {
		var err error
		if tl, err = net.Listen("tcp4", fmt.Sprintf(":%d", port)); err != nil {
			return err
		}
		ul, err = net.ListenPacket("udp4", fmt.Sprintf(":%d", port))
		return err
	}))
	tb.t.Cleanup(func() { tl.Close(); ul.Close() })
	go func() {
		for {
			c, err := tl.Accept()
			if err != nil {
				return
			}
			fmt.Fprintf(c, "%s %s\n", ns, c.RemoteAddr())
			c.Close()
		}
	}()
	go func() {
		buf := make([]byte, 64)
		for {
			_, from, err := ul.ReadFrom(buf)
			if err != nil {
				return
			}
			_, _ = ul.WriteTo(fmt.Appendf(nil, "%s %s\n", ns, from), from)
		}
	}()
}

// dial connects from namespace ns to addr over network (tcp4 or udp4) and returns the
// server's greeting: "SERVER PEER-ADDR".
func (tb *testbed) dial(ns, network, addr string, timeout time.Duration) (string, error) {
	var line string
	err := tb.ns[ns].Do(func() error {
		c, err := net.DialTimeout(network, addr, timeout)
		if err != nil {
			return err
		}
		defer c.Close()
		_ = c.SetDeadline(time.Now().Add(timeout))
		if network == "udp4" {
			if _, err := c.Write([]byte("hello\n")); err != nil {
				return err
			}
		}
		line, err = bufio.NewReader(c).ReadString('\n')
		line = strings.TrimSpace(line)
		return err
	})
	return line, err
}
