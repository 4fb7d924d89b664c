package nat

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"github.com/docker-vic/docker-vic/endpoint/link"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
)

// nsPrefix starts the name of every namespace the kernel tests create.
const nsPrefix = "vnt-"

// netnsDir is where named namespaces are bind-mounted (ip netns, vishvananda/netns).
const netnsDir = "/run/netns"

// requireRoot skips a kernel test when not root, unless VIC_REQUIRE_PRIVILEGED=1 (CI).
func requireRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() == 0 {
		return
	}
	if os.Getenv("VIC_REQUIRE_PRIVILEGED") == "1" {
		t.Fatal("kernel test needs root (VIC_REQUIRE_PRIVILEGED=1)")
	}
	t.Skip("kernel test needs root")
}

// testbed is an endpoint namespace with two bridge networks, three containers and an outside
// machine on the public and management wires:
//
//	c1 (172.31.250.2), c2 (.3) --- vbr0 172.31.250.1/24 \
//	c3 (172.31.251.2)          --- vbr1 172.31.251.1/24  ep --- pub0 198.51.100.2/24 --- out 198.51.100.10
//	                                                         --- mgmt0 203.0.113.2/24 --- out 203.0.113.10
type testbed struct {
	t       *testing.T
	prefix  string
	ns      map[string]netns.NsHandle // by short name: ep, c1, c2, c3, out
	epRun   Runner
	closers []func()
}

var (
	tbPublic = netip.MustParseAddr("198.51.100.2")
	tbMgmt   = netip.MustParseAddr("203.0.113.2")
	tbOut    = netip.MustParseAddr("198.51.100.10")
	tbNet0   = BridgeNetwork{Bridge: "vbr0", Subnet: netip.MustParsePrefix("172.31.250.0/24")}
	tbNet1   = BridgeNetwork{Bridge: "vbr1", Subnet: netip.MustParsePrefix("172.31.251.0/24")}
)

func newTestbed(t *testing.T) *testbed {
	t.Helper()
	requireRoot(t)
	removeStaleNamespaces(t)
	suffix := make([]byte, 3)
	_, _ = rand.Read(suffix)
	tb := &testbed{t: t, prefix: nsPrefix + hex.EncodeToString(suffix), ns: make(map[string]netns.NsHandle)}
	t.Cleanup(tb.close)
	for _, name := range []string{"ep", "c1", "c2", "c3", "out"} {
		tb.ns[name] = tb.newNamespace(name)
	}
	tb.epRun = NamespaceRunner(tb.nsName("ep"))
	tb.must(tb.wire())
	return tb
}

func (tb *testbed) nsName(short string) string { return tb.prefix + "-" + short }

func (tb *testbed) must(err error) {
	tb.t.Helper()
	if err != nil {
		tb.t.Fatal(err)
	}
}

// newNamespace creates a named namespace on a locked thread that is never unlocked, so the
// thread dies with its goroutine instead of going back to the pool in the new namespace.
func (tb *testbed) newNamespace(short string) netns.NsHandle {
	tb.t.Helper()
	name := tb.nsName(short)
	type result struct {
		h   netns.NsHandle
		err error
	}
	done := make(chan result, 1)
	go func() {
		runtime.LockOSThread()
		h, err := netns.NewNamed(name)
		done <- result{h, err}
	}()
	r := <-done
	if r.err != nil {
		tb.t.Fatalf("creating namespace %q: %v", name, r.err)
	}
	tb.closers = append(tb.closers, func() {
		r.h.Close()
		_ = netns.DeleteNamed(name)
	})
	return r.h
}

func (tb *testbed) close() {
	for i := len(tb.closers) - 1; i >= 0; i-- {
		tb.closers[i]()
	}
}

// removeStaleNamespaces deletes vnt-* namespaces that an interrupted run left behind (older
// than a minute, so a concurrent run keeps its own).
func removeStaleNamespaces(t *testing.T) {
	entries, _ := os.ReadDir(netnsDir)
	for _, e := range entries {
		if !strings.HasPrefix(e.Name(), nsPrefix) {
			continue
		}
		if info, err := e.Info(); err == nil && time.Since(info.ModTime()) > time.Minute {
			if err := netns.DeleteNamed(e.Name()); err != nil {
				t.Logf("removing stale namespace %q: %v", e.Name(), err)
			}
		}
	}
}

