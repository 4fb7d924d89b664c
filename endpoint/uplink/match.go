package uplink

import (
	"fmt"
	"net/netip"
	"sort"
	"strings"

	"github.com/docker-vic/docker-vic/api/vchdoc"
	"github.com/docker-vic/docker-vic/config"
)

// Match maps each role's port group to the local link whose MAC is the MAC of the endpoint
// VM's NIC on that port group; overrides (`--uplink PG=IFACE`) win. The public, client and
// management port groups must be found, and the public interface must carry an IPv4 address;
// a bridge or container port group without a local interface is reported by warn.
func Match(v *vchdoc.VCH, links []Link, overrides map[string]string, warn func(msg string, args ...any)) (*Set, error) {
	cfg := v.Config
	if err := checkOverrides(v, overrides); err != nil {
		return nil, err
	}
	m := matcher{v: v, links: links, overrides: overrides}
	s := &Set{}
	var err error
	if s.Public, err = m.find(config.RolePublic, cfg.Public.PortGroup); err != nil {
		return nil, err
	}
	if s.Address, err = publicAddress(cfg, s.Public.Link); err != nil {
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

// matcher finds the local link of one port group.
type matcher struct {
	v         *vchdoc.VCH
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
	mac := nicMAC(m.v.NICs, pg)
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

// publicAddress picks the public interface's IPv4 address: the configured static one when the
// interface carries it, else its first one.
func publicAddress(cfg *config.Config, l Link) (netip.Addr, error) {
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
