package vicinit

import (
	"net/netip"
	"testing"

	"gotest.tools/v3/assert"

	"github.com/docker-vic/docker-vic/api/guestinfo"
	"github.com/docker-vic/docker-vic/config"
)

func TestPlanNamesLinksByRoleAndRoutesByGateway(t *testing.T) {
	c := config.New("vch1")
	c.Public = config.RoleNetwork{PortGroup: "Public", IP: netip.MustParsePrefix("203.0.113.10/24"),
		Gateway: config.Gateway{IP: netip.MustParseAddr("203.0.113.1")}}
	c.Client = config.RoleNetwork{PortGroup: "Client", IP: netip.MustParsePrefix("198.51.100.10/24"),
		Gateway: config.Gateway{IP: netip.MustParseAddr("198.51.100.1"), Destinations: []netip.Prefix{netip.MustParsePrefix("10.1.0.0/16")}}}
	c.Management = config.RoleNetwork{PortGroup: "Mgmt"} // DHCP
	c.ContainerNetworks = []config.ContainerNetwork{{PortGroup: "Ext"}, {PortGroup: "Ext2"}}
	c.ApplyDefaults()
	nics := []guestinfo.NIC{
		{MAC: "00:50:56:00:00:01", PortGroup: "Public"},
		{MAC: "00:50:56:00:00:02", PortGroup: "Client"},
		{MAC: "00:50:56:00:00:03", PortGroup: "Mgmt"},
		{MAC: "00:50:56:00:00:04", PortGroup: "vch1"},
		{MAC: "00:50:56:00:00:06", PortGroup: "Ext2"},
	}
	plans, missing, err := Plan(c, nics)
	assert.NilError(t, err)
	assert.DeepEqual(t, missing, []string{"Ext"})
	type row struct {
		Name, MAC, Addrs string
		DHCP             bool
		Default          string
		Routes           int
	}
	var got []row
	for _, p := range plans {
		got = append(got, row{p.Name, p.MAC.String(), fmtPrefixes(p.Addrs), p.DHCP, fmtAddr(p.DefaultRoute), len(p.Routes)})
	}
	assert.DeepEqual(t, got, []row{
		{"public", "00:50:56:00:00:01", "203.0.113.10/24", false, "203.0.113.1", 0},
		{"client", "00:50:56:00:00:02", "198.51.100.10/24", false, "", 1},
		{"management", "00:50:56:00:00:03", "", true, "", 0},
		{"bridge", "00:50:56:00:00:04", "", false, "", 0},
		{"container0", "00:50:56:00:00:06", "", false, "", 0},
	})
	assert.Equal(t, plans[1].Routes[0], Route{Dst: netip.MustParsePrefix("10.1.0.0/16"), Via: netip.MustParseAddr("198.51.100.1")})
}

func TestPlanSharesOneCardBetweenRoles(t *testing.T) {
	c := config.New("vch1")
	c.Public = config.RoleNetwork{PortGroup: "VM Network", IP: netip.MustParsePrefix("198.51.100.2/24"),
		Gateway: config.Gateway{IP: netip.MustParseAddr("198.51.100.1")}}
	c.ApplyDefaults()
	plans, missing, err := Plan(c, []guestinfo.NIC{{MAC: "00:50:56:aa:00:01", PortGroup: "VM Network"}})
	assert.NilError(t, err)
	assert.DeepEqual(t, missing, []string{"vch1"})
	assert.Equal(t, len(plans), 1)
	assert.Equal(t, plans[0].Name, "public")
	assert.DeepEqual(t, plans[0].Roles, []config.Role{config.RolePublic, config.RoleClient, config.RoleManagement})
	assert.Equal(t, fmtPrefixes(plans[0].Addrs), "198.51.100.2/24")
	assert.Equal(t, plans[0].DHCP, false)
}

func TestPlanRefusesARoleWithoutCard(t *testing.T) {
	c := config.New("vch1")
	c.Client.PortGroup = "Client"
	c.ApplyDefaults()
	_, _, err := Plan(c, []guestinfo.NIC{{MAC: "00:50:56:aa:00:01", PortGroup: "VM Network"}})
	assert.Error(t, err, `the VCH's client port group "Client" has no card in guestinfo.vic.nics`)
}

func TestResolvConfKeepsThreeServers(t *testing.T) {
	var s []netip.Addr
	for _, a := range []string{"192.0.2.53", "198.51.100.53", "203.0.113.53", "203.0.113.54"} {
		s = append(s, netip.MustParseAddr(a))
	}
	assert.Equal(t, ResolvConf(s), "# written by vic-init from the VCH's configuration or its DHCP lease\n"+
		"nameserver 192.0.2.53\nnameserver 198.51.100.53\nnameserver 203.0.113.53\n")
}

func fmtPrefixes(ps []netip.Prefix) string {
	s := ""
	for i, p := range ps {
		if i > 0 {
			s += ","
		}
		s += p.String()
	}
	return s
}

func fmtAddr(a netip.Addr) string {
	if !a.IsValid() {
		return ""
	}
	return a.String()
}
