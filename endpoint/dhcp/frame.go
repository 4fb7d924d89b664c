package dhcp

import (
	"encoding/binary"
	"errors"
	"net"
	"net/netip"
)

const (
	etherTypeIPv4 = 0x0800
	protoUDP      = 17
	portServer    = 67
	portClient    = 68

	etherHeaderLen = 14
	ipHeaderLen    = 20
	udpHeaderLen   = 8
)

var broadcastMAC = net.HardwareAddr{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}

// frame wraps a DHCP payload in UDP, IPv4 and Ethernet headers, from src (the container's MAC,
// so that the switches of the port group learn where it lives) to dst.
func frame(srcMAC, dstMAC net.HardwareAddr, srcIP, dstIP netip.Addr, payload []byte) []byte {
	total := ipHeaderLen + udpHeaderLen + len(payload)
	b := make([]byte, etherHeaderLen+total)

	copy(b[0:6], dstMAC)
	copy(b[6:12], srcMAC)
	binary.BigEndian.PutUint16(b[12:], etherTypeIPv4)

	ip := b[etherHeaderLen : etherHeaderLen+ipHeaderLen]
	ip[0] = 0x45 // version 4, 5 words of header
	binary.BigEndian.PutUint16(ip[2:], uint16(total))
	ip[8] = 64 // TTL
	ip[9] = protoUDP
	putAddr(ip[12:], srcIP)
	putAddr(ip[16:], dstIP)
	binary.BigEndian.PutUint16(ip[10:], checksum(0, ip))

	udp := b[etherHeaderLen+ipHeaderLen:]
	binary.BigEndian.PutUint16(udp[0:], portClient)
	binary.BigEndian.PutUint16(udp[2:], portServer)
	binary.BigEndian.PutUint16(udp[4:], uint16(udpHeaderLen+len(payload)))
	copy(udp[udpHeaderLen:], payload)
	binary.BigEndian.PutUint16(udp[6:], udpChecksum(ip[12:20], udp))
	return b
}

func putAddr(b []byte, a netip.Addr) {
	if a.Is4() {
		v := a.As4()
		copy(b, v[:])
	}
}

// udpChecksum computes the UDP checksum over the pseudo header (addresses from ip, protocol,
// length) and the datagram.
func udpChecksum(addrs, udp []byte) uint16 {
	var pseudo [4]byte
	pseudo[1] = protoUDP
	binary.BigEndian.PutUint16(pseudo[2:], uint16(len(udp)))
	sum := sum16(0, addrs)
	sum = sum16(sum, pseudo[:])
	c := checksum(sum, udp)
	if c == 0 {
		return 0xffff
	}
	return c
}

func sum16(sum uint32, b []byte) uint32 {
	for ; len(b) >= 2; b = b[2:] {
		sum += uint32(b[0])<<8 | uint32(b[1])
	}
	if len(b) == 1 {
		sum += uint32(b[0]) << 8
	}
	return sum
}

func checksum(initial uint32, b []byte) uint16 {
	sum := sum16(initial, b)
	for sum>>16 != 0 {
		sum = sum&0xffff + sum>>16
	}
	return ^uint16(sum)
}

var errNotReply = errors.New("not a DHCP reply frame")

// parseFrame extracts the DHCP payload of an Ethernet frame carrying UDP to the client port,
// with the sender's MAC. Checksums are not verified: a server on the same host may hand
// frames over before its NIC fills them in, and DHCP's own xid and chaddr checks follow.
func parseFrame(b []byte) (src net.HardwareAddr, payload []byte, err error) {
	if len(b) < etherHeaderLen+ipHeaderLen+udpHeaderLen || binary.BigEndian.Uint16(b[12:]) != etherTypeIPv4 {
		return nil, nil, errNotReply
	}
	src = net.HardwareAddr(b[6:12])
	ip := b[etherHeaderLen:]
	ihl := int(ip[0]&0x0f) * 4
	total := int(binary.BigEndian.Uint16(ip[2:]))
	if ip[0]>>4 != 4 || ihl < ipHeaderLen || total > len(ip) || total < ihl+udpHeaderLen || ip[9] != protoUDP {
		return nil, nil, errNotReply
	}
	if binary.BigEndian.Uint16(ip[6:])&0x3fff != 0 { // a fragment
		return nil, nil, errNotReply
	}
	udp := ip[ihl:total]
	n := int(binary.BigEndian.Uint16(udp[4:]))
	if binary.BigEndian.Uint16(udp[2:]) != portClient || n < udpHeaderLen || n > len(udp) {
		return nil, nil, errNotReply
	}
	return src, udp[udpHeaderLen:n], nil
}
