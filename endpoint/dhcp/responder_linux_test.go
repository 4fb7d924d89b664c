package dhcp

import (
	"encoding/binary"
	"fmt"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/docker-vic/docker-vic/endpoint/testns"
	"github.com/insomniacslk/dhcp/dhcpv4"
	"github.com/mdlayher/packet"
	"github.com/vishvananda/netlink"
)

// responder is a small DHCP server in the testbed's server namespace that behaves as RFC 2131
// section 4.1 says ISC dhcpd and Kea do: it answers a DHCPREQUEST that carries ciaddr (a
// renewal or a rebinding) by unicast to the client's MAC and address, whatever the broadcast
// flag. Everything else it answers by broadcast. It leases one address for 4 s, renewed at 1 s.
type responder struct {
	c         *packet.Conn
	serverMAC net.HardwareAddr
	done      chan struct{}

	// ignoreRenewals makes the server drop DHCPREQUESTs that carry ciaddr.
	ignoreRenewals atomic.Bool

	mu     sync.Mutex
	counts map[string]int // "discover", "broadcast ack", "unicast ack", "release"
	// events lists the types of the messages received, in order.
	events []dhcpv4.MessageType
}

var (
	responderServer = netip.MustParseAddr("203.0.113.130")
	responderLease  = netip.MustParseAddr("203.0.113.170")
)

// startResponder runs a responder on the server's eth0 until the test ends.
func (tb *testbed) startResponder(t *testing.T) *responder {
	t.Helper()
	r := &responder{done: make(chan struct{}), counts: map[string]int{}}
	must(t, tb.server.Do(func() error {
		ifi, err := net.InterfaceByName("eth0")
		if err != nil {
			return err
		}
		r.serverMAC = ifi.HardwareAddr
		r.c, err = packet.Listen(ifi, packet.Raw, etherTypeIPv4, nil)
		return err
	}), "opening the responder's packet socket")
	go r.serve(t)
	t.Cleanup(func() {
		r.c.Close()
		<-r.done
	})
	return r
}

func (r *responder) count(what string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.counts[what]
}

// received returns the types of the messages received so far, in order.
func (r *responder) received() []dhcpv4.MessageType {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]dhcpv4.MessageType(nil), r.events...)
}

func (r *responder) serve(t *testing.T) {
	defer close(r.done)
	buf := make([]byte, 1<<16)
	for {
		n, _, err := r.c.ReadFrom(buf)
		if err != nil {
			return
		}
		m, ok := serverBound(buf[:n])
		if !ok {
			continue
		}
		if err := r.answer(m); err != nil {
			t.Errorf("the test DHCP server could not answer: %v", err)
			return
		}
	}
}

// serverBound decodes a frame carrying a client's DHCP message to the server port.
func serverBound(b []byte) (*dhcpv4.DHCPv4, bool) {
	if len(b) < etherHeaderLen+ipHeaderLen+udpHeaderLen || binary.BigEndian.Uint16(b[12:]) != etherTypeIPv4 {
		return nil, false
	}
	ip := b[etherHeaderLen:]
	ihl := int(ip[0]&0x0f) * 4
	if ip[9] != protoUDP || len(ip) < ihl+udpHeaderLen {
		return nil, false
	}
	udp := ip[ihl:]
	if binary.BigEndian.Uint16(udp[2:]) != portServer {
		return nil, false
	}
	m, err := dhcpv4.FromBytes(udp[udpHeaderLen:])
	if err != nil || m.OpCode != dhcpv4.OpcodeBootRequest {
		return nil, false
	}
	return m, true
}