// inNS runs fn on a thread that entered ns. The thread stays locked and dies afterwards.
func inNS(ns netns.NsHandle, fn func() error) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		if err := netns.Set(ns); err != nil {
			errc <- fmt.Errorf("entering namespace: %w", err)
			return
		}
		errc <- fn()
	}()
	return <-errc
}

// wire builds the links, addresses, routes and sysctls of the testbed.
func (tb *testbed) wire() error {
	h := make(map[string]*netlink.Handle)
	for name, ns := range tb.ns {
		nh, err := netlink.NewHandleAt(ns)
		if err != nil {
			return fmt.Errorf("netlink handle in %s: %w", name, err)
		}
		defer nh.Close()
		h[name] = nh
		if err := linkUp(nh, "lo"); err != nil {
			return err
		}
	}
	ep := h["ep"]
	for _, br := range []struct{ name, addr string }{{"vbr0", "172.31.250.1/24"}, {"vbr1", "172.31.251.1/24"}} {
		if err := ep.LinkAdd(&netlink.Bridge{LinkAttrs: netlink.LinkAttrs{Name: br.name}}); err != nil {
			return fmt.Errorf("creating bridge %q: %w", br.name, err)
		}
		if err := addrUp(ep, br.name, br.addr); err != nil {
			return err
		}
	}
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
		veth := &netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: l.host}, PeerName: l.peer,
			PeerNamespace: netlink.NsFd(int(tb.ns[l.peerNS]))}
		if err := ep.LinkAdd(veth); err != nil {
			return fmt.Errorf("creating veth %q: %w", l.host, err)
		}
		if l.bridge != "" {
			if err := enslave(ep, l.host, l.bridge); err != nil {
				return err
			}
			if err := hairpin(ep, l.host); err != nil {
				return err
			}
		}
		if err := linkUp(ep, l.host); err != nil {
			return err
		}
		if err := addrUp(h[l.peerNS], l.peer, l.addr); err != nil {
			return err
		}
		if l.gw != "" {
			route := &netlink.Route{Gw: net.ParseIP(l.gw)}
			if err := h[l.peerNS].RouteAdd(route); err != nil {
				return fmt.Errorf("default route in %s: %w", l.peerNS, err)
			}
		}
	}
	if err := addrUp(ep, "pub0", "198.51.100.2/24"); err != nil {
		return err
	}
	if err := addrUp(ep, "mgmt0", "203.0.113.2/24"); err != nil {
		return err
	}
	return inNS(tb.ns["ep"], func() error {
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
	})
}

func linkUp(h *netlink.Handle, name string) error {
	l, err := h.LinkByName(name)
	if err == nil {
		err = h.LinkSetUp(l)
	}
	if err != nil {
		return fmt.Errorf("setting link %q up: %w", name, err)
	}
	return nil
}

func addrUp(h *netlink.Handle, name, cidr string) error {
	l, err := h.LinkByName(name)
	if err != nil {
		return fmt.Errorf("finding link %q: %w", name, err)
	}
	addr, err := netlink.ParseAddr(cidr)
	if err == nil {
		err = h.AddrAdd(l, addr)
	}
	if err != nil {
		return fmt.Errorf("adding %s to link %q: %w", cidr, name, err)
	}
	return linkUp(h, name)
}

func enslave(h *netlink.Handle, port, bridge string) error {
	p, err := h.LinkByName(port)
	if err != nil {
		return fmt.Errorf("finding link %q: %w", port, err)
	}
	br, err := h.LinkByName(bridge)
	if err != nil {
		return fmt.Errorf("finding bridge %q: %w", bridge, err)
	}
	if err := h.LinkSetMaster(p, br); err != nil {
		return fmt.Errorf("adding %q to bridge %q: %w", port, bridge, err)
	}
	return nil
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
	tb.must(inNS(tb.ns[ns], func() error {
		var err error
		if tl, err = net.Listen("tcp4", fmt.Sprintf(":%d", port)); err != nil {
			return err
		}
		ul, err = net.ListenPacket("udp4", fmt.Sprintf(":%d", port))
		return err
	}))
	tb.closers = append(tb.closers, func() { tl.Close(); ul.Close() })
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
	err := inNS(tb.ns[ns], func() error {
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

// hairpin turns hairpin mode on for a bridge port, as link.EnsureVeth does for the driver.
func hairpin(h *netlink.Handle, port string) error {
	l, err := h.LinkByName(port)
	if err != nil {
		return err
	}
	return h.LinkSetHairpin(l, true)
}
