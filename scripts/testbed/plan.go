//go:build linux

package main

import (
	"net/netip"
	"slices"
	"strings"

	"github.com/docker-vic/docker-vic/api/portsapi"
	"github.com/docker-vic/docker-vic/config"
)

// What the testbed makes is named with prefix, so that a later run can clear it.
const (
	prefix       = "vtb-"
	vchName      = "vch-testbed"
	pluginSocket = portsapi.DefaultSocket
	lockPath     = "/run/lock/vic-testbed.lock"
	// wireBridge is the bridge inside each port group's namespace: the port group's wire.
	wireBridge = "br0"
)

// portGroups are the port groups vcsim serves: those of the VIC documents, a second bridge for a
// second VCH, a client network and a spare container network for `docker vic configure` to add
// (the list of VIC_PORTGROUPS in scripts/lib.sh).
var portGroups = []string{
	"Docker-Public", "VIC-Bridge", "VIC-Bridge-2", "VIC-Management", "VIC-Client",
	"External-Consumer", "VIC-Container-Network", "VIC-Container-Network-2",
}

// The VCH's role networks and the endpoint's static addresses on them. The three role subnets
// and the container networks do not overlap, and none is 192.0.2.0/24 (eth0's network here).
// The management network is a /27 at .96: 203.0.113.64/27 is left out, since this workplace's
// package sources answer there (checkPackageSources refuses any subnet that would hide them).
const (
	publicPG = "Docker-Public"
	clientPG = "VIC-Client"
	mgmtPG   = "VIC-Management"
	bridgePG = "VIC-Bridge"
)

var (
	publicAddr  = netip.MustParsePrefix("198.51.100.2/24")
	publicGW    = netip.MustParseAddr("198.51.100.1")
	clientAddr  = netip.MustParsePrefix("203.0.113.2/26")
	mgmtAddr    = netip.MustParsePrefix("203.0.113.98/27")
	outsideAddr = netip.MustParsePrefix("198.51.100.10/24")

	// testRanges are the only ranges the testbed uses; the host must not use them already.
	testRanges = []netip.Prefix{netip.MustParsePrefix("198.51.100.0/24"), netip.MustParsePrefix("203.0.113.0/24")}
)

// containerNet is one container network of the VCH and the machine on its port group.
type containerNet struct {
	PortGroup, Alias string
	// Gateway and Range are the containers' gateway and addresses; no gateway means DHCP.
	Gateway  netip.Prefix
	Range    string
	Firewall string
	// Machine is the address of the machine on the port group's wire; on a DHCP network it
	// runs the DHCP server and is the router.
	Machine netip.Prefix
}

func (c containerNet) dhcp() bool { return !c.Gateway.IsValid() }

var containerNets = []containerNet{
	{PortGroup: "External-Consumer", Alias: "consumer", Firewall: "published",
		Gateway: netip.MustParsePrefix("203.0.113.129/26"), Range: "203.0.113.140-203.0.113.160",
		Machine: netip.MustParsePrefix("203.0.113.130/26")},
	{PortGroup: "VIC-Container-Network", Alias: "containers", Firewall: "peers",
		Machine: netip.MustParsePrefix("203.0.113.193/26")},
}

// dhcpPool is what the DHCP servers hand out.
var dhcpPool = [2]netip.Addr{netip.MustParseAddr("203.0.113.200"), netip.MustParseAddr("203.0.113.220")}

// machine is a namespace playing a machine with one leg on each of some port groups.
type machine struct {
	NS   string
	Legs []leg
}

type leg struct {
	Iface, PortGroup string
	Addr             netip.Prefix
}

// machines are the testbed's machines: outside on the public network, clientside on the client
// and management networks, and one per container network.
func machines() []machine {
	ms := []machine{
		{NS: prefix + "outside", Legs: []leg{{"eth0", publicPG, outsideAddr}}},
		{NS: prefix + "clientside", Legs: []leg{
			{"eth0", clientPG, netip.MustParsePrefix("203.0.113.10/26")},
			{"eth1", mgmtPG, netip.MustParsePrefix("203.0.113.100/27")},
		}},
	}
	for _, c := range containerNets {
		ms = append(ms, machine{NS: netNS(c.Alias), Legs: []leg{{"eth0", c.PortGroup, c.Machine}}})
	}
	return ms
}

// slug is s in lower case with every other character than a-z and 0-9 as '-'.
func slug(s string) string {
	return strings.Map(func(r rune) rune {
		if r >= 'A' && r <= 'Z' {
			r += 'a' - 'A'
		}
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' {
			return r
		}
		return '-'
	}, s)
}

// envName is s in upper case with every other character than A-Z and 0-9 as '_'.
func envName(s string) string {
	return strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' {
			r -= 'a' - 'A'
		}
		if r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' {
			return r
		}
		return '_'
	}, s)
}

// wireNS is the namespace playing port group pg, for a testbed whose names start with p.
func wireNS(p, pg string) string { return p + "pg-" + slug(pg) }

// netNS is the namespace of the machine on the container network alias.
func netNS(alias string) string { return prefix + "net-" + slug(alias) }

// hostLink is the host link of an endpoint NIC with roles and container network aliases.
func hostLink(roles []config.Role, aliases []string) string {
	for _, r := range []struct {
		role config.Role
		link string
	}{
		{config.RolePublic, "public"}, {config.RoleClient, "client"}, {config.RoleManagement, "mgmt"}, {config.RoleBridge, "bridge"},
	} {
		if slices.Contains(roles, r.role) {
			return prefix + r.link
		}
	}
	alias := ""
	if len(aliases) > 0 {
		alias = aliases[0]
	}
	return prefix + "c-" + truncate(slug(alias), 9)
}

// nicAddr is the endpoint's static address on a NIC with roles; none on the bridge and on
// container networks.
func nicAddr(roles []config.Role) netip.Prefix {
	switch {
	case slices.Contains(roles, config.RolePublic):
		return publicAddr
	case slices.Contains(roles, config.RoleClient):
		return clientAddr
	case slices.Contains(roles, config.RoleManagement):
		return mgmtAddr
	}
	return netip.Prefix{}
}

// nicPort is the wire's port for host link name.
func nicPort(name string) string { return "nic-" + truncate(strings.TrimPrefix(name, prefix), 11) }

// machinePort is the wire's port for interface iface of machine namespace ns.
func machinePort(ns, iface string) string {
	return truncate(strings.TrimPrefix(ns, prefix)+"-"+iface, 15)
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}
