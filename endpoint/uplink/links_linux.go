package uplink

import (
	"fmt"
	"net"
	"net/netip"

	"github.com/vishvananda/netlink"
)

// List reads the local interfaces and their global IPv4 addresses through nl. Bridges are not
// interfaces of the VM: a bridge takes the MAC of one of its ports (the trunk of a swarm's
// spanning networks, the bridge port group's NIC's), and must never be matched for it.
func List(nl *netlink.Handle) ([]Link, error) {
	all, err := nl.LinkList()
	if err != nil {
		return nil, fmt.Errorf("listing the local interfaces: %w", err)
	}
	var out []Link
	for _, l := range all {
		if _, bridge := l.(*netlink.Bridge); bridge {
			continue
		}
		a := l.Attrs()
		ll := Link{Name: a.Name, MAC: a.HardwareAddr.String()}
		addrs, err := nl.AddrList(l, netlink.FAMILY_V4)
		if err != nil {
			return nil, fmt.Errorf("listing the addresses of %q: %w", a.Name, err)
		}
		for _, ad := range addrs {
			if p, ok := toPrefix(ad.IPNet); ok && ad.Scope == int(netlink.SCOPE_UNIVERSE) {
				ll.Addrs = append(ll.Addrs, p)
			}
		}
		out = append(out, ll)
	}
	return out, nil
}

func toPrefix(n *net.IPNet) (netip.Prefix, bool) {
	if n == nil {
		return netip.Prefix{}, false
	}
	a, ok := netip.AddrFromSlice(n.IP)
	if !ok {
		return netip.Prefix{}, false
	}
	ones, _ := n.Mask.Size()
	return netip.PrefixFrom(a.Unmap(), ones), true
}
