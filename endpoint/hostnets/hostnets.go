// Package hostnets knows the subnets a bridge network must never take on the endpoint VM:
// the special IPv4 ranges (loopback, link-local, multicast and the like) and the connected
// routes of the VM's own links (its role networks, docker0, anything an admin added). A vic
// network on one of them would hijack the VM's own traffic. The check builds on any OS; the
// routes are read through netlink on Linux.
package hostnets

import (
	"fmt"
	"net/netip"
)

// Subnet is a subnet the endpoint VM holds: a connected route of one of its links.
type Subnet struct {
	Prefix netip.Prefix
	// Link names the interface that holds it ("ens192", "docker0").
	Link string
}

// special are the ranges no network of containers can use, whatever the host's routes.
var special = []struct {
	prefix netip.Prefix
	what   string
}{
	{netip.MustParsePrefix("0.0.0.0/8"), "the range of this host on this network (0.0.0.0/8)"},
	{netip.MustParsePrefix("127.0.0.0/8"), "the loopback range 127.0.0.0/8"},
	{netip.MustParsePrefix("169.254.0.0/16"), "the link-local range 169.254.0.0/16"},
	{netip.MustParsePrefix("224.0.0.0/4"), "the multicast range 224.0.0.0/4"},
	{netip.MustParsePrefix("240.0.0.0/4"), "the reserved range 240.0.0.0/4"},
}

// Check returns one sentence when subnet overlaps a special range or one of the host's own
// subnets, and nil when a network may use it.
func Check(subnet netip.Prefix, host []Subnet) error {
	for _, s := range special {
		if s.prefix.Overlaps(subnet) {
			return fmt.Errorf("subnet %s overlaps %s: choose another subnet", subnet, s.what)
		}
	}
	for _, h := range host {
		if h.Prefix.Overlaps(subnet) {
			return fmt.Errorf("subnet %s overlaps %s of %s, a network of the endpoint VM itself: choose another subnet", subnet, h.Prefix.Masked(), h.Link)
		}
	}
	return nil
}

// Prefixes returns the prefixes of subnets, masked.
func Prefixes(subnets []Subnet) []netip.Prefix {
	out := make([]netip.Prefix, len(subnets))
	for i, s := range subnets {
		out[i] = s.Prefix.Masked()
	}
	return out
}
