package hostnets

import (
	"net/netip"
	"testing"

	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/vishvananda/netlink"
	"gotest.tools/v3/assert"

	"github.com/docker-vic/docker-vic/endpoint/testns"
)

// TestListReadsConnectedRoutes: the subnets of a VM's links are listed by link, the daemon's own
// bridges are not, and neither are host routes.
func TestListReadsConnectedRoutes(t *testing.T) {
	ns := testns.New(t, "vichnet")
	add := func(name, addr string) {
		t.Helper()
		l := &netlink.Bridge{LinkAttrs: netlink.LinkAttrs{Name: name}}
		assert.NilError(t, ns.Link.LinkAdd(l))
		a, err := netlink.ParseAddr(addr)
		assert.NilError(t, err)
		assert.NilError(t, ns.Link.AddrAdd(l, a))
		assert.NilError(t, ns.Link.LinkSetUp(l))
	}
	add("ens192", "198.51.100.2/24")
	add("docker0", "203.0.113.1/26")
	add("vb-0123456789", "172.16.0.1/16")

	got, err := List(ns.Link, "vb-")
	assert.NilError(t, err)
	assert.DeepEqual(t, got, []Subnet{
		{Prefix: netip.MustParsePrefix("198.51.100.0/24"), Link: "ens192"},
		{Prefix: netip.MustParsePrefix("203.0.113.0/26"), Link: "docker0"},
	}, cmpPrefix)
}

var cmpPrefix = cmpopts.EquateComparable(netip.Prefix{})
