package link

import (
	"fmt"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// Span describes how one bridge network reaches the swarm's other endpoints: a veth pair from
// its bridge (end Port) to the trunk (end Wire), the bridge that holds the endpoint's interface
// on the bridge port group.
type Span struct {
	Bridge, Port, Wire string
	MTU                int
}

// SpanOf is the span of network networkID, whose bridge is bridge.
func SpanOf(networkID, bridge string, mtu int) Span {
	return Span{Bridge: bridge, Port: SpanPortName(networkID), Wire: WireName(networkID), MTU: mtu}
}

// EnsureTrunk creates the trunk bridge if it is missing, makes uplink (the interface on the
// bridge port group) its port and brings both up. The trunk has no address and sends nothing
// of its own: no IPv6 link-local address either.
func (l *Links) EnsureTrunk(uplink string) error {
	up, err := l.nl.LinkByName(uplink)
	if err != nil {
		return fmt.Errorf("looking up the bridge port group's interface %q: %w", uplink, err)
	}
	trunk, err := l.nl.LinkByName(TrunkName)
	if isNotFound(err) {
		attrs := netlink.NewLinkAttrs()
		attrs.Name = TrunkName
		attrs.MTU = up.Attrs().MTU
		if err = l.nl.LinkAdd(&netlink.Bridge{LinkAttrs: attrs}); err != nil {
			return fmt.Errorf("creating trunk bridge %q: %w", TrunkName, err)
		}
		trunk, err = l.nl.LinkByName(TrunkName)
	}
	if err != nil {
		return fmt.Errorf("looking up trunk bridge %q: %w", TrunkName, err)
	}
	if _, ok := trunk.(*netlink.Bridge); !ok {
		return fmt.Errorf("link %q exists and is a %s, not a bridge", TrunkName, trunk.Type())
	}
	if err := l.quiet(trunk); err != nil {
		return err
	}
	if up.Attrs().MasterIndex != trunk.Attrs().Index {
		if err := l.nl.LinkSetMaster(up, trunk); err != nil {
			return fmt.Errorf("making %q a port of trunk bridge %q: %w", uplink, TrunkName, err)
		}
	}
	for _, link := range []netlink.Link{up, trunk} {
		if err := l.nl.LinkSetUp(link); err != nil {
			return fmt.Errorf("bringing up %q: %w", link.Attrs().Name, err)
		}
	}
	return nil
}

// DeleteTrunk removes the trunk bridge, which frees the uplink; a missing one is fine.
func (l *Links) DeleteTrunk() error { return l.deleteLink(TrunkName, "trunk bridge") }

// EnsureSpan creates the veth pair of a span if it is missing, makes its ends ports of the
// network's bridge and of the trunk (EnsureTrunk first) and brings them up.
func (l *Links) EnsureSpan(s Span) error {
	port, err := l.nl.LinkByName(s.Port)
	if isNotFound(err) {
		attrs := netlink.NewLinkAttrs()
		attrs.Name = s.Port
		attrs.MTU = s.MTU
		if err = l.nl.LinkAdd(&netlink.Veth{LinkAttrs: attrs, PeerName: s.Wire}); err != nil {
			return fmt.Errorf("creating veth pair %q/%q: %w", s.Port, s.Wire, err)
		}
		port, err = l.nl.LinkByName(s.Port)
	}
	if err != nil {
		return fmt.Errorf("looking up veth %q: %w", s.Port, err)
	}
	if _, ok := port.(*netlink.Veth); !ok {
		return fmt.Errorf("link %q exists and is a %s, not a veth", s.Port, port.Type())
	}
	wire, err := l.nl.LinkByName(s.Wire)
	if err != nil {
		return fmt.Errorf("looking up veth %q, the peer of %q: %w", s.Wire, s.Port, err)
	}
	for _, end := range []struct {
		link   netlink.Link
		bridge string
	}{{port, s.Bridge}, {wire, TrunkName}} {
		if err := l.quiet(end.link); err != nil {
			return err
		}
		br, err := l.nl.LinkByName(end.bridge)
		if err != nil {
			return fmt.Errorf("looking up bridge %q for %q: %w", end.bridge, end.link.Attrs().Name, err)
		}
		if end.link.Attrs().MasterIndex != br.Attrs().Index {
			if err := l.nl.LinkSetMaster(end.link, br); err != nil {
				return fmt.Errorf("making %q a port of bridge %q: %w", end.link.Attrs().Name, end.bridge, err)
			}
		}
		if err := l.nl.LinkSetUp(end.link); err != nil {
			return fmt.Errorf("bringing up %q: %w", end.link.Attrs().Name, err)
		}
	}
	return nil
}

// DeleteSpan removes a span's veth pair (both ends go together); a missing one is fine.
func (l *Links) DeleteSpan(s Span) error { return l.deleteLink(s.Port, "veth") }

// addrGenModeNone is IN6_ADDR_GEN_MODE_NONE of <linux/if_link.h>: no IPv6 address made.
const addrGenModeNone = 1

// quiet keeps a link of the span from having an IPv6 address of its own, so that it sends
// nothing onto the bridge port group (neighbour discovery, MLD) but what it carries.
func (l *Links) quiet(link netlink.Link) error {
	if link.Attrs().Flags&unix.IFF_UP != 0 {
		return nil // set before it first came up
	}
	if err := l.nl.LinkSetIP6AddrGenMode(link, addrGenModeNone); err != nil {
		return fmt.Errorf("turning off IPv6 addresses of %q: %w", link.Attrs().Name, err)
	}
	return nil
}
