package dhcp

import (
	"encoding/binary"
	"fmt"
	"net"
	"net/netip"
	"testing"
	"time"

	"gotest.tools/v3/assert"
	is "gotest.tools/v3/assert/cmp"
)

var macA = net.HardwareAddr{0x02, 0x42, 0xcb, 0x00, 0x71, 0x0a}

// serverReply builds what a server sends: an ACK for 203.0.113.151 with the usual options.
func serverReply(xid uint32, mac net.HardwareAddr, typ byte) *message {
	m := &message{op: opReply, xid: xid, chaddr: mac, ciaddr: netip.IPv4Unspecified(), yiaddr: netip.MustParseAddr("203.0.113.151")}
	m.set(optMessageType, typ)
	m.setAddr(optServerID, netip.MustParseAddr("203.0.113.130"))
	m.set(optSubnetMask, 255, 255, 255, 192)
	m.set(optRouter, 203, 0, 113, 129, 203, 0, 113, 190)
	m.set(optDNS, 203, 0, 113, 2, 198, 51, 100, 53)
	m.set(optDomainName, []byte("vic.test")...)
	m.set(optLeaseTime, 0, 0, 0, 10)
	return m
}

func TestMessageRoundTrip(t *testing.T) {
	m := newRequest(msgRequest, 0xdeadbeef, macA)
	m.setAddr(optRequestedIP, netip.MustParseAddr("203.0.113.151"))
	m.askParameters()
	b := m.encode()
	assert.Check(t, is.Len(b, minMessageLen))

	got, err := decodeMessage(b)
	assert.NilError(t, err)
	assert.Check(t, is.Equal(got.op, byte(opRequest)))
	assert.Check(t, is.Equal(got.xid, uint32(0xdeadbeef)))
	assert.Check(t, is.Equal(got.flags, uint16(flagBroadcast)))
	assert.Check(t, is.Equal(got.chaddr.String(), macA.String()))
	assert.Check(t, is.Equal(got.messageType(), byte(msgRequest)))
	a, ok := got.addr(optRequestedIP)
	assert.Check(t, ok)
	assert.Check(t, is.Equal(a, netip.MustParseAddr("203.0.113.151")))
	assert.Check(t, is.DeepEqual(got.options[optClientID], []byte(append([]byte{1}, macA...))))
}

func TestMessageDecodeRejects(t *testing.T) {
	valid := serverReply(1, macA, msgAck).encode()
	for name, b := range map[string][]byte{
		"empty":            nil,
		"short":            valid[:100],
		"no cookie":        append(append([]byte{}, valid[:headerLen]...), 1, 2, 3, 4),
		"truncated option": append(append([]byte{}, valid[:headerLen+4]...), optRouter, 8, 203, 0),
	} {
		t.Run(name, func(t *testing.T) {
			_, err := decodeMessage(b)
			assert.Check(t, err != nil)
		})
	}
}

func TestLeaseFromAck(t *testing.T) {
	sent := time.Now()
	l, err := leaseFrom("pg", macA, sent, serverReply(1, macA, msgAck), nil)
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
	bare := &message{op: opReply, yiaddr: l.Prefix.Addr(), options: map[byte][]byte{}}
	bare.set(optMessageType, msgAck)
	bare.set(optLeaseTime, 0, 0, 0, 20)
	next, err := leaseFrom("pg", macA, sent.Add(time.Second), bare, &l)
	assert.NilError(t, err)
	assert.Check(t, is.Equal(next.Prefix, l.Prefix))
	assert.Check(t, is.Equal(next.Router, l.Router))
	assert.Check(t, is.Equal(next.Duration, 20*time.Second))
	assert.Check(t, is.Equal(next.Renew, 10*time.Second))

	forever := serverReply(1, macA, msgAck)
	forever.set(optLeaseTime, 0xff, 0xff, 0xff, 0xff)
	l, err = leaseFrom("pg", macA, sent, forever, nil)
	assert.NilError(t, err)
	assert.Check(t, is.Equal(l.Duration, Forever))
	assert.Check(t, l.Expires().IsZero())

	noTime := serverReply(1, macA, msgAck)
	delete(noTime.options, optLeaseTime)
	_, err = leaseFrom("pg", macA, sent, noTime, nil)
	assert.Check(t, is.ErrorContains(err, "gives no lease time"))
}

func TestFrameRoundTrip(t *testing.T) {
	server := net.HardwareAddr{0x02, 0, 0, 0, 0, 0x82}
	payload := serverReply(7, macA, msgOffer).encode()
	b := frame(server, broadcastMAC, netip.MustParseAddr("203.0.113.130"), netip.MustParseAddr("255.255.255.255"), payload)

	ip := b[etherHeaderLen : etherHeaderLen+ipHeaderLen]
	assert.Check(t, is.Equal(checksum(0, ip), uint16(0)), "IPv4 header checksum")
	udp := b[etherHeaderLen+ipHeaderLen:]
	// Summed with its checksum, a correct datagram gives zero, which udpChecksum writes 0xffff.
	assert.Check(t, is.Equal(udpChecksum(ip[12:20], udp), uint16(0xffff)), "UDP checksum")

	// A reply goes to the client port; swap the ports as a server would.
	binary.BigEndian.PutUint16(udp[0:], portServer)
	binary.BigEndian.PutUint16(udp[2:], portClient)
	src, got, err := parseFrame(b)
	assert.NilError(t, err)
	assert.Check(t, is.Equal(src.String(), server.String()))
	r, ok := match(b, 7, macA, []byte{msgOffer})
	assert.Check(t, ok)
	assert.Check(t, is.Equal(r.msg.yiaddr, netip.MustParseAddr("203.0.113.151")))
	assert.Check(t, is.DeepEqual(got, payload))

	for name, tc := range map[string]struct {
		xid  uint32
		mac  net.HardwareAddr
		want byte
	}{
		"other xid":  {8, macA, msgOffer},
		"other mac":  {7, net.HardwareAddr{2, 0, 0, 0, 0, 1}, msgOffer},
		"other type": {7, macA, msgAck},
	} {
		t.Run(name, func(t *testing.T) {
			_, ok := match(b, tc.xid, tc.mac, []byte{tc.want})
			assert.Check(t, !ok)
		})
	}
}
