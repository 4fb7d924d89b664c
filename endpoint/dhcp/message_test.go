package dhcp

import (
	"encoding/binary"
	"fmt"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/insomniacslk/dhcp/dhcpv4"
	"gotest.tools/v3/assert"
	is "gotest.tools/v3/assert/cmp"
)

var macA = net.HardwareAddr{0x02, 0x42, 0xcb, 0x00, 0x71, 0x0a}

// serverReply builds what a server sends: a reply of type typ for 203.0.113.151 with the usual
// options, changed by mods.
func serverReply(t *testing.T, xid dhcpv4.TransactionID, mac net.HardwareAddr, typ dhcpv4.MessageType, mods ...dhcpv4.Modifier) *dhcpv4.DHCPv4 {
	t.Helper()
	m, err := dhcpv4.New(append([]dhcpv4.Modifier{
		dhcpv4.WithTransactionID(xid),
		dhcpv4.WithHwAddr(mac),
		dhcpv4.WithMessageType(typ),
		dhcpv4.WithYourIP(net.IPv4(203, 0, 113, 151)),
		dhcpv4.WithOption(dhcpv4.OptServerIdentifier(net.IPv4(203, 0, 113, 130))),
		dhcpv4.WithNetmask(net.CIDRMask(26, 32)),
		dhcpv4.WithRouter(net.IPv4(203, 0, 113, 129), net.IPv4(203, 0, 113, 190)),
		dhcpv4.WithDNS(net.IPv4(203, 0, 113, 2), net.IPv4(198, 51, 100, 53)),
		dhcpv4.WithOption(dhcpv4.OptDomainName("vic.test")),
		dhcpv4.WithLeaseTime(10),
	}, mods...)...)
	assert.NilError(t, err)
	m.OpCode = dhcpv4.OpcodeBootReply
	return m
}

// TestClientMessages checks what each message the client sends says for the container's MAC.
func TestClientMessages(t *testing.T) {
	// sent is a message the client made, as a server receives it.
	sent := func(m *dhcpv4.DHCPv4, err error) *dhcpv4.DHCPv4 {
		t.Helper()
		assert.NilError(t, err)
		b := m.ToBytes()
		assert.Check(t, len(b) >= 300, "a %d-byte message, shorter than BOOTP's minimum", len(b))
		got, err := dhcpv4.FromBytes(b)
		assert.NilError(t, err)
		return got
	}
	lease := Lease{MAC: macA, Prefix: netip.MustParsePrefix("203.0.113.151/26"), Server: netip.MustParseAddr("203.0.113.130")}
	offer := serverReply(t, dhcpv4.TransactionID{0xde, 0xad, 0xbe, 0xef}, macA, dhcpv4.MessageTypeOffer)
	discover := sent(discoverMsg(macA, netip.MustParseAddr("203.0.113.151")))
	request := sent(requestMsg(offer, macA))
	renew := sent(extendMsg(lease, false))
	reboot := sent(extendMsg(lease, true))
	release := sent(releaseMsg(lease))

	for name, tc := range map[string]struct {
		m                 *dhcpv4.DHCPv4
		typ               dhcpv4.MessageType
		broadcast, asks   bool
		ciaddr, requested string
		server            string
	}{
		"discover": {m: discover, typ: dhcpv4.MessageTypeDiscover, broadcast: true, asks: true, ciaddr: "0.0.0.0", requested: "203.0.113.151"},
		"request":  {m: request, typ: dhcpv4.MessageTypeRequest, broadcast: true, asks: true, ciaddr: "0.0.0.0", requested: "203.0.113.151", server: "203.0.113.130"},
		"renew":    {m: renew, typ: dhcpv4.MessageTypeRequest, broadcast: true, asks: true, ciaddr: "203.0.113.151"},
		"reboot":   {m: reboot, typ: dhcpv4.MessageTypeRequest, broadcast: true, asks: true, ciaddr: "0.0.0.0", requested: "203.0.113.151"},
		"release":  {m: release, typ: dhcpv4.MessageTypeRelease, ciaddr: "203.0.113.151", server: "203.0.113.130"},
	} {
		t.Run(name, func(t *testing.T) {
			m := tc.m
			assert.Check(t, is.Equal(m.OpCode, dhcpv4.OpcodeBootRequest))
			assert.Check(t, is.Equal(m.MessageType(), tc.typ))
			assert.Check(t, is.Equal(m.ClientHWAddr.String(), macA.String()))
			assert.Check(t, is.DeepEqual(m.Options.Get(dhcpv4.OptionClientIdentifier), []byte(append([]byte{1}, macA...))))
			assert.Check(t, is.Equal(m.IsBroadcast(), tc.broadcast))
			assert.Check(t, is.Equal(m.ClientIPAddr.String(), tc.ciaddr))
			assert.Check(t, is.Equal(fmtIP(m.RequestedIPAddress()), tc.requested))
			assert.Check(t, is.Equal(fmtIP(m.ServerIdentifier()), tc.server))
			for _, o := range []dhcpv4.OptionCode{dhcpv4.OptionSubnetMask, dhcpv4.OptionRouter, dhcpv4.OptionDomainNameServer,
				dhcpv4.OptionDomainName, dhcpv4.OptionInterfaceMTU, dhcpv4.OptionIPAddressLeaseTime,
				dhcpv4.OptionRenewTimeValue, dhcpv4.OptionRebindingTimeValue} {
				assert.Check(t, is.Equal(m.ParameterRequestList().Has(o), tc.asks), "asks for %s", o)
			}
		})
	}
	// The request goes on with the offer's transaction.
	assert.Check(t, is.Equal(request.TransactionID, offer.TransactionID))
}

