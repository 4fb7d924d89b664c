// Package uplink maps the port groups of a VCH to the local interfaces of its endpoint VM: it
// finds which of the VCH's endpoint VMs this machine is by the MACs of its NICs, then maps each
// port group to the link whose MAC is the MAC of that endpoint VM's NIC on it in vSphere, unless
// `--uplink PG=IFACE` names the interface. It derives the public address and the local subnets
// from that match. The matching is pure and builds everywhere; listing the links through
// netlink is its Linux part.
package uplink

import (
	"fmt"
	"net/netip"
	"sort"
	"strings"

	"github.com/docker-vic/docker-vic/config"
)

// Link is a network interface of the endpoint VM, as matching sees it.
type Link struct {
	Name  string
	MAC   string
	Addrs []netip.Prefix // IPv4 only
}

// Uplink is the local interface carrying one port group of the VCH.
type Uplink struct {
	PortGroup string
	Roles     []config.Role
	Link      Link
}

// Endpoint names the endpoint VM this machine is, as the match found it.
type Endpoint struct {
	// Number is the endpoint's number, from 1; Name and ID are its VM's name and managed
	// object ID ("vm-42").
	Number   int
	Name, ID string
}

// Set holds the local interfaces of the VCH's port groups.
type Set struct {
	// Endpoint is the endpoint VM whose NICs the local interfaces are.
	Endpoint                   Endpoint
	Public, Client, Management Uplink
	// Bridge is the interface on the bridge port group; zero when the endpoint VM has none.
	Bridge Uplink
	// Containers are the interfaces on the container networks' port groups, by port group;
	// a container network without one is missing.
	Containers map[string]Uplink
	// Address is the public address: published ports live there and on 127.0.0.1.
	Address netip.Addr
}

// LocalSubnets are the subnets of the public, client and management interfaces: no bridge
// network may overlap them.
func (s *Set) LocalSubnets() []netip.Prefix {
	seen := map[netip.Prefix]bool{}
	var out []netip.Prefix
	for _, up := range []Uplink{s.Public, s.Client, s.Management} {
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
func (s *Set) String() string {
	byName := map[string][]string{}
	var names []string
	add := func(name, role string) {
		if _, ok := byName[name]; !ok {
			names = append(names, name)
		}
		byName[name] = append(byName[name], role)
	}
	for _, up := range []struct {
		role string
		u    Uplink
	}{{"public", s.Public}, {"client", s.Client}, {"management", s.Management}, {"bridge", s.Bridge}} {
		if up.u.Link.Name != "" {
			add(up.u.Link.Name, up.role)
		}
	}
	pgs := make([]string, 0, len(s.Containers))
	for pg := range s.Containers {
		pgs = append(pgs, pg)
	}
	sort.Strings(pgs)
	for _, pg := range pgs {
		add(s.Containers[pg].Link.Name, "container:"+pg)
	}
	parts := make([]string, 0, len(names))
	for _, n := range names {
		parts = append(parts, strings.Join(byName[n], ",")+"="+n)
	}
	return strings.Join(parts, " ")
}

// ParseOverrides reads `--uplink PG=IFACE` values into a map of port groups to interfaces.
func ParseOverrides(values []string) (map[string]string, error) {
	out := map[string]string{}
	for _, v := range values {
		pg, iface, ok := strings.Cut(v, "=")
		pg, iface = strings.TrimSpace(pg), strings.TrimSpace(iface)
		if !ok || pg == "" || iface == "" {
			return nil, fmt.Errorf("--uplink %q must be PORTGROUP=INTERFACE", v)
		}
		if prev, dup := out[pg]; dup && prev != iface {
			return nil, fmt.Errorf("--uplink maps port group %q twice, to %q and %q", pg, prev, iface)
		}
		out[pg] = iface
	}
	return out, nil
}
