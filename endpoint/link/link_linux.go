package link

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"

	"github.com/vishvananda/netlink"
)

// Links creates and removes the endpoint's links through one netlink handle.
type Links struct {
	nl *netlink.Handle
}

// New returns Links working through nl (a handle for the endpoint's own namespace, or a test's).
func New(nl *netlink.Handle) *Links { return &Links{nl: nl} }

// Bridge describes the bridge of one bridge network.
type Bridge struct {
	Name string
	// Gateway is the endpoint's address on the network, with the network's prefix length.
	Gateway netip.Prefix
	MTU     int
	// MAC, when set, is the bridge's own address: the gateway's MAC. A network spanning the
	// swarm's endpoints has the same one on each, so that a container that moves keeps a
	// gateway it knows.
	MAC net.HardwareAddr
}

// EnsureBridge creates the bridge if it is missing, gives it the gateway address (and no
// other address of the network's subnet) and brings it up.
func (l *Links) EnsureBridge(b Bridge) error {
	link, err := l.nl.LinkByName(b.Name)
	if err != nil {
		if !isNotFound(err) {
			return fmt.Errorf("looking up bridge %q: %w", b.Name, err)
		}
		attrs := netlink.NewLinkAttrs()
		attrs.Name = b.Name
		attrs.MTU = b.MTU
		if err := l.nl.LinkAdd(&netlink.Bridge{LinkAttrs: attrs}); err != nil {
			return fmt.Errorf("creating bridge %q: %w", b.Name, err)
		}
		if link, err = l.nl.LinkByName(b.Name); err != nil {
			return fmt.Errorf("looking up bridge %q: %w", b.Name, err)
		}
	} else if _, ok := link.(*netlink.Bridge); !ok {
		return fmt.Errorf("link %q exists and is a %s, not a bridge", b.Name, link.Type())
	}
	if len(b.MAC) > 0 && link.Attrs().HardwareAddr.String() != b.MAC.String() {
		if err := l.nl.LinkSetHardwareAddr(link, b.MAC); err != nil {
			return fmt.Errorf("setting MAC %s on bridge %q: %w", b.MAC, b.Name, err)
		}
	}
	if b.Gateway.IsValid() {
		if err := l.ensureOnlyAddress(link, b.Gateway); err != nil {
			return err
		}
	}
	if err := l.nl.LinkSetUp(link); err != nil {
		return fmt.Errorf("bringing up bridge %q: %w", b.Name, err)
	}
	return nil
}

func (l *Links) ensureOnlyAddress(link netlink.Link, want netip.Prefix) error {
	name := link.Attrs().Name
	addrs, err := l.nl.AddrList(link, netlink.FAMILY_V4)
	if err != nil {
		return fmt.Errorf("listing the addresses of %q: %w", name, err)
	}
	have := false
	for _, a := range addrs {
		p := toPrefix(a.IPNet)
		if p == want {
			have = true
			continue
		}
		if err := l.nl.AddrDel(link, &a); err != nil {
			return fmt.Errorf("removing address %s from %q: %w", p, name, err)
		}
	}
	if have {
		return nil
	}
	if err := l.nl.AddrAdd(link, &netlink.Addr{IPNet: toIPNet(want)}); err != nil {
		return fmt.Errorf("adding address %s to %q: %w", want, name, err)
	}
	return nil
}

// DeleteBridge removes a bridge; a missing one is fine.
func (l *Links) DeleteBridge(name string) error { return l.deleteLink(name, "bridge") }

// Veth describes the veth pair of one bridge-network endpoint.
type Veth struct {
	// Host is the end left on the bridge; Peer the end Docker moves into the container.
	Host, Peer string
	Bridge     string
	MAC        net.HardwareAddr
	MTU        int
}

// EnsureVeth creates the pair if it is missing, sets the peer's MAC, enslaves the host end to
// the bridge with hairpin on (containers reach their own published ports) and brings it up.
func (l *Links) EnsureVeth(v Veth) error {
	bridge, err := l.nl.LinkByName(v.Bridge)
	if err != nil {
		return fmt.Errorf("looking up bridge %q for veth %q: %w", v.Bridge, v.Host, err)
	}
	host, err := l.nl.LinkByName(v.Host)
	if isNotFound(err) {
		attrs := netlink.NewLinkAttrs()
		attrs.Name = v.Host
		attrs.MTU = v.MTU
		veth := &netlink.Veth{LinkAttrs: attrs, PeerName: v.Peer, PeerHardwareAddr: v.MAC}
		if err := l.nl.LinkAdd(veth); err != nil {
			return fmt.Errorf("creating veth pair %q/%q: %w", v.Host, v.Peer, err)
		}
		host, err = l.nl.LinkByName(v.Host)
	}
	if err != nil {
		return fmt.Errorf("looking up veth %q: %w", v.Host, err)
	}
	if _, ok := host.(*netlink.Veth); !ok {
		return fmt.Errorf("link %q exists and is a %s, not a veth", v.Host, host.Type())
	}
	if peer, err := l.nl.LinkByName(v.Peer); err == nil && len(v.MAC) > 0 && peer.Attrs().HardwareAddr.String() != v.MAC.String() {
		if err := l.nl.LinkSetHardwareAddr(peer, v.MAC); err != nil {
			return fmt.Errorf("setting MAC %s on %q: %w", v.MAC, v.Peer, err)
		}
	}
	if host.Attrs().MasterIndex != bridge.Attrs().Index {
		if err := l.nl.LinkSetMaster(host, bridge); err != nil {
			return fmt.Errorf("attaching veth %q to bridge %q: %w", v.Host, v.Bridge, err)
		}
	}
	if err := l.nl.LinkSetHairpin(host, true); err != nil {
		return fmt.Errorf("turning hairpin on for %q: %w", v.Host, err)
	}
	if err := l.nl.LinkSetUp(host); err != nil {
		return fmt.Errorf("bringing up veth %q: %w", v.Host, err)
	}
	return nil
}

