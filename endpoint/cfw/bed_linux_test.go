package cfw

import (
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"net/netip"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/docker-vic/docker-vic/endpoint/testns"
)

// bed is a wire (a Linux bridge in a namespace of its own) with three machines on it:
//
//	container 203.0.113.140/26 (+ 198.51.100.40/24, its "other network")
//	peer      203.0.113.150/26, inside the peers range 203.0.113.128/27
//	outsider  203.0.113.190/26 (+ 198.51.100.90/24), outside it
//
// The container serves tcp 80, tcp 8080 and udp 53, each answering its port number; the
// peer serves tcp 9000, answering "peer".
type bed struct {
	t                    *testing.T
	wire, ctr, peer, out *testns.NS
}

var (
	ctrAddr   = netip.MustParseAddr("203.0.113.140")
	ctrOther  = netip.MustParseAddr("198.51.100.40")
	peerAddr  = netip.MustParseAddr("203.0.113.150")
	peerRange = netip.MustParsePrefix("203.0.113.128/27")
)

// probeTimeout bounds each probe: a dropped packet costs this much.
const probeTimeout = time.Second

func newBed(t *testing.T) *bed {
	t.Helper()
	b := &bed{t: t}
	b.wire = testns.New(t, "vcf")
	b.wire.Bridge(t, "br0")
	b.ctr = b.plug("ctr", "203.0.113.140/26", "198.51.100.40/24")
	b.peer = b.plug("peer", "203.0.113.150/26")
	b.out = b.plug("out", "203.0.113.190/26", "198.51.100.90/24")
	for _, port := range []int{80, 8080} {
		b.serveTCP(b.ctr, port, fmt.Sprint(port))
	}
	b.serveUDP(b.ctr, 53, "53")
	b.serveTCP(b.peer, 9000, "peer")
	b.settle()
	return b
}

// settle waits until every machine reaches the others over the wire. A veth's carrier reaches
// the bridge port a moment after the link comes up, and an ARP request lost before that is
// only sent again after a second, as long as a probe waits: without this, the first
// observation may find addresses unreachable that no rule drops.
func (b *bed) settle() {
	b.t.Helper()
	paths := []struct {
		from *testns.NS
		to   netip.Addr
	}{{b.out, ctrAddr}, {b.out, ctrOther}, {b.peer, ctrAddr}, {b.ctr, peerAddr}}
	deadline := time.Now().Add(10 * time.Second)
	for _, p := range paths {
		for ping(p.from, p.to) == "" {
			if time.Now().After(deadline) {
				b.t.Fatalf("the test wire does not carry a ping to %s after 10 s", p.to)
			}
			time.Sleep(50 * time.Millisecond) // a ping that failed at once must not spin
		}
	}
}

func (b *bed) must(err error) {
	b.t.Helper()
	if err != nil {
		b.t.Fatal(err)
	}
}

// plug makes a namespace whose eth0 is a veth on the wire's bridge, with addrs.
func (b *bed) plug(role string, addrs ...string) *testns.NS {
	b.t.Helper()
	ns := testns.New(b.t, "vcf")
	b.wire.Plug(b.t, "w-"+role, "br0", ns, "eth0", addrs...)
	return ns
}

// serveTCP answers every connection to port with banner.
func (b *bed) serveTCP(ns *testns.NS, port int, banner string) {
	var l net.Listener
	b.must(ns.Do(func() (err error) {
		l, err = net.Listen("tcp4", fmt.Sprintf(":%d", port))
		return err
	}))
	b.t.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			_, _ = io.WriteString(c, banner)
			c.Close()
		}
	}()
}

// serveUDP answers every datagram to port with banner.
func (b *bed) serveUDP(ns *testns.NS, port int, banner string) {
	var pc net.PacketConn
	b.must(ns.Do(func() (err error) {
		pc, err = net.ListenPacket("udp4", fmt.Sprintf(":%d", port))
		return err
	}))
	b.t.Cleanup(func() { pc.Close() })
	go func() {
		buf := make([]byte, 64)
		for {
			_, from, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			_, _ = pc.WriteTo([]byte(banner), from)
		}
	}()
}

// dialTCP returns the banner of the server at to, dialed from ns, or "" when nothing answers.
func dialTCP(ns *testns.NS, to string) string {
	var got []byte
	_ = ns.Do(func() error {
		c, err := net.DialTimeout("tcp4", to, probeTimeout)
		if err != nil {
			return err
		}
		defer c.Close()
		_ = c.SetDeadline(time.Now().Add(probeTimeout))
		got, err = io.ReadAll(c)
		return err
	})
	return string(got)
}

