package hostnets

import (
	"fmt"
	"net/netip"
	"strings"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// List reads the IPv4 connected routes of the namespace of nl (every table), except those of
// links whose names start with skipPrefix: the daemon's own bridges, which its allocator knows.
func List(nl *netlink.Handle, skipPrefix string) ([]Subnet, error) {
	routes, err := nl.RouteListFiltered(netlink.FAMILY_V4, &netlink.Route{Table: unix.RT_TABLE_UNSPEC, Scope: netlink.SCOPE_LINK},
		netlink.RT_FILTER_TABLE|netlink.RT_FILTER_SCOPE)
	if err != nil {
		return nil, fmt.Errorf("listing the endpoint VM's routes: %w", err)
	}
	names := map[int]string{}
	var out []Subnet
	for _, r := range routes {
		if r.Dst == nil || r.LinkIndex == 0 {
			continue
		}
		name, ok := names[r.LinkIndex]
		if !ok {
			if l, err := nl.LinkByIndex(r.LinkIndex); err == nil {
				name = l.Attrs().Name
			}
			names[r.LinkIndex] = name
		}
		if skipPrefix != "" && strings.HasPrefix(name, skipPrefix) {
			continue
		}
		addr, ok := netip.AddrFromSlice(r.Dst.IP)
		if !ok {
			continue
		}
		ones, _ := r.Dst.Mask.Size()
		p := netip.PrefixFrom(addr.Unmap(), ones).Masked()
		if p.Bits() == 32 || p.Addr().IsLoopback() || p.Addr().IsMulticast() {
			continue
		}
		out = append(out, Subnet{Prefix: p, Link: name})
	}
	return out, nil
}