// DeleteVeth removes a veth pair by its host end; a missing one is fine (Docker may already
// have destroyed the container's end, which takes the pair with it).
func (l *Links) DeleteVeth(host string) error { return l.deleteLink(host, "veth") }

// Macvlan describes the link of one container-network endpoint.
type Macvlan struct {
	Name   string
	Parent string
	MAC    net.HardwareAddr
	MTU    int
}

// EnsureMacvlan creates a bridge-mode macvlan on the parent (the endpoint NIC on the container
// network's port group) with the container's MAC.
func (l *Links) EnsureMacvlan(m Macvlan) error {
	parent, err := l.nl.LinkByName(m.Parent)
	if err != nil {
		return fmt.Errorf("looking up uplink %q for macvlan %q: %w", m.Parent, m.Name, err)
	}
	link, err := l.nl.LinkByName(m.Name)
	if err == nil {
		mv, ok := link.(*netlink.Macvlan)
		if ok && mv.Attrs().ParentIndex == parent.Attrs().Index {
			if len(m.MAC) > 0 && mv.Attrs().HardwareAddr.String() != m.MAC.String() {
				if err := l.nl.LinkSetHardwareAddr(mv, m.MAC); err != nil {
					return fmt.Errorf("setting MAC %s on %q: %w", m.MAC, m.Name, err)
				}
			}
			return nil
		}
		if err := l.nl.LinkDel(link); err != nil {
			return fmt.Errorf("replacing link %q: %w", m.Name, err)
		}
	} else if !isNotFound(err) {
		return fmt.Errorf("looking up macvlan %q: %w", m.Name, err)
	}
	attrs := netlink.NewLinkAttrs()
	attrs.Name = m.Name
	attrs.ParentIndex = parent.Attrs().Index
	attrs.HardwareAddr = m.MAC
	attrs.MTU = m.MTU
	if attrs.MTU == 0 {
		attrs.MTU = parent.Attrs().MTU
	}
	if err := l.nl.LinkAdd(&netlink.Macvlan{LinkAttrs: attrs, Mode: netlink.MACVLAN_MODE_BRIDGE}); err != nil {
		return fmt.Errorf("creating macvlan %q on %q: %w", m.Name, m.Parent, err)
	}
	return nil
}

// DeleteMacvlan removes a macvlan; a missing one is fine.
func (l *Links) DeleteMacvlan(name string) error { return l.deleteLink(name, "macvlan") }

// Owned lists the names of the links this package created, by prefix, for start-up cleanup.
func (l *Links) Owned() ([]string, error) {
	links, err := l.nl.LinkList()
	if err != nil {
		return nil, fmt.Errorf("listing links: %w", err)
	}
	var names []string
	for _, link := range links {
		name := link.Attrs().Name
		for _, p := range []string{BridgePrefix, HostVethPrefix, PeerPrefix, MacvlanPrefix, SpanPortPrefix, WirePrefix, TrunkName} {
			if strings.HasPrefix(name, p) {
				names = append(names, name)
				break
			}
		}
	}
	return names, nil
}

// Delete removes any link by name; a missing one is fine.
func (l *Links) Delete(name string) error { return l.deleteLink(name, "link") }

// MTU returns the MTU of link name.
func (l *Links) MTU(name string) (int, error) {
	link, err := l.nl.LinkByName(name)
	if err != nil {
		return 0, fmt.Errorf("looking up %q: %w", name, err)
	}
	return link.Attrs().MTU, nil
}

// SetRouteLocalnet lets DNAT from 127.0.0.1 reach containers on bridge (route_localnet=1).
// Sysctls belong to the network namespace of the calling thread, not of the netlink handle.
func SetRouteLocalnet(bridge string) error {
	p := filepath.Join("/proc/sys/net/ipv4/conf", bridge, "route_localnet")
	if err := os.WriteFile(p, []byte("1"), 0o644); err != nil {
		return fmt.Errorf("enabling route_localnet on %q: %w", bridge, err)
	}
	return nil
}

func (l *Links) deleteLink(name, kind string) error {
	link, err := l.nl.LinkByName(name)
	if isNotFound(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("looking up %s %q: %w", kind, name, err)
	}
	if err := l.nl.LinkDel(link); err != nil && !isNotFound(err) {
		return fmt.Errorf("deleting %s %q: %w", kind, name, err)
	}
	return nil
}

func isNotFound(err error) bool {
	var nf netlink.LinkNotFoundError
	return errors.As(err, &nf) || errors.Is(err, os.ErrNotExist)
}

func toPrefix(n *net.IPNet) netip.Prefix {
	a, _ := netip.AddrFromSlice(n.IP)
	ones, _ := n.Mask.Size()
	return netip.PrefixFrom(a.Unmap(), ones)
}

func toIPNet(p netip.Prefix) *net.IPNet {
	return &net.IPNet{IP: p.Addr().AsSlice(), Mask: net.CIDRMask(p.Bits(), p.Addr().BitLen())}
}

// SetRouteLocalnet is SetRouteLocalnet for the calling thread's namespace, as a method so
// that Links satisfies the driver's interface.
func (l *Links) SetRouteLocalnet(bridge string) error { return SetRouteLocalnet(bridge) }
