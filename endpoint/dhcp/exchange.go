package dhcp

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"time"

	"github.com/insomniacslk/dhcp/dhcpv4"
	"github.com/mdlayher/packet"
)

// reply is a server's answer and the MAC address it came from.
type reply struct {
	msg       *dhcpv4.DHCPv4
	serverMAC net.HardwareAddr
}

// uplinkConn is a packet socket on the uplink of a port group, which sends and receives
// whole Ethernet frames.
type uplinkConn struct {
	net.PacketConn
	pg, ifname string
}

// send writes a whole frame. The address only repeats the frame's destination MAC: the
// socket is raw, the kernel does not build a header of its own.
func (u *uplinkConn) send(frame []byte) error {
	_, err := u.WriteTo(frame, &packet.Addr{HardwareAddr: frame[:6]})
	return err
}

// dial opens a packet socket on the uplink of port group pg.
func (c *Client) dial(pg string) (*uplinkConn, error) {
	ifname, err := c.uplink(pg)
	if err != nil {
		return nil, fmt.Errorf("finding the endpoint's uplink to port group %q: %w", pg, err)
	}
	cn, err := c.open(ifname)
	if err != nil {
		return nil, err
	}
	return &uplinkConn{PacketConn: cn, pg: pg, ifname: ifname}, nil
}

// noReplyError ends an exchange whose every try went unanswered.
type noReplyError struct {
	tries int
	wait  time.Duration
}

func (e *noReplyError) Error() string {
	return fmt.Sprintf("no reply to %d tries in %s", e.tries, e.wait)
}

// transact sends out and waits for waitingFor: a reply with the same xid and chaddr and a
// type in want. It sends out again after each of c.waits. When no reply comes in time, or
// ctx's deadline passes first, the error is a NoServerError; a failure to send or receive, or
// a cancelled ctx, is an error naming the uplink and the MAC.
func (c *Client) transact(ctx context.Context, u *uplinkConn, out *dhcpv4.DHCPv4, waitingFor string, want ...dhcpv4.MessageType) (reply, error) {
	mac := out.ClientHWAddr
	r, err := c.exchange(ctx, u, out, want)
	if err == nil {
		return r, nil
	}
	var none *noReplyError
	if errors.As(err, &none) || errors.Is(err, context.DeadlineExceeded) {
		return reply{}, &NoServerError{PortGroup: u.pg, MAC: mac, Err: fmt.Errorf("waiting for %s: %w", waitingFor, err)}
	}
	if ctx.Err() != nil && errors.Is(err, ctx.Err()) {
		return reply{}, fmt.Errorf("waiting for %s on uplink %q for MAC %s: %w", waitingFor, u.ifname, mac, err)
	}
	return reply{}, err
}

// exchange does the sending and waiting of transact, and returns a *noReplyError when every
// try went unanswered.
func (c *Client) exchange(ctx context.Context, u *uplinkConn, out *dhcpv4.DHCPv4, want []dhcpv4.MessageType) (reply, error) {
	stop := context.AfterFunc(ctx, func() { _ = u.SetReadDeadline(time.Unix(1, 0)) })
	defer stop()
	mac := out.ClientHWAddr
	b := broadcastFrame(out)
	buf := make([]byte, 1<<16)
	for _, wait := range c.waits {
		if err := ctx.Err(); err != nil {
			return reply{}, err
		}
		if err := u.send(b); err != nil {
			return reply{}, fmt.Errorf("sending a DHCP%s on uplink %q for MAC %s: %w", out.MessageType(), u.ifname, mac, err)
		}
		if err := u.SetReadDeadline(time.Now().Add(wait)); err != nil {
			return reply{}, fmt.Errorf("setting the receive deadline of the packet socket on uplink %q for MAC %s: %w", u.ifname, mac, err)
		}
		for {
			if err := ctx.Err(); err != nil {
				return reply{}, err
			}
			n, _, err := u.ReadFrom(buf)
			if errors.Is(err, os.ErrDeadlineExceeded) {
				break
			}
			if err != nil {
				return reply{}, fmt.Errorf("receiving on uplink %q for MAC %s: %w", u.ifname, mac, err)
			}
			if r, ok := match(buf[:n], out.TransactionID, mac, want); ok {
				return r, nil
			}
		}
	}
	if err := ctx.Err(); err != nil {
		return reply{}, err
	}
	return reply{}, &noReplyError{tries: len(c.waits), wait: sum(c.waits)}
}

// match decodes a received frame and keeps it when it answers transaction xid for mac.
func match(b []byte, xid dhcpv4.TransactionID, mac net.HardwareAddr, want []dhcpv4.MessageType) (reply, bool) {
	src, payload, err := parseFrame(b)
	if err != nil {
		return reply{}, false
	}
	m, err := dhcpv4.FromBytes(payload)
	if err != nil || !answers(m, xid, mac, want) {
		return reply{}, false
	}
	return reply{msg: m, serverMAC: append(net.HardwareAddr(nil), src...)}, true
}

func sum(ds []time.Duration) time.Duration {
	var t time.Duration
	for _, d := range ds {
		t += d
	}
	return t
}

