package main

import (
	"fmt"
	"net"
	"net/netip"
	"strings"

	"github.com/vishvananda/netlink"

	"github.com/docker-vic/docker-vic/endpoint/link"
	"github.com/docker-vic/docker-vic/endpoint/testns"
)

// wires plays port groups on this machine: each is a namespace holding a Linux bridge, the
// port group's wire, and whatever sits on the port group is a veth whose other end is a port of
// that bridge.
type wires struct {
	// host is the namespace of the endpoint's NICs: the machine's own, or a test's.
	host *netlink.Handle
	// prefix starts the names of the wires' namespaces.
	prefix string
	open   map[string]*testns.NS
}

func newWires(host *netlink.Handle, prefix string) *wires {
	return &wires{host: host, prefix: prefix, open: map[string]*testns.NS{}}
}

// close releases the namespaces' handles; the namespaces stay.
func (w *wires) close() {
	for _, ns := range w.open {
		ns.Close()
	}
	w.open = map[string]*testns.NS{}
}

// namespace creates the named namespace, or opens it when it exists.
func (w *wires) namespace(name string) (*testns.NS, error) {
	if ns, ok := w.open[name]; ok {
		return ns, nil
	}
	ns, err := testns.Create(name)
	if err != nil {
		return nil, err
	}
	w.open[name] = ns
	return ns, nil
}

// wire is port group pg's namespace, with its bridge up.
func (w *wires) wire(pg string) (*testns.NS, error) {
	ns, err := w.namespace(wireNS(w.prefix, pg))
	if err != nil {
		return nil, err
	}
	if err := link.New(ns.Link).EnsureBridge(link.Bridge{Name: wireBridge}); err != nil {
		return nil, fmt.Errorf("the wire of port group %q: %w", pg, err)
	}
	return ns, nil
}

// plugHost gives the host a link name on port group pg's wire, with mac and, when valid, addr:
// what an endpoint NIC looks like from inside the endpoint VM.
func (w *wires) plugHost(name string, mac net.HardwareAddr, pg string, addr netip.Prefix) error {
	wire, err := w.wire(pg)
	if err != nil {
		return err
	}
	if err := join(w.host, name, mac, wire, nicPort(name)); err != nil {
		return err
	}
	return addressUp(w.host, name, addr)
}

// plugMachine gives machine namespace ns an interface iface with addr on port group pg's wire.
func (w *wires) plugMachine(ns, iface, pg string, addr netip.Prefix) error {
	wire, err := w.wire(pg)
	if err != nil {
		return err
	}
	m, err := w.namespace(ns)
	if err != nil {
		return err
	}
	if err := join(m.Link, iface, nil, wire, machinePort(ns, iface)); err != nil {
		return fmt.Errorf("machine %q: %w", ns, err)
	}
	if err := addressUp(m.Link, iface, addr); err != nil {
		return fmt.Errorf("machine %q: %w", ns, err)
	}
	return nil
}

// join makes a veth pair: end name in h's namespace, with mac when given, and end port in the
// wire's namespace as an up port of its bridge. A link name left from before is replaced.
func join(h *netlink.Handle, name string, mac net.HardwareAddr, wire *testns.NS, port string) error {
	if err := link.New(h).Delete(name); err != nil {
		return err
	}
	if err := link.New(wire.Link).Delete(port); err != nil {
		return err
	}
	attrs := netlink.NewLinkAttrs()
	attrs.Name = name
	attrs.HardwareAddr = mac
	veth := &netlink.Veth{LinkAttrs: attrs, PeerName: port, PeerNamespace: netlink.NsFd(int(wire.Handle))}
	if err := h.LinkAdd(veth); err != nil {
		return fmt.Errorf("creating veth %q onto wire %q: %w", name, wire.Name, err)
	}
	p, err := wire.Link.LinkByName(port)
	if err != nil {
		return fmt.Errorf("looking up port %q of wire %q: %w", port, wire.Name, err)
	}
	br, err := wire.Link.LinkByName(wireBridge)
	if err != nil {
		return fmt.Errorf("looking up the bridge of wire %q: %w", wire.Name, err)
	}
	if err := wire.Link.LinkSetMaster(p, br); err != nil {
		return fmt.Errorf("plugging port %q into wire %q: %w", port, wire.Name, err)
	}
	if err := wire.Link.LinkSetUp(p); err != nil {
		return fmt.Errorf("bringing up port %q of wire %q: %w", port, wire.Name, err)
	}
	return nil
}

// addressUp gives link name addr, when valid, and brings it up.
func addressUp(h *netlink.Handle, name string, addr netip.Prefix) error {
	l, err := h.LinkByName(name)
	if err != nil {
		return fmt.Errorf("looking up link %q: %w", name, err)
	}
	if addr.IsValid() {
		ipnet := &net.IPNet{IP: addr.Addr().AsSlice(), Mask: net.CIDRMask(addr.Bits(), addr.Addr().BitLen())}
		if err := h.AddrReplace(l, &netlink.Addr{IPNet: ipnet}); err != nil {
			return fmt.Errorf("adding address %s to link %q: %w", addr, name, err)
		}
	}
	if err := h.LinkSetUp(l); err != nil {
		return fmt.Errorf("bringing up link %q: %w", name, err)
	}
	return nil
}

// checkHostRanges refuses a host that already uses the test ranges outside the testbed's links.
func checkHostRanges(h *netlink.Handle) error {
	links, err := h.LinkList()
	if err != nil {
		return fmt.Errorf("listing the host's links: %w", err)
	}
	names := map[int]string{}
	for _, l := range links {
		names[l.Attrs().Index] = l.Attrs().Name
	}
	ours := func(index int) bool { return strings.HasPrefix(names[index], prefix) }
	addrs, err := h.AddrList(nil, netlink.FAMILY_V4)
	if err != nil {
		return fmt.Errorf("listing the host's addresses: %w", err)
	}
	for _, a := range addrs {
		if ip, ok := netip.AddrFromSlice(a.IP); ok && inTestRanges(ip.Unmap()) && !ours(a.LinkIndex) {
			return fmt.Errorf("the host already has address %s on %q, in the testbed's ranges", a.IPNet, names[a.LinkIndex])
		}
	}
	routes, err := h.RouteList(nil, netlink.FAMILY_V4)
	if err != nil {
		return fmt.Errorf("listing the host's routes: %w", err)
	}
	for _, r := range routes {
		if r.Dst == nil || ours(r.LinkIndex) {
			continue
		}
		if ip, ok := netip.AddrFromSlice(r.Dst.IP); ok && inTestRanges(ip.Unmap()) {
			return fmt.Errorf("the host already routes %s (link %q), in the testbed's ranges", r.Dst, names[r.LinkIndex])
		}
	}
	return nil
}

func inTestRanges(ip netip.Addr) bool {
	for _, r := range testRanges {
		if r.Contains(ip) {
			return true
		}
	}
	return false
}
