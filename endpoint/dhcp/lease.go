package dhcp

import (
	"fmt"
	"net"
	"net/netip"
	"time"

	"github.com/insomniacslk/dhcp/dhcpv4"
)

// Forever is the Duration of a lease that never expires.
const Forever = time.Duration(1<<63 - 1)

// Lease is an address leased for a container's MAC on a port group, with what the DHCP server
// said about the network.
type Lease struct {
	PortGroup string
	MAC       net.HardwareAddr
	// Prefix is the leased address with the length of the server's subnet mask.
	Prefix netip.Prefix
	// Router is the first router the server named: the container's gateway. It is invalid
	// when the server named none.
	Router netip.Addr
	// DNS lists the DNS servers the server named.
	DNS []netip.Addr
	// Domain is the DNS domain name the server named, if any.
	Domain string
	// Server is the DHCP server's identifier, where renewals and releases go.
	Server netip.Addr
	// Obtained is when the request that the server last acknowledged was sent.
	Obtained time.Time
	// Duration is how long the lease lasts from Obtained, or Forever.
	Duration time.Duration
	// Renew and Rebind are the times after Obtained when the client asks for an extension,
	// first (T1) and then again from any server (T2).
	Renew, Rebind time.Duration
}

// Expires is when the lease ends unless it is renewed; the zero time for a lease that never
// expires.
func (l Lease) Expires() time.Time {
	if l.Duration == Forever {
		return time.Time{}
	}
	return l.Obtained.Add(l.Duration)
}

// leaseFrom reads a lease out of the DHCPACK m to a request sent at sent. What the ACK leaves
// out is kept from prev, the lease it extends, when there is one.
func leaseFrom(pg string, mac net.HardwareAddr, sent time.Time, m *dhcpv4.DHCPv4, prev *Lease) (Lease, error) {
	l := Lease{PortGroup: pg, MAC: mac, Obtained: sent}
	yiaddr := addrOf(m.YourIPAddr)
	if prev != nil && prev.Prefix.Addr() == yiaddr {
		l.Prefix, l.Router, l.DNS, l.Domain, l.Server = prev.Prefix, prev.Router, prev.DNS, prev.Domain, prev.Server
		l.Duration, l.Renew, l.Rebind = prev.Duration, prev.Renew, prev.Rebind
	}
	if !yiaddr.IsValid() || yiaddr.IsUnspecified() {
		return Lease{}, fmt.Errorf("the DHCPACK for MAC %s on port group %q carries no address", mac, pg)
	}
	ones, bits := m.SubnetMask().Size()
	switch {
	case bits == 32:
		l.Prefix = netip.PrefixFrom(yiaddr, ones)
	case !l.Prefix.IsValid():
		l.Prefix = netip.PrefixFrom(yiaddr, classfulBits(yiaddr))
	}
	if r := addrsOf(m.Router()); len(r) > 0 {
		l.Router = r[0]
	}
	if d := addrsOf(m.DNS()); len(d) > 0 {
		l.DNS = d
	}
	if m.Options.Has(dhcpv4.OptionDomainName) {
		l.Domain = m.DomainName()
	}
	if s := addrOf(m.ServerIdentifier()); s.IsValid() {
		l.Server = s
	}
	if d := lifetime(m.IPAddressLeaseTime(0)); d > 0 {
		l.Duration = d
		l.Renew, l.Rebind = 0, 0
	}
	if l.Duration == 0 {
		return Lease{}, fmt.Errorf("the DHCPACK of %s for MAC %s on port group %q gives no lease time", yiaddr, mac, pg)
	}
	if d := lifetime(m.IPAddressRenewalTime(0)); d > 0 {
		l.Renew = d
	}
	if d := lifetime(m.IPAddressRebindingTime(0)); d > 0 {
		l.Rebind = d
	}
	if l.Duration != Forever && (l.Renew <= 0 || l.Rebind <= l.Renew || l.Duration <= l.Rebind) {
		// RFC 2131 section 4.4.5 defaults, also used when the server's timers make no sense.
		l.Renew, l.Rebind = l.Duration/2, l.Duration*7/8
	}
	return l, nil
}

// classfulBits is the natural prefix length of a, for servers that send no subnet mask.
func classfulBits(a netip.Addr) int {
	switch b := a.As4()[0]; {
	case b < 128:
		return 8
	case b < 192:
		return 16
	default:
		return 24
	}
}
