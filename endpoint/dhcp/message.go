package dhcp

import (
	"bytes"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"time"

	"github.com/insomniacslk/dhcp/dhcpv4"
	"github.com/insomniacslk/dhcp/iana"
)

// The messages are github.com/insomniacslk/dhcp's dhcpv4; this file says what the client puts
// in them and reads out of them.

// params asks the server for what a container's interface needs.
var params = dhcpv4.WithRequestedOptions(dhcpv4.OptionSubnetMask, dhcpv4.OptionRouter,
	dhcpv4.OptionDomainNameServer, dhcpv4.OptionDomainName, dhcpv4.OptionInterfaceMTU,
	dhcpv4.OptionIPAddressLeaseTime, dhcpv4.OptionRenewTimeValue, dhcpv4.OptionRebindingTimeValue)

// forMAC makes a client message speak for the interface with MAC mac. The broadcast flag asks
// servers to broadcast their replies, since the endpoint's NIC does not receive unicast frames
// sent to the container's MAC before the container's interface exists. Servers answer renewals
// (ciaddr set) by unicast anyway, RFC 2131 section 4.1: the packet socket sees those too, see
// openPacket.
func forMAC(mac net.HardwareAddr) dhcpv4.Modifier {
	return func(m *dhcpv4.DHCPv4) {
		m.ClientHWAddr = mac
		m.SetBroadcast()
		m.UpdateOption(dhcpv4.OptClientIdentifier(append([]byte{byte(iana.HWTypeEthernet)}, mac...)))
	}
}

// discoverMsg asks any server for an address for MAC mac; a valid hint asks for that one.
func discoverMsg(mac net.HardwareAddr, hint netip.Addr) (*dhcpv4.DHCPv4, error) {
	mods := []dhcpv4.Modifier{forMAC(mac), params}
	if hint.IsValid() {
		mods = append(mods, dhcpv4.WithOption(dhcpv4.OptRequestedIPAddress(ipOf(hint))))
	}
	return made(dhcpv4.NewDiscovery(mac, mods...))
}

// requestMsg asks the server of offer, in the offer's transaction, for the address it offered.
func requestMsg(offer *dhcpv4.DHCPv4, mac net.HardwareAddr) (*dhcpv4.DHCPv4, error) {
	return made(dhcpv4.NewRequestFromOffer(offer, forMAC(mac), params))
}

// extendMsg asks for lease l again: with ciaddr set when renewing or rebinding, and with the
// address as the requested one, not claimed yet, when rebooting (RFC 2131 section 4.3.2).
func extendMsg(l Lease, reboot bool) (*dhcpv4.DHCPv4, error) {
	claim := dhcpv4.WithClientIP(ipOf(l.Prefix.Addr()))
	if reboot {
		claim = dhcpv4.WithOption(dhcpv4.OptRequestedIPAddress(ipOf(l.Prefix.Addr())))
	}
	return made(dhcpv4.New(dhcpv4.WithMessageType(dhcpv4.MessageTypeRequest), forMAC(l.MAC), params, claim))
}

// releaseMsg gives lease l back to its server, when known.
func releaseMsg(l Lease) (*dhcpv4.DHCPv4, error) {
	mods := []dhcpv4.Modifier{dhcpv4.WithMessageType(dhcpv4.MessageTypeRelease), forMAC(l.MAC),
		dhcpv4.WithBroadcast(false), dhcpv4.WithClientIP(ipOf(l.Prefix.Addr()))}
	if l.Server.IsValid() {
		mods = append(mods, dhcpv4.WithOption(dhcpv4.OptServerIdentifier(ipOf(l.Server))))
	}
	return made(dhcpv4.New(mods...))
}

// made passes on a message the library made. It fails only when it cannot draw a random xid.
func made(m *dhcpv4.DHCPv4, err error) (*dhcpv4.DHCPv4, error) {
	if err != nil {
		return nil, fmt.Errorf("making a DHCP message: %w", err)
	}
	return m, nil
}

// answers reports whether m is a server's reply of a type in want to transaction xid for mac.
func answers(m *dhcpv4.DHCPv4, xid dhcpv4.TransactionID, mac net.HardwareAddr, want []dhcpv4.MessageType) bool {
	return m.OpCode == dhcpv4.OpcodeBootReply && m.TransactionID == xid &&
		bytes.Equal(m.ClientHWAddr, mac) && slices.Contains(want, m.MessageType())
}

// addrOf converts an address of the library's; a missing or non-IPv4 one is invalid.
func addrOf(ip net.IP) netip.Addr {
	a, _ := netip.AddrFromSlice(ip.To4())
	return a
}

func addrsOf(ips []net.IP) []netip.Addr {
	var out []netip.Addr
	for _, ip := range ips {
		if a := addrOf(ip); a.IsValid() {
			out = append(out, a)
		}
	}
	return out
}

func ipOf(a netip.Addr) net.IP { return a.AsSlice() }

// lifetime reads the value of a lease time option, where the largest means forever.
func lifetime(d time.Duration) time.Duration {
	if d == dhcpv4.MaxLeaseTime {
		return Forever
	}
	return d
}
