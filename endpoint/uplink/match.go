package uplink

import (
	"fmt"
	"net/netip"
	"sort"
	"strings"

	"github.com/docker-vic/docker-vic/api/vchdoc"
	"github.com/docker-vic/docker-vic/config"
)

// Match finds which of the VCH's endpoint VMs this machine is, the one whose NICs carry local
// MACs (the first endpoint VM when none does), and maps each role's port group to the local
// link whose MAC is the MAC of that endpoint VM's NIC on the port group; overrides (`--uplink
// PG=IFACE`) win. Local MACs of two different endpoint VMs are refused. The public, client and
// management port groups must be found, and the public interface must carry an IPv4 address;
// a bridge or container port group without a local interface is reported by warn.
func Match(v *vchdoc.VCH, links []Link, overrides map[string]string, warn func(msg string, args ...any)) (*Set, error) {
	cfg := v.Config
	if err := checkOverrides(v, overrides); err != nil {
		return nil, err
	}
	own, err := ownEndpoint(v, links)
	if err != nil {
		return nil, err
	}
	m := matcher{v: v, nics: own.NICs, links: links, overrides: overrides}
	s := &Set{Endpoint: Endpoint{Number: own.Number, Name: own.Name, ID: own.ID}}
	if s.Public, err = m.find(config.RolePublic, cfg.Public.PortGroup); err != nil {
		return nil, err
	}
	if s.Address, err = publicAddress(cfg, own.Number, s.Public.Link); err != nil {
		return nil, err
	}
	if s.Client, err = m.find(config.RoleClient, cfg.Client.PortGroup); err != nil {
		return nil, err
	}
	if s.Management, err = m.find(config.RoleManagement, cfg.Management.PortGroup); err != nil {
		return nil, err
	}
	if s.Bridge, err = m.find(config.RoleBridge, cfg.Bridge.PortGroup); err != nil {
		warn("the bridge port group has no local interface: bridge networks still work on this endpoint", "portgroup", cfg.Bridge.PortGroup, "reason", err)
		s.Bridge = Uplink{}
	}
	s.Containers = map[string]Uplink{}
	for _, cn := range cfg.ContainerNetworks {
		up, err := m.find(config.RoleContainer, cn.PortGroup)
		if err != nil {
			warn("a container network has no local interface: containers cannot join it on this endpoint", "portgroup", cn.PortGroup, "reason", err)
			continue
		}
		s.Containers[cn.PortGroup] = up
	}
	return s, nil
}

// checkOverrides refuses an override of a port group the VCH does not use.
func checkOverrides(v *vchdoc.VCH, overrides map[string]string) error {
	known := map[string]bool{}
	for _, pg := range v.Config.PortGroups() {
		known[pg] = true
	}
	pgs := make([]string, 0, len(overrides))
	for pg := range overrides {
		pgs = append(pgs, pg)
	}
	sort.Strings(pgs)
	for _, pg := range pgs {
		if !known[pg] {
			return fmt.Errorf("--uplink names port group %q, which VCH %q does not use (its port groups: %s)", pg, v.Name, strings.Join(v.Config.PortGroups(), ", "))
		}
	}
	return nil
}

// ownEndpoint returns the endpoint VM of v whose NICs carry MACs of links: the first when none
// does, and an error when the MACs of several do.
func ownEndpoint(v *vchdoc.VCH, links []Link) (vchdoc.Endpoint, error) {
	local := map[string]bool{}
	for _, l := range links {
		if l.MAC != "" {
			local[strings.ToLower(l.MAC)] = true
		}
	}
	eps := v.EndpointList()
	var found []vchdoc.Endpoint
	for _, e := range eps {
		for _, n := range e.NICs {
			if n.MAC != "" && local[strings.ToLower(n.MAC)] {
				found = append(found, e)
				break
			}
		}
	}
	switch len(found) {
	case 0:
		return eps[0], nil
	case 1:
		return found[0], nil
	}
	return vchdoc.Endpoint{}, fmt.Errorf("the local interfaces carry the MACs of endpoint VMs %q and %q of VCH %q, and one machine is one endpoint VM", found[0].Name, found[1].Name, v.Name)
}

// matcher finds the local link of one port group.
type matcher struct {
	v *vchdoc.VCH
	// nics are the NICs of the endpoint VM this machine is.
	nics      []vchdoc.NIC
	links     []Link
	overrides map[string]string
}

func (m matcher) find(role config.Role, pg string) (Uplink, error) {
	up := Uplink{PortGroup: pg, Roles: m.v.Config.RolesOf(pg)}
	if iface, ok := m.overrides[pg]; ok {
		for _, l := range m.links {
			if l.Name == iface {
				up.Link = l
				return up, nil
			}
		}
		return up, fmt.Errorf("--uplink maps port group %q to interface %q, which does not exist on this machine", pg, iface)
	}
	mac := nicMAC(m.nics, pg)
	if mac == "" {
		return up, fmt.Errorf("VCH %q has no NIC on the %s port group %q: pass --uplink %s=IFACE", m.v.Name, role, pg, pg)
	}
	for _, l := range m.links {
		if strings.EqualFold(l.MAC, mac) {
			up.Link = l
			return up, nil
		}
	}
	return up, fmt.Errorf("no local interface carries MAC %s of the %s port group %q: pass --uplink %s=IFACE", strings.ToLower(mac), role, pg, pg)
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

// publicAddress picks the public interface's IPv4 address: endpoint i's configured static one
// when the interface carries it, else its first one.
func publicAddress(cfg *config.Config, i int, l Link) (netip.Addr, error) {
	if len(l.Addrs) == 0 {
		return netip.Addr{}, fmt.Errorf("public interface %q has no IPv4 address", l.Name)
	}
	if static := cfg.Public.AddressOf(i); static.IsValid() {
		for _, a := range l.Addrs {
			if a.Addr() == static.Addr() {
				return a.Addr(), nil
			}
		}
	}
	return l.Addrs[0].Addr(), nil
}