// broadcastFrame wraps a client message in a broadcast frame from the container's MAC and
// from its ciaddr: unspecified, or the leased address when renewing.
func broadcastFrame(m *dhcpv4.DHCPv4) []byte {
	return frame(m.ClientHWAddr, broadcastMAC, addrOf(m.ClientIPAddr), netip.AddrFrom4([4]byte{255, 255, 255, 255}), m.ToBytes())
}

// obtain leases an address from scratch: DISCOVER, OFFER, REQUEST, ACK. A valid hint asks
// for that address, which a server usually grants to the MAC that held it before.
func (c *Client) obtain(ctx context.Context, pg string, mac net.HardwareAddr, hint netip.Addr) (Lease, net.HardwareAddr, error) {
	cn, err := c.dial(pg)
	if err != nil {
		return Lease{}, nil, err
	}
	defer cn.Close()
	const refusals = 3
	for try := 1; ; try++ {
		discover, err := discoverMsg(mac, hint)
		if err != nil {
			return Lease{}, nil, err
		}
		offer, err := c.transact(ctx, cn, discover, "a DHCPOFFER", dhcpv4.MessageTypeOffer)
		if err != nil {
			return Lease{}, nil, err
		}
		offered, server := addrOf(offer.msg.YourIPAddr), addrOf(offer.msg.ServerIdentifier())
		if !server.IsValid() {
			return Lease{}, nil, fmt.Errorf("the DHCPOFFER of %s for MAC %s on port group %q names no server", offered, mac, pg)
		}

		request, err := requestMsg(offer.msg, mac)
		if err != nil {
			return Lease{}, nil, err
		}
		sent := time.Now()
		ack, err := c.transact(ctx, cn, request, fmt.Sprintf("the DHCPACK of %s from server %s", offered, server),
			dhcpv4.MessageTypeAck, dhcpv4.MessageTypeNak)
		if err != nil {
			return Lease{}, nil, err
		}
		if ack.msg.MessageType() == dhcpv4.MessageTypeNak {
			if try < refusals {
				hint = netip.Addr{}
				continue
			}
			return Lease{}, nil, fmt.Errorf("requesting %s for MAC %s on port group %q: %w %d times: %s",
				offered, mac, pg, ErrRefused, try, ack.msg.Message())
		}
		l, err := leaseFrom(pg, mac, sent, ack.msg, nil)
		return l, ack.serverMAC, err
	}
}

// extend asks for lease l again. Renewing and rebinding (reboot false) send a broadcast
// REQUEST from the leased address with ciaddr set, which servers usually answer by unicast
// to the container's MAC; an endpoint that restarted (reboot true)
// sends the INIT-REBOOT form, which asks for the address without claiming it yet, so that a
// server that no longer agrees answers with a DHCPNAK.
func (c *Client) extend(ctx context.Context, l Lease, reboot bool) (Lease, net.HardwareAddr, error) {
	cn, err := c.dial(l.PortGroup)
	if err != nil {
		return Lease{}, nil, err
	}
	defer cn.Close()
	m, err := extendMsg(l, reboot)
	if err != nil {
		return Lease{}, nil, err
	}
	sent := time.Now()
	ack, err := c.transact(ctx, cn, m, fmt.Sprintf("a DHCPACK extending %s", l.Prefix.Addr()), dhcpv4.MessageTypeAck, dhcpv4.MessageTypeNak)
	if err != nil {
		return Lease{}, nil, err
	}
	if ack.msg.MessageType() == dhcpv4.MessageTypeNak {
		return Lease{}, nil, fmt.Errorf("extending %s for MAC %s on port group %q: %w: %s",
			l.Prefix.Addr(), l.MAC, l.PortGroup, ErrRefused, ack.msg.Message())
	}
	if got := addrOf(ack.msg.YourIPAddr); got != l.Prefix.Addr() {
		return Lease{}, nil, fmt.Errorf("extending %s for MAC %s on port group %q: the server acknowledged %s instead",
			l.Prefix.Addr(), l.MAC, l.PortGroup, got)
	}
	next, err := leaseFrom(l.PortGroup, l.MAC, sent, ack.msg, &l)
	return next, ack.serverMAC, err
}

// release gives lease l back: a DHCPRELEASE to its server, sent once, as RFC 2131 says. The
// server does not answer it. A lease of unknown server is released by broadcast.
func (c *Client) release(l Lease, serverMAC net.HardwareAddr) error {
	cn, err := c.dial(l.PortGroup)
	if err != nil {
		return err
	}
	defer cn.Close()
	m, err := releaseMsg(l)
	if err != nil {
		return err
	}
	dstIP, dstMAC := netip.AddrFrom4([4]byte{255, 255, 255, 255}), broadcastMAC
	if l.Server.IsValid() {
		dstIP = l.Server
		if serverMAC != nil {
			dstMAC = serverMAC
		}
	}
	if err := cn.send(frame(l.MAC, dstMAC, l.Prefix.Addr(), dstIP, m.ToBytes())); err != nil {
		return fmt.Errorf("sending the DHCPRELEASE of %s on uplink %q for MAC %s (port group %q): %w", l.Prefix.Addr(), cn.ifname, l.MAC, l.PortGroup, err)
	}
	return nil
}
