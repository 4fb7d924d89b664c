package dhcp

import (
	"errors"
	"fmt"
	"net"
	"os"
	"time"

	"golang.org/x/sys/unix"
)

// packetConn is an AF_PACKET socket bound to one interface that sees only the UDP frames to the
// DHCP client port that the interface receives, whatever their destination MAC. It is non-blocking and registered with the runtime's poller, so reads
// honour deadlines and Close interrupts them.
type packetConn struct {
	f *os.File
}

// Ancillary load of the classic BPF: the packet type (sll_pkttype) of the frame, linux/filter.h.
const (
	skfAdOff     = 0xfffff000 // SKF_AD_OFF, -0x1000
	skfAdPktType = 4          // SKF_AD_PKTTYPE
)

// clientPortFilter is the classic BPF program for "not sent by this host, IPv4, UDP, not a
// fragment, destination port 68": the socket wakes up for DHCP replies only, not for every
// frame of the port group nor for its own DHCP requests, which an ETH_P_ALL socket also sees.
var clientPortFilter = []unix.SockFilter{
	{Code: unix.BPF_LD | unix.BPF_W | unix.BPF_ABS, K: skfAdOff + skfAdPktType},              // 0: packet type
	{Code: unix.BPF_JMP | unix.BPF_JEQ | unix.BPF_K, Jt: 10, Jf: 0, K: unix.PACKET_OUTGOING}, // 1
	{Code: unix.BPF_LD | unix.BPF_H | unix.BPF_ABS, K: 12},                                   // 2: ethertype
	{Code: unix.BPF_JMP | unix.BPF_JEQ | unix.BPF_K, Jt: 0, Jf: 8, K: etherTypeIPv4},         // 3
	{Code: unix.BPF_LD | unix.BPF_B | unix.BPF_ABS, K: 23},                                   // 4: IP protocol
	{Code: unix.BPF_JMP | unix.BPF_JEQ | unix.BPF_K, Jt: 0, Jf: 6, K: protoUDP},              // 5
	{Code: unix.BPF_LD | unix.BPF_H | unix.BPF_ABS, K: 20},                                   // 6: flags and fragment offset
	{Code: unix.BPF_JMP | unix.BPF_JSET | unix.BPF_K, Jt: 4, Jf: 0, K: 0x1fff},               // 7
	{Code: unix.BPF_LDX | unix.BPF_B | unix.BPF_MSH, K: 14},                                  // 8: X = IP header length
	{Code: unix.BPF_LD | unix.BPF_H | unix.BPF_IND, K: 16},                                   // 9: UDP destination port
	{Code: unix.BPF_JMP | unix.BPF_JEQ | unix.BPF_K, Jt: 0, Jf: 1, K: portClient},            // 10
	{Code: unix.BPF_RET | unix.BPF_K, K: 0x40000},                                            // 11: accept
	{Code: unix.BPF_RET | unix.BPF_K, K: 0},                                                  // 12: drop
}

// openPacket opens a packet socket on interface ifname of the calling thread's namespace.
func openPacket(ifname string) (conn, error) {
	ifi, err := net.InterfaceByName(ifname)
	if err != nil {
		return nil, fmt.Errorf("finding uplink %q: %w", ifname, err)
	}
	// Protocol 0 receives nothing until bind, so no frame slips in before the filter.
	fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_RAW|unix.SOCK_CLOEXEC|unix.SOCK_NONBLOCK, 0)
	if err != nil {
		return nil, fmt.Errorf("opening a packet socket on uplink %q: %w", ifname, err)
	}
	ok := false
	defer func() {
		if !ok {
			unix.Close(fd)
		}
	}()
	prog := unix.SockFprog{Len: uint16(len(clientPortFilter)), Filter: &clientPortFilter[0]}
	if err := unix.SetsockoptSockFprog(fd, unix.SOL_SOCKET, unix.SO_ATTACH_FILTER, &prog); err != nil {
		return nil, fmt.Errorf("filtering the packet socket on uplink %q: %w", ifname, err)
	}
	// Our own requests are dropped by the kernel (from 4.20) and by the filter anyway.
	if err := unix.SetsockoptInt(fd, unix.SOL_PACKET, unix.PACKET_IGNORE_OUTGOING, 1); err != nil && !errors.Is(err, unix.ENOPROTOOPT) {
		return nil, fmt.Errorf("ignoring outgoing frames on the packet socket of uplink %q: %w", ifname, err)
	}
	// ETH_P_ALL, not ETH_P_IP: a server that answers a renewal by unicast to the container's
	// MAC sends a frame that the container's macvlan interface, hanging on this uplink, takes
	// in its rx handler. Only the ETH_P_ALL taps of the uplink run before that handler.
	sa := &unix.SockaddrLinklayer{Protocol: htons(unix.ETH_P_ALL), Ifindex: ifi.Index}
	if err := unix.Bind(fd, sa); err != nil {
		return nil, fmt.Errorf("binding the packet socket to uplink %q: %w", ifname, err)
	}
	ok = true
	return &packetConn{f: os.NewFile(uintptr(fd), "dhcp@"+ifname)}, nil
}

func (c *packetConn) send(b []byte) error {
	_, err := c.f.Write(b)
	return err
}

func (c *packetConn) receive(b []byte) (int, error) { return c.f.Read(b) }

func (c *packetConn) setDeadline(t time.Time) error { return c.f.SetReadDeadline(t) }

func (c *packetConn) Close() error { return c.f.Close() }

func htons(v uint16) uint16 { return v<<8 | v>>8 }
