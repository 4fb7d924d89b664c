package uplink

import (
	"net/netip"
	"testing"

	"gotest.tools/v3/assert"

	"github.com/docker-vic/docker-vic/api/vchdoc"
)

// severalVCH is testVCH with three endpoint VMs: endpoint 1's NICs are testVCH's, endpoints 2
// and 3 have NICs on the same port groups with MACs of their own, and static public addresses.
func severalVCH() *vchdoc.VCH {
	v := testVCH("Docker-Client", "External-Consumer")
	v.Config.Endpoints = 3
	v.Config.Public.IP = netip.MustParsePrefix("198.51.100.2/24")
	v.Config.Public.MoreIPs = []netip.Prefix{netip.MustParsePrefix("198.51.100.3/24"), netip.MustParsePrefix("198.51.100.4/24")}
	other := func(n int, last string) vchdoc.Endpoint {
		return vchdoc.Endpoint{Number: n, Name: "vch1-" + last, ID: "vm-5" + last, NICs: []vchdoc.NIC{
			{PortGroup: "Docker-Public", MAC: "00:50:56:cc:0" + last + ":01"},
			{PortGroup: "Docker-Client", MAC: "00:50:56:cc:0" + last + ":03"},
			{PortGroup: "vch1-bridge", MAC: "00:50:56:cc:0" + last + ":02"},
			{PortGroup: "External-Consumer", MAC: "00:50:56:cc:0" + last + ":04"},
		}}
	}
	v.Endpoints = []vchdoc.Endpoint{{Number: 1, Name: "vch1", ID: "vm-42", NICs: v.NICs}, other(2, "2"), other(3, "3")}
	return v
}

// linksOf are the local links of a machine whose NICs are nics, eth0 the public one with addr.
func linksOf(nics []vchdoc.NIC, addr string) []Link {
	var out []Link
	for i, n := range nics {
		l := Link{Name: "eth" + string(rune('0'+i)), MAC: n.MAC}
		if i == 0 {
			l.Addrs = []netip.Prefix{netip.MustParsePrefix(addr)}
		}
		out = append(out, l)
	}
	return out
}

// TestMatchFindsItsEndpoint: a daemon on any endpoint VM of the VCH matches its own NICs, and
// takes that endpoint's static public address.
func TestMatchFindsItsEndpoint(t *testing.T) {
	v := severalVCH()
	for _, e := range v.Endpoints {
		t.Run(e.Name, func(t *testing.T) {
			addr := v.Config.Public.AddressOf(e.Number)
			links := linksOf(e.NICs, addr.String())
			// The machine also carries the other addresses of the subnet: the static one wins.
			links[0].Addrs = append([]netip.Prefix{netip.MustParsePrefix("198.51.100.200/24")}, links[0].Addrs...)
			up, err := Match(v, links, nil, func(string, ...any) {})
			assert.NilError(t, err)
			assert.Equal(t, up.Endpoint, Endpoint{Number: e.Number, Name: e.Name, ID: e.ID})
			assert.Equal(t, up.Address, addr.Addr())
			assert.Equal(t, up.Public.Link.MAC, e.NICs[0].MAC)
			assert.Equal(t, up.Bridge.Link.MAC, e.NICs[2].MAC)
			assert.Equal(t, up.Containers["External-Consumer"].Link.MAC, e.NICs[3].MAC)
		})
	}
}

func TestMatchRefusesTwoEndpoints(t *testing.T) {
	v := severalVCH()
	links := linksOf(v.Endpoints[1].NICs, "198.51.100.3/24")
	links = append(links, Link{Name: "eth9", MAC: v.Endpoints[2].NICs[3].MAC})
	_, err := Match(v, links, nil, func(string, ...any) {})
	assert.Error(t, err, `the local interfaces carry the MACs of endpoint VMs "vch1-2" and "vch1-3" of VCH "vch1", and one machine is one endpoint VM`)
}

// With no local MAC of any endpoint VM (overrides name every interface), the first endpoint VM
// is the one, as for a VCH of one endpoint.
func TestMatchWithoutMACsIsTheFirstEndpoint(t *testing.T) {
	v := severalVCH()
	links := []Link{{Name: "pub0", MAC: "02:00:00:00:00:01", Addrs: []netip.Prefix{netip.MustParsePrefix("198.51.100.2/24")}}}
	up, err := Match(v, links, map[string]string{"Docker-Public": "pub0", "Docker-Client": "pub0"}, func(string, ...any) {})
	assert.NilError(t, err)
	assert.Equal(t, up.Endpoint.Number, 1)
	assert.Equal(t, up.Address.String(), "198.51.100.2")
}
