//go:build linux

package main

import (
	"net/netip"
	"testing"

	"gotest.tools/v3/assert"

	"github.com/docker-vic/docker-vic/config"
)

func TestHostLinkNamesFollowTheRoles(t *testing.T) {
	tests := []struct {
		roles   []config.Role
		aliases []string
		want    string
		addr    string
	}{
		{[]config.Role{"public"}, nil, "vtb-public", "198.51.100.2/24"},
		{[]config.Role{"public", "client", "management"}, nil, "vtb-public", "198.51.100.2/24"},
		{[]config.Role{"client", "management"}, nil, "vtb-client", "203.0.113.2/26"},
		{[]config.Role{"management"}, nil, "vtb-mgmt", "203.0.113.98/27"},
		{[]config.Role{"bridge"}, nil, "vtb-bridge", ""},
		{[]config.Role{"container"}, []string{"consumer"}, "vtb-c-consumer", ""},
		{[]config.Role{"container"}, []string{"containers"}, "vtb-c-container", ""},
		{[]config.Role{"container"}, []string{"My Net"}, "vtb-c-my-net", ""},
	}
	for _, tt := range tests {
		name := hostLink(tt.roles, tt.aliases)
		assert.Check(t, name == tt.want, "roles %v aliases %v: link %q, want %q", tt.roles, tt.aliases, name, tt.want)
		assert.Check(t, len(name) <= 15, "link %q is too long for the kernel", name)
		port := nicPort(name)
		assert.Check(t, len(port) <= 15, "port %q is too long for the kernel", port)
		var want netip.Prefix
		if tt.addr != "" {
			want = netip.MustParsePrefix(tt.addr)
		}
		assert.Check(t, nicAddr(tt.roles) == want, "roles %v: address %s, want %s", tt.roles, nicAddr(tt.roles), want)
	}
}

func TestNamesAreSlugsAndEnvNames(t *testing.T) {
	assert.Equal(t, wireNS(prefix, "VIC-Container-Network"), "vtb-pg-vic-container-network")
	assert.Equal(t, wireNS(prefix, "VM Network"), "vtb-pg-vm-network")
	assert.Equal(t, netNS("consumer"), "vtb-net-consumer")
	assert.Equal(t, envName("my-net.2"), "MY_NET_2")
	assert.Equal(t, machinePort("vtb-net-containers", "eth0"), "net-containers-")
	assert.Equal(t, machinePort("vtb-clientside", "eth1"), "clientside-eth1")
}

func TestMachinePortsAreUniquePerWire(t *testing.T) {
	ports := map[string]string{}
	for _, m := range machines() {
		for _, l := range m.Legs {
			key := l.PortGroup + "/" + machinePort(m.NS, l.Iface)
			_, dup := ports[key]
			assert.Check(t, !dup, "two machines share port %s", key)
			ports[key] = m.NS
		}
	}
}

// The testbed's addresses stay inside its documentation ranges, and away from 192.0.2.0/24,
// which eth0 uses on these machines.
func TestAddressesStayInTheTestRanges(t *testing.T) {
	taken := netip.MustParsePrefix("192.0.2.0/24")
	addrs := []netip.Addr{publicAddr.Addr(), publicGW, clientAddr.Addr(), mgmtAddr.Addr(), dhcpPool[0], dhcpPool[1]}
	for _, m := range machines() {
		for _, l := range m.Legs {
			addrs = append(addrs, l.Addr.Addr())
		}
	}
	for _, c := range containerNets {
		if !c.dhcp() {
			addrs = append(addrs, c.Gateway.Addr())
		}
	}
	for _, a := range addrs {
		assert.Check(t, inTestRanges(a), "%s is outside the test ranges", a)
		assert.Check(t, !taken.Contains(a), "%s is in 192.0.2.0/24", a)
	}
}
