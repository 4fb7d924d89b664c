//go:build linux

package main

import (
	"fmt"
	"net"
	"net/netip"
	"sort"
	"strings"

	"github.com/vishvananda/netlink"

	"github.com/docker-vic/docker-vic/api/vchdoc"
	"github.com/docker-vic/docker-vic/config"
)

// localLink is a network interface of the endpoint, as uplink matching sees it.
type localLink struct {
	Name  string
	MAC   string
	Addrs []netip.Prefix // IPv4 only
}

// uplink is the local interface carrying one port group of the VCH.
type uplink struct {
	PortGroup string
	Roles     []config.Role
	Link      localLink
}

// uplinks are the local interfaces of the VCH's role networks.
type uplinks struct {
	Public, Client, Management uplink
	// Bridge is the interface on the bridge port group; zero when the endpoint has none.
	Bridge uplink
	// Containers are the interfaces on the container networks' port groups, by port group;
	// a container network without one is missing.
	Containers map[string]uplink
	// Public address: published ports live there and on 127.0.0.1.
	Address netip.Addr
}

// LocalSubnets are the subnets of the public, client and management interfaces: no bridge
// network may overlap them.
func (u *uplinks) LocalSubnets() []netip.Prefix {
	seen := map[netip.Prefix]bool{}
	var out []netip.Prefix
	for _, up := range []uplink{u.Public, u.Client, u.Management} {
		for _, a := range up.Link.Addrs {
			if p := a.Masked(); !seen[p] {
				seen[p] = true
				out = append(out, p)
			}
		}
	}
	return out
}

// String describes the uplinks for the start-up log line: public=eth0 bridge=eth1
// container:External-Consumer=eth2.
func (u *uplinks) String() string {
	byName := map[string][]string{}
	var names []string
	for _, up := range []struct {
		role string
		u    uplink
	}{{"public", u.Public}, {"client", u.Client}, {"management", u.Management}, {"bridge", u.Bridge}} {
		name := up.u.Link.Name
		if name == "" {
			continue
		}
		if _, ok := byName[name]; !ok {
			names = append(names, name)
		}
		byName[name] = append(byName[name], up.role)
	}
	pgs := make([]string, 0, len(u.Containers))
	for pg := range u.Containers {
		pgs = append(pgs, pg)
	}
	sort.Strings(pgs)
	for _, pg := range pgs {
		name := u.Containers[pg].Link.Name
		if _, ok := byName[name]; !ok {
			names = append(names, name)
		}
		byName[name] = append(byName[name], "container:"+pg)
	}
	var parts []string
	for _, n := range names {
		parts = append(parts, strings.Join(byName[n], ",")+"="+n)
	}
	return strings.Join(parts, " ")
}

// matchUplinks maps each role's port group to the local link whose MAC is the MAC of the
// endpoint VM's NIC on that port group; overrides (--uplink PG=IFACE) win. The public,
// client and management port groups must be found, and the public interface must carry an
// IPv4 address; a bridge port group without a local interface is reported by warn.
func matchUplinks(v *vchdoc.VCH, links []localLink, overrides map[string]string, warn func(msg string, args ...any)) (*uplinks, error) {
	cfg := v.Config
	known := map[string]bool{}
	for _, pg := range cfg.PortGroups() {
		known[pg] = true
	}
	pgs := make([]string, 0, len(overrides))
	for pg := range overrides {
		pgs = append(pgs, pg)
	}
	sort.Strings(pgs)
	for _, pg := range pgs {
		if !known[pg] {
			return nil, fmt.Errorf("--uplink names port group %q, which VCH %q does not use (its port groups: %s)", pg, v.Name, strings.Join(cfg.PortGroups(), ", "))
		}
	}
	find := func(role config.Role, pg string) (uplink, error) {
		up := uplink{PortGroup: pg, Roles: cfg.RolesOf(pg)}
		if iface, ok := overrides[pg]; ok {
			for _, l := range links {
				if l.Name == iface {
					up.Link = l
					return up, nil
				}
			}
			return up, fmt.Errorf("--uplink maps port group %q to interface %q, which does not exist on this machine", pg, iface)
		}
		mac := nicMAC(v.NICs, pg)
		if mac == "" {
			return up, fmt.Errorf("VCH %q has no NIC on the %s port group %q: pass --uplink %s=IFACE", v.Name, role, pg, pg)
		}
		for _, l := range links {
			if strings.EqualFold(l.MAC, mac) {
				up.Link = l
				return up, nil
			}
		}
		return up, fmt.Errorf("no local interface carries MAC %s of the %s port group %q: pass --uplink %s=IFACE", strings.ToLower(mac), role, pg, pg)
	}
	u := &uplinks{}
	var err error
	if u.Public, err = find(config.RolePublic, cfg.Public.PortGroup); err != nil {
		return nil, err
	}
	if u.Address, err = publicAddress(cfg, u.Public.Link); err != nil {
		return nil, err
	}
	if u.Client, err = find(config.RoleClient, cfg.Client.PortGroup); err != nil {
		return nil, err
	}
	if u.Management, err = find(config.RoleManagement, cfg.Management.PortGroup); err != nil {
		return nil, err
	}
	if u.Bridge, err = find(config.RoleBridge, cfg.Bridge.PortGroup); err != nil {
		warn("the bridge port group has no local interface: bridge networks still work on this endpoint", "portgroup", cfg.Bridge.PortGroup, "reason", err)
		u.Bridge = uplink{}
	}
	u.Containers = map[string]uplink{}
	for _, cn := range cfg.ContainerNetworks {
		up, err := find(config.RoleContainer, cn.PortGroup)
		if err != nil {
			warn("a container network has no local interface: containers cannot join it on this endpoint", "portgroup", cn.PortGroup, "reason", err)
			continue
		}
		u.Containers[cn.PortGroup] = up
	}
	return u, nil
}

// nicMAC returns the MAC of the endpoint VM's NIC on port group pg, or "".
func nicMAC(nics []vchdoc.NIC, pg string) string {
	for _, n := range nics {
		if n.PortGroup == pg && n.MAC != "" {
			return n.MAC
		}
	}
	return ""
}

// publicAddress picks the public interface's IPv4 address: the configured static one when the
// interface carries it, else its first one.
func publicAddress(cfg *config.Config, l localLink) (netip.Addr, error) {
	if len(l.Addrs) == 0 {
		return netip.Addr{}, fmt.Errorf("public interface %q has no IPv4 address", l.Name)
	}
	if cfg.Public.Static() {
		for _, a := range l.Addrs {
			if a.Addr() == cfg.Public.IP.Addr() {
				return a.Addr(), nil
			}
		}
	}
	return l.Addrs[0].Addr(), nil
}

// listLinks reads the local interfaces and their IPv4 addresses through nl.
func listLinks(nl *netlink.Handle) ([]localLink, error) {
	all, err := nl.LinkList()
	if err != nil {
		return nil, fmt.Errorf("listing the local interfaces: %w", err)
	}
	var out []localLink
	for _, l := range all {
		a := l.Attrs()
		ll := localLink{Name: a.Name, MAC: a.HardwareAddr.String()}
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