// queryUDP returns the answer of the server at to, sent a datagram from ns, or "".
func queryUDP(ns *testns.NS, to string) string {
	var got string
	_ = ns.Do(func() error {
		c, err := net.Dial("udp4", to)
		if err != nil {
			return err
		}
		defer c.Close()
		_ = c.SetDeadline(time.Now().Add(probeTimeout))
		if _, err := c.Write([]byte("?")); err != nil {
			return err
		}
		buf := make([]byte, 64)
		n, err := c.Read(buf)
		got = string(buf[:n])
		return err
	})
	return got
}

// ping returns "pong" when to answers an ICMP echo request sent from ns through a raw socket.
func ping(ns *testns.NS, to netip.Addr) string {
	got := ""
	_ = ns.Do(func() error {
		c, err := net.ListenPacket("ip4:icmp", "0.0.0.0")
		if err != nil {
			return err
		}
		defer c.Close()
		const id = 0x7663
		req := []byte{8, 0, 0, 0, id >> 8, id & 0xff, 0, 1, 'v', 'i', 'c', '!'}
		binary.BigEndian.PutUint16(req[2:], icmpChecksum(req))
		if _, err := c.WriteTo(req, &net.IPAddr{IP: to.AsSlice()}); err != nil {
			return err
		}
		_ = c.SetDeadline(time.Now().Add(probeTimeout))
		buf := make([]byte, 1500)
		for {
			n, from, err := c.ReadFrom(buf)
			if err != nil {
				return err
			}
			ip, _ := netip.AddrFromSlice(from.(*net.IPAddr).IP)
			if n >= 8 && buf[0] == 0 && ip.Unmap() == to && binary.BigEndian.Uint16(buf[4:]) == id {
				got = "pong"
				return nil
			}
		}
	})
	return got
}

func icmpChecksum(b []byte) uint16 {
	var sum uint32
	for i := 0; i+1 < len(b); i += 2 {
		sum += uint32(binary.BigEndian.Uint16(b[i:]))
	}
	if len(b)%2 == 1 {
		sum += uint32(b[len(b)-1]) << 8
	}
	for sum > 0xffff {
		sum = sum>>16 + sum&0xffff
	}
	return ^uint16(sum)
}

// probes are what the tests observe, by name; each returns what answered, "" for nothing.
func (b *bed) probes() map[string]func() string {
	ctr := func(port int) string { return netip.AddrPortFrom(ctrAddr, uint16(port)).String() }
	p := map[string]func() string{
		"container -> peer tcp/9000":          func() string { return dialTCP(b.ctr, netip.AddrPortFrom(peerAddr, 9000).String()) },
		"container -> loopback tcp/8080":      func() string { return dialTCP(b.ctr, "127.0.0.1:8080") },
		"container -> itself tcp/8080":        func() string { return dialTCP(b.ctr, ctr(8080)) },
		"outsider -> other network tcp/8080":  func() string { return dialTCP(b.out, ctrOther.String()+":8080") },
		"outsider -> other network ping":      func() string { return ping(b.out, ctrOther) },
		"outsider -> container redirect 8081": func() string { return dialTCP(b.out, ctr(8081)) },
		"container -> itself redirect 8081":   func() string { return dialTCP(b.ctr, ctr(8081)) },
	}
	for who, ns := range map[string]*testns.NS{"peer": b.peer, "outsider": b.out} {
		p[who+" -> container tcp/80"] = func() string { return dialTCP(ns, ctr(80)) }
		p[who+" -> container tcp/8080"] = func() string { return dialTCP(ns, ctr(8080)) }
		p[who+" -> container udp/53"] = func() string { return queryUDP(ns, ctr(53)) }
		p[who+" -> container ping"] = func() string { return ping(ns, ctrAddr) }
	}
	return p
}

// observe runs every probe at once and returns "probe: answer" lines, sorted, for the probes
// that got an answer.
func (b *bed) observe() []string {
	var (
		mu    sync.Mutex
		wg    sync.WaitGroup
		lines []string
	)
	for name, probe := range b.probes() {
		wg.Go(func() {
			if got := probe(); got != "" {
				mu.Lock()
				lines = append(lines, name+": "+got)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	sort.Strings(lines)
	return lines
}

// expect checks what b.observe sees against want, in any order.
func (b *bed) expect(t *testing.T, want []string) {
	t.Helper()
	want = append([]string(nil), want...)
	sort.Strings(want)
	got := b.observe()
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("traffic:\n got:\n\t%s\nwant:\n\t%s", strings.Join(got, "\n\t"), strings.Join(want, "\n\t"))
	}
}
