package dhcp

import (
	"fmt"
	"net"

	"github.com/mdlayher/packet"
	"golang.org/x/net/bpf"
)

// From linux/if_ether.h and linux/if_packet.h: packet sockets are Linux's, and so is this
// client; elsewhere packet.Listen says it is not implemented.
const (
	ethPAll        = 0x0003 // ETH_P_ALL
	packetOutgoing = 4      // PACKET_OUTGOING, the packet type of what this host sends
)

// clientPortFilter passes what is "not sent by this host, IPv4, UDP, not a fragment,
// destination port 68": the socket wakes up for DHCP replies only, not for every frame of the
// port group nor for its own DHCP requests, which an ETH_P_ALL socket also sees.
var clientPortFilter = []bpf.Instruction{
	bpf.LoadExtension{Num: bpf.ExtType},
	bpf.JumpIf{Cond: bpf.JumpEqual, Val: packetOutgoing, SkipTrue: 10},
	bpf.LoadAbsolute{Off: 12, Size: 2}, // ethertype
	bpf.JumpIf{Cond: bpf.JumpNotEqual, Val: etherTypeIPv4, SkipTrue: 8},
	bpf.LoadAbsolute{Off: etherHeaderLen + 9, Size: 1}, // IP protocol
	bpf.JumpIf{Cond: bpf.JumpNotEqual, Val: protoUDP, SkipTrue: 6},
	bpf.LoadAbsolute{Off: etherHeaderLen + 6, Size: 2}, // flags and fragment offset
	bpf.JumpIf{Cond: bpf.JumpBitsSet, Val: 0x1fff, SkipTrue: 4},
	bpf.LoadMemShift{Off: etherHeaderLen},              // X = IP header length
	bpf.LoadIndirect{Off: etherHeaderLen + 2, Size: 2}, // UDP destination port
	bpf.JumpIf{Cond: bpf.JumpNotEqual, Val: portClient, SkipTrue: 1},
	bpf.RetConstant{Val: 0x40000}, // accept
	bpf.RetConstant{Val: 0},       // drop
}

// openPacket opens a packet socket on interface ifname of the calling thread's namespace that
// sends whole Ethernet frames and sees only the UDP frames to the DHCP client port that the
// interface receives, whatever their destination MAC. Its reads honour deadlines, and Close
// interrupts them.
func openPacket(ifname string) (net.PacketConn, error) {
	ifi, err := net.InterfaceByName(ifname)
	if err != nil {
		return nil, fmt.Errorf("finding uplink %q: %w", ifname, err)
	}
	filter, err := bpf.Assemble(clientPortFilter)
	if err != nil {
		return nil, fmt.Errorf("assembling the DHCP client port filter: %w", err)
	}
	// ETH_P_ALL, not ETH_P_IP: a server that answers a renewal by unicast to the container's
	// MAC sends a frame that the container's macvlan interface, hanging on this uplink, takes
	// in its rx handler. Only the ETH_P_ALL taps of the uplink run before that handler. The
	// filter is attached before the socket is bound, so no other frame slips in.
	c, err := packet.Listen(ifi, packet.Raw, ethPAll, &packet.Config{Filter: filter})
	if err != nil {
		return nil, fmt.Errorf("opening a packet socket on uplink %q: %w", ifname, err)
	}
	return c, nil
}
