package uplink

import (
	"fmt"
	"net"
	"net/netip"
	"testing"

	"github.com/vishvananda/netlink"
	"gotest.tools/v3/assert"

	"github.com/docker-vic/docker-vic/endpoint/testns"
)

// TestList reads a namespace's links as matching sees them: name, MAC and the global IPv4
// addresses only.
func TestList(t *testing.T) {
	ns := testns.New(t, "vicup")
	mac, _ := net.ParseMAC("00:50:56:aa:bb:01")
	assert.NilError(t, ns.Link.LinkAdd(&netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: "up0", HardwareAddr: mac}, PeerName: "up0-peer"}))
	l, err := ns.Link.LinkByName("up0")
	assert.NilError(t, err)
	for _, a := range []struct {
		cidr  string
		scope netlink.Scope
	}{
		{"198.51.100.2/24", netlink.SCOPE_UNIVERSE},
		{"169.254.7.7/16", netlink.SCOPE_LINK},
		{"2001:db8::2/64", netlink.SCOPE_UNIVERSE},
	} {
		addr, err := netlink.ParseAddr(a.cidr)
		assert.NilError(t, err)
		addr.Scope = int(a.scope)
		assert.NilError(t, ns.Link.AddrAdd(l, addr))
	}

	// A bridge holding up0 takes its MAC: the trunk of a swarm's spanning networks does.
	assert.NilError(t, ns.Link.LinkAdd(&netlink.Bridge{LinkAttrs: netlink.LinkAttrs{Name: "vt-trunk", HardwareAddr: mac}}))

	links, err := List(ns.Link)
	assert.NilError(t, err)
	got := map[string]Link{}
	for _, l := range links {
		got[l.Name] = l
	}
	want := Link{Name: "up0", MAC: "00:50:56:aa:bb:01", Addrs: []netip.Prefix{netip.MustParsePrefix("198.51.100.2/24")}}
	assert.Equal(t, fmt.Sprint(got["up0"]), fmt.Sprint(want))
	assert.Equal(t, len(got["lo"].Addrs), 0, "lo's 127.0.0.1 has host scope")
	_, listed := got["vt-trunk"]
	assert.Assert(t, !listed, "a bridge is listed: it would be matched for its port's MAC")
}
