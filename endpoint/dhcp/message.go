package dhcp

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"time"
)

// Message types (option 53), RFC 2132 section 9.6.
const (
	msgDiscover = 1
	msgOffer    = 2
	msgRequest  = 3
	msgAck      = 5
	msgNak      = 6
	msgRelease  = 7
)

// Option codes used by the client, RFC 2132.
const (
	optPad         = 0
	optSubnetMask  = 1
	optRouter      = 3
	optDNS         = 6
	optDomainName  = 15
	optMTU         = 26
	optRequestedIP = 50
	optLeaseTime   = 51
	optMessageType = 53
	optServerID    = 54
	optParamList   = 55
	optMessage     = 56
	optRenewalTime = 58
	optRebindTime  = 59
	optClientID    = 61
	optEnd         = 255
)

const (
	opRequest = 1
	opReply   = 2

	htypeEthernet = 1
	flagBroadcast = 0x8000

	headerLen = 236
	// minMessageLen is the smallest BOOTP message that every relay and server accepts.
	minMessageLen = 300
)

var magicCookie = [4]byte{99, 130, 83, 99}

// message is a decoded DHCPv4 message: the fixed BOOTP header fields the client uses and the
// options, concatenated per RFC 3396 when a code appears more than once.
type message struct {
	op      byte
	xid     uint32
	flags   uint16
	ciaddr  netip.Addr
	yiaddr  netip.Addr
	chaddr  net.HardwareAddr
	options map[byte][]byte
	// order keeps the order in which options are encoded.
	order []byte
}

// newRequest starts a client message of type typ for the interface with MAC mac. The
// broadcast flag asks servers to broadcast their replies, since the endpoint's NIC does not
// receive unicast frames sent to the container's MAC before the container's interface exists.
// Servers answer renewals (ciaddr set) by unicast anyway, RFC 2131 section 4.1: the packet
// socket sees those too, see openPacket.
func newRequest(typ byte, xid uint32, mac net.HardwareAddr) *message {
	m := &message{op: opRequest, xid: xid, flags: flagBroadcast, chaddr: mac, ciaddr: netip.IPv4Unspecified()}
	m.set(optMessageType, typ)
	m.set(optClientID, append([]byte{htypeEthernet}, mac...)...)
	return m
}

// set stores an option, replacing any earlier value.
func (m *message) set(code byte, value ...byte) {
	if m.options == nil {
		m.options = map[byte][]byte{}
	}
	if _, ok := m.options[code]; !ok {
		m.order = append(m.order, code)
	}
	m.options[code] = value
}

// setAddr stores an option holding one IPv4 address.
func (m *message) setAddr(code byte, a netip.Addr) {
	b := a.As4()
	m.set(code, b[:]...)
}

// askParameters asks the server for what a container's interface needs.
func (m *message) askParameters() {
	m.set(optParamList, optSubnetMask, optRouter, optDNS, optDomainName, optMTU,
		optLeaseTime, optRenewalTime, optRebindTime)
}

// encode renders the message in wire format, padded to the BOOTP minimum.
func (m *message) encode() []byte {
	b := make([]byte, headerLen, minMessageLen)
	b[0] = m.op
	b[1] = htypeEthernet
	b[2] = byte(len(m.chaddr))
	binary.BigEndian.PutUint32(b[4:], m.xid)
	binary.BigEndian.PutUint16(b[10:], m.flags)
	putAddr(b[12:], m.ciaddr)
	putAddr(b[16:], m.yiaddr)
	copy(b[28:44], m.chaddr)
	b = append(b, magicCookie[:]...)
	for _, code := range m.order {
		v := m.options[code]
		for len(v) > 255 {
			b = append(b, code, 255)
			b = append(b, v[:255]...)
			v = v[255:]
		}
		b = append(b, code, byte(len(v)))
		b = append(b, v...)
	}
	b = append(b, optEnd)
	for len(b) < minMessageLen {
		b = append(b, optPad)
	}
	return b
}

func putAddr(b []byte, a netip.Addr) {
	if a.Is4() {
		v := a.As4()
		copy(b, v[:])
	}
}

var errNotDHCP = errors.New("not a DHCP message")

// decodeMessage parses a DHCPv4 message. Options in the sname and file fields (option 52) are
// not read: servers use them only when the options field is full, which a lease reply is not.
func decodeMessage(b []byte) (*message, error) {
	if len(b) < headerLen+len(magicCookie) || [4]byte(b[headerLen:headerLen+4]) != magicCookie {
		return nil, errNotDHCP
	}
	hlen := int(b[2])
	if hlen > 16 {
		return nil, fmt.Errorf("hardware address length %d: %w", hlen, errNotDHCP)
	}
	m := &message{
		op:      b[0],
		xid:     binary.BigEndian.Uint32(b[4:]),
		flags:   binary.BigEndian.Uint16(b[10:]),
		ciaddr:  netip.AddrFrom4([4]byte(b[12:16])),
		yiaddr:  netip.AddrFrom4([4]byte(b[16:20])),
		chaddr:  net.HardwareAddr(append([]byte(nil), b[28:28+hlen]...)),
		options: map[byte][]byte{},
	}
	opts := b[headerLen+4:]
	for len(opts) > 0 {
		code := opts[0]
		if code == optEnd {
			break
		}
		if code == optPad {
			opts = opts[1:]
			continue
		}
		if len(opts) < 2 || len(opts) < 2+int(opts[1]) {
			return nil, fmt.Errorf("option %d runs past the end of the message: %w", code, errNotDHCP)
		}
		n := int(opts[1])
		if _, ok := m.options[code]; !ok {
			m.order = append(m.order, code)
		}
		m.options[code] = append(m.options[code], opts[2:2+n]...)
		opts = opts[2+n:]
	}
	return m, nil
}

// messageType is option 53, or 0 when it is missing.
func (m *message) messageType() byte {
	if v := m.options[optMessageType]; len(v) == 1 {
		return v[0]
	}
	return 0
}

// addr reads an option holding one IPv4 address.
func (m *message) addr(code byte) (netip.Addr, bool) {
	v := m.options[code]
	if len(v) < 4 {
		return netip.Addr{}, false
	}
	return netip.AddrFrom4([4]byte(v[:4])), true
}

// addrs reads an option holding a list of IPv4 addresses.
func (m *message) addrs(code byte) []netip.Addr {
	v := m.options[code]
	var out []netip.Addr
	for ; len(v) >= 4; v = v[4:] {
		out = append(out, netip.AddrFrom4([4]byte(v[:4])))
	}
	return out
}

// seconds reads an option holding a 32-bit count of seconds; 0xffffffff means forever.
func (m *message) seconds(code byte) (time.Duration, bool) {
	v := m.options[code]
	if len(v) != 4 {
		return 0, false
	}
	s := binary.BigEndian.Uint32(v)
	if s == 0xffffffff {
		return Forever, true
	}
	return time.Duration(s) * time.Second, true
}

// serverMessage is option 56, the server's explanation of a refusal.
func (m *message) serverMessage() string {
	return string(m.options[optMessage])
}