func fmtIP(ip net.IP) string {
	if ip == nil {
		return ""
	}
	return ip.String()
}

func TestLeaseFromAck(t *testing.T) {
	sent := time.Now()
	l, err := leaseFrom("pg", macA, sent, serverReply(t, dhcpv4.TransactionID{1}, macA, dhcpv4.MessageTypeAck), nil)
	assert.NilError(t, err)
	assert.Check(t, is.Equal(l.Prefix, netip.MustParsePrefix("203.0.113.151/26")))
	assert.Check(t, is.Equal(l.Router, netip.MustParseAddr("203.0.113.129")))
	assert.Check(t, is.Equal(fmt.Sprint(l.DNS), "[203.0.113.2 198.51.100.53]"))
	assert.Check(t, is.Equal(l.Domain, "vic.test"))
	assert.Check(t, is.Equal(l.Server, netip.MustParseAddr("203.0.113.130")))
	assert.Check(t, is.Equal(l.Duration, 10*time.Second))
	assert.Check(t, is.Equal(l.Renew, 5*time.Second))
	assert.Check(t, is.Equal(l.Rebind, 8750*time.Millisecond))
	assert.Check(t, is.Equal(l.Expires(), sent.Add(10*time.Second)))

	// A renewal ACK that carries only the lease time keeps what the first ACK said.
	bare, err := dhcpv4.New(dhcpv4.WithMessageType(dhcpv4.MessageTypeAck), dhcpv4.WithYourIP(net.IPv4(203, 0, 113, 151)), dhcpv4.WithLeaseTime(20))
	assert.NilError(t, err)
	next, err := leaseFrom("pg", macA, sent.Add(time.Second), bare, &l)
	assert.NilError(t, err)
	assert.Check(t, is.Equal(next.Prefix, l.Prefix))
	assert.Check(t, is.Equal(next.Router, l.Router))
	assert.Check(t, is.Equal(next.Duration, 20*time.Second))
	assert.Check(t, is.Equal(next.Renew, 10*time.Second))

	// A server's own T1 and T2 are kept.
	timers := serverReply(t, dhcpv4.TransactionID{1}, macA, dhcpv4.MessageTypeAck,
		dhcpv4.WithOption(dhcpv4.OptRenewTimeValue(2*time.Second)), dhcpv4.WithOption(dhcpv4.OptRebindingTimeValue(7*time.Second)))
	l, err = leaseFrom("pg", macA, sent, timers, nil)
	assert.NilError(t, err)
	assert.Check(t, is.Equal(l.Renew, 2*time.Second))
	assert.Check(t, is.Equal(l.Rebind, 7*time.Second))

	forever := serverReply(t, dhcpv4.TransactionID{1}, macA, dhcpv4.MessageTypeAck, dhcpv4.WithLeaseTime(0xffffffff))
	l, err = leaseFrom("pg", macA, sent, forever, nil)
	assert.NilError(t, err)
	assert.Check(t, is.Equal(l.Duration, Forever))
	assert.Check(t, l.Expires().IsZero())

	noTime := serverReply(t, dhcpv4.TransactionID{1}, macA, dhcpv4.MessageTypeAck, dhcpv4.WithoutOption(dhcpv4.OptionIPAddressLeaseTime))
	_, err = leaseFrom("pg", macA, sent, noTime, nil)
	assert.Check(t, is.ErrorContains(err, "gives no lease time"))
}

