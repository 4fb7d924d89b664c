package vicinit

import (
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strings"

	"github.com/docker-vic/docker-vic/api/guestinfo"
	"github.com/docker-vic/docker-vic/config"
)

// LinkPlan is what vic-init does with one network card.
type LinkPlan struct {
	MAC       net.HardwareAddr
	PortGroup string
	Roles     []config.Role
	// Name is the link's name in the guest, after its first role: public, client,
	// management, bridge, or container0, container1 ... for container networks.
	Name string
	// Addrs are the static addresses of the card's roles; DHCP asks the port group's server.
	Addrs []netip.Prefix
	DHCP  bool
	// DefaultRoute, when valid, is the default gateway (the public role's).
	DefaultRoute netip.Addr
	// Routes are the destinations reached through the client's or management's gateway. Only
	// the public gateway is a default route.
	Routes []Route
}

// Route is a destination and its next hop.
type Route struct {
	Dst netip.Prefix
	Via netip.Addr
}

// Plan maps the cards to what vic-init does with them: the configuration says what each port
// group's roles need, nics which card is on which port group. The public, client and
// management port groups must have a card; a bridge or container port group without one is
// left out and named in missing, as vic-endpoint warns of it. Roles that share a port group
// share its card: their static addresses are all added; a role without one shares them, and
// only a card without any static address asks DHCP.
func Plan(c *config.Config, nics []guestinfo.NIC) (plans []LinkPlan, missing []string, err error) {
	byPG := map[string]guestinfo.NIC{}
	for _, n := range nics {
		if _, dup := byPG[n.PortGroup]; !dup {
			byPG[n.PortGroup] = n
		}
	}
	containers := 0
	for _, pg := range c.PortGroups() {
		n, ok := byPG[pg]
		roles := c.RolesOf(pg)
		if !ok && (roles[0] == config.RoleBridge || roles[0] == config.RoleContainer) {
			missing = append(missing, pg)
			continue
		}
		if !ok {
			return nil, nil, fmt.Errorf("the VCH's %s port group %q has no card in %s", roles[0], pg, guestinfo.KeyNICs)
		}
		mac, err := net.ParseMAC(n.MAC)
		if err != nil {
			return nil, nil, fmt.Errorf("the card on port group %q has MAC %q, which is not a MAC address", pg, n.MAC)
		}
		p := LinkPlan{MAC: mac, PortGroup: pg, Roles: roles}
		p.Name = string(p.Roles[0])
		if p.Roles[0] == config.RoleContainer {
			p.Name = fmt.Sprintf("container%d", containers)
			containers++
		}
		for _, r := range []struct {
			role config.Role
			net  config.RoleNetwork
		}{{config.RolePublic, c.Public}, {config.RoleClient, c.Client}, {config.RoleManagement, c.Management}} {
			if r.net.PortGroup != pg {
				continue
			}
			if !r.net.Static() {
				p.DHCP = true // unless another role on the card has a static address
				continue
			}
			if !slices.Contains(p.Addrs, r.net.IP) {
				p.Addrs = append(p.Addrs, r.net.IP)
			}
			gw := r.net.Gateway
			switch {
			case !gw.IP.IsValid():
			case r.role == config.RolePublic:
				p.DefaultRoute = gw.IP
			default:
				for _, d := range gw.Destinations {
					p.Routes = append(p.Routes, Route{Dst: d, Via: gw.IP})
				}
			}
		}
		p.DHCP = p.DHCP && len(p.Addrs) == 0
		plans = append(plans, p)
	}
	return plans, missing, nil
}

// ResolvConf is the content of /etc/resolv.conf for servers (at most three are used).
func ResolvConf(servers []netip.Addr) string {
	var b strings.Builder
	b.WriteString("# written by vic-init from the VCH's configuration or its DHCP lease\n")
	for i, s := range servers {
		if i == config.MaxDNSServers {
			break
		}
		fmt.Fprintf(&b, "nameserver %s\n", s)
	}
	return b.String()
}