func (r *responder) answer(req *dhcpv4.DHCPv4) error {
	dstMAC, dstIP := broadcastMAC, netip.AddrFrom4([4]byte{255, 255, 255, 255})
	renewal := !req.ClientIPAddr.IsUnspecified()
	typ := req.MessageType()
	r.mu.Lock()
	r.events = append(r.events, typ)
	if typ == dhcpv4.MessageTypeRequest && renewal && r.ignoreRenewals.Load() {
		r.mu.Unlock()
		return nil
	}
	var answer dhcpv4.MessageType
	switch typ {
	case dhcpv4.MessageTypeDiscover:
		r.counts["discover"]++
		answer = dhcpv4.MessageTypeOffer
	case dhcpv4.MessageTypeRequest:
		answer = dhcpv4.MessageTypeAck
		if renewal {
			r.counts["unicast ack"]++
			dstMAC, dstIP = req.ClientHWAddr, addrOf(req.ClientIPAddr)
		} else {
			r.counts["broadcast ack"]++
		}
	case dhcpv4.MessageTypeRelease:
		r.counts["release"]++
		r.mu.Unlock()
		return nil
	default:
		r.mu.Unlock()
		return nil
	}
	r.mu.Unlock()
	out, err := dhcpv4.NewReplyFromRequest(req,
		dhcpv4.WithMessageType(answer),
		dhcpv4.WithClientIP(req.ClientIPAddr),
		dhcpv4.WithYourIP(ipOf(responderLease)),
		dhcpv4.WithOption(dhcpv4.OptServerIdentifier(ipOf(responderServer))),
		dhcpv4.WithNetmask(net.CIDRMask(26, 32)),
		dhcpv4.WithRouter(net.IPv4(203, 0, 113, 129)),
		dhcpv4.WithLeaseTime(4),
		dhcpv4.WithOption(dhcpv4.OptRenewTimeValue(time.Second)),
		dhcpv4.WithOption(dhcpv4.OptRebindingTimeValue(3*time.Second)))
	if err != nil {
		return err
	}
	b := frame(r.serverMAC, dstMAC, responderServer, dstIP, out.ToBytes())
	// frame writes a client's ports: turn them round, and leave the UDP checksum out (0), as
	// IPv4 allows.
	udp := b[etherHeaderLen+ipHeaderLen:]
	binary.BigEndian.PutUint16(udp[0:], portServer)
	binary.BigEndian.PutUint16(udp[2:], portClient)
	binary.BigEndian.PutUint16(udp[6:], 0)
	if _, err := r.c.WriteTo(b, &packet.Addr{HardwareAddr: dstMAC}); err != nil {
		return fmt.Errorf("sending the reply to %s: %w", req.ClientHWAddr, err)
	}
	return nil
}

// addContainerMacvlan gives the endpoint's uplink a macvlan child carrying mac and moves it
// into a container namespace of its own, as the container's interface hangs on the uplink on
// a real endpoint: the child's rx handler takes every unicast frame to mac that the uplink
// receives, and packet sockets of the endpoint's namespace bound to one protocol never see it.
func (tb *testbed) addContainerMacvlan(t *testing.T, mac net.HardwareAddr) {
	t.Helper()
	ctr := testns.New(t, "dhcpc")
	up, err := tb.endpoint.Link.LinkByName("uplink")
	must(t, err, "finding the uplink")
	mv := &netlink.Macvlan{
		LinkAttrs: netlink.LinkAttrs{Name: "ctr0", ParentIndex: up.Attrs().Index, HardwareAddr: mac},
		Mode:      netlink.MACVLAN_MODE_BRIDGE,
	}
	must(t, tb.endpoint.Link.LinkAdd(mv), "adding the container's macvlan")
	must(t, tb.endpoint.Link.LinkSetNsFd(mv, int(ctr.Handle)), "moving the macvlan into the container's namespace")
	inCtr, err := ctr.Link.LinkByName("ctr0")
	must(t, err, "finding the container's macvlan")
	must(t, ctr.Link.LinkSetUp(inCtr), "bringing the container's macvlan up")
}

// waitFor polls cond every 100 ms for up to d.
func waitFor(d time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(100 * time.Millisecond)
	}
	return true
}