// replyFrame wraps payload as a server's broadcast reply to the client port.
func replyFrame(server net.HardwareAddr, payload []byte) []byte {
	b := frame(server, broadcastMAC, netip.MustParseAddr("203.0.113.130"), netip.MustParseAddr("255.255.255.255"), payload)
	// A reply goes to the client port; swap the ports as a server would.
	udp := b[etherHeaderLen+ipHeaderLen:]
	binary.BigEndian.PutUint16(udp[0:], portServer)
	binary.BigEndian.PutUint16(udp[2:], portClient)
	return b
}

func TestFrameRoundTrip(t *testing.T) {
	server := net.HardwareAddr{0x02, 0, 0, 0, 0, 0x82}
	xid := dhcpv4.TransactionID{0, 0, 0, 7}
	payload := serverReply(t, xid, macA, dhcpv4.MessageTypeOffer).ToBytes()
	b := frame(server, broadcastMAC, netip.MustParseAddr("203.0.113.130"), netip.MustParseAddr("255.255.255.255"), payload)

	ip := b[etherHeaderLen : etherHeaderLen+ipHeaderLen]
	assert.Check(t, is.Equal(checksum(0, ip), uint16(0)), "IPv4 header checksum")
	udp := b[etherHeaderLen+ipHeaderLen:]
	// Summed with its checksum, a correct datagram gives zero, which udpChecksum writes 0xffff.
	assert.Check(t, is.Equal(udpChecksum(ip[12:20], udp), uint16(0xffff)), "UDP checksum")

	b = replyFrame(server, payload)
	src, got, err := parseFrame(b)
	assert.NilError(t, err)
	assert.Check(t, is.Equal(src.String(), server.String()))
	r, ok := match(b, xid, macA, []dhcpv4.MessageType{dhcpv4.MessageTypeOffer})
	assert.Check(t, ok)
	assert.Check(t, is.Equal(r.msg.YourIPAddr.String(), "203.0.113.151"))
	assert.Check(t, is.Equal(r.serverMAC.String(), server.String()))
	assert.Check(t, is.DeepEqual(got, payload))

	for name, tc := range map[string]struct {
		xid  dhcpv4.TransactionID
		mac  net.HardwareAddr
		want dhcpv4.MessageType
	}{
		"other xid":  {dhcpv4.TransactionID{0, 0, 0, 8}, macA, dhcpv4.MessageTypeOffer},
		"other mac":  {xid, net.HardwareAddr{2, 0, 0, 0, 0, 1}, dhcpv4.MessageTypeOffer},
		"other type": {xid, macA, dhcpv4.MessageTypeAck},
	} {
		t.Run(name, func(t *testing.T) {
			_, ok := match(b, tc.xid, tc.mac, []dhcpv4.MessageType{tc.want})
			assert.Check(t, !ok)
		})
	}
}

// TestMatchRejectsMalformed feeds frames whose DHCP payload is broken.
func TestMatchRejectsMalformed(t *testing.T) {
	server := net.HardwareAddr{0x02, 0, 0, 0, 0, 0x82}
	xid := dhcpv4.TransactionID{0, 0, 0, 1}
	valid := serverReply(t, xid, macA, dhcpv4.MessageTypeAck).ToBytes()
	const headerLen = 236
	want := []dhcpv4.MessageType{dhcpv4.MessageTypeAck}
	_, ok := match(replyFrame(server, valid), xid, macA, want)
	assert.Check(t, ok)
	for name, b := range map[string][]byte{
		"empty":            nil,
		"short":            valid[:100],
		"no cookie":        append(append([]byte{}, valid[:headerLen]...), 1, 2, 3, 4),
		"truncated option": append(append([]byte{}, valid[:headerLen+4]...), byte(dhcpv4.OptionRouter.Code()), 8, 203, 0),
	} {
		t.Run(name, func(t *testing.T) {
			_, ok := match(replyFrame(server, b), xid, macA, want)
			assert.Check(t, !ok)
		})
	}
}
