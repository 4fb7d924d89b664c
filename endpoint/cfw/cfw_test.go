package cfw

import (
	"net/netip"
	"testing"

	"github.com/docker-vic/docker-vic/config"
	"gotest.tools/v3/assert"
)

func TestRulesValidate(t *testing.T) {
	valid := func() Rules {
		return Rules{
			Address: netip.MustParseAddr("203.0.113.140"),
			Level:   config.FirewallPublished,
			Peers:   []netip.Prefix{netip.MustParsePrefix("203.0.113.128/27")},
			Ports:   []Port{{"tcp", 80, 80}, {"udp", 53, 53}, {"tcp", 8081, 80}},
		}
	}
	tests := []struct {
		name   string
		change func(r *Rules)
		err    string
	}{
		{"valid", func(r *Rules) {}, ""},
		{"plain ports at closed", func(r *Rules) { r.Level = config.FirewallClosed; r.Ports = r.Ports[:2] }, ""},
		{"redirect at peers", func(r *Rules) { r.Level = config.FirewallPeers }, ""},
		{"redirect at open", func(r *Rules) { r.Level = config.FirewallOpen }, ""},
		{"redirect at closed", func(r *Rules) { r.Level = config.FirewallClosed },
			`port 8081->80/tcp: container network firewall level "closed" takes no port redirects`},
		{"redirect at outbound", func(r *Rules) { r.Level = config.FirewallOutbound },
			`port 8081->80/tcp: container network firewall level "outbound" takes no port redirects`},
		{"unknown level", func(r *Rules) { r.Level = "strict" },
			`container network firewall level "strict": the level must be closed, outbound, published, peers or open`},
		{"no level", func(r *Rules) { r.Level = "" },
			`container network firewall level "": the level must be closed, outbound, published, peers or open`},
		{"unknown proto", func(r *Rules) { r.Ports = []Port{{"icmp", 80, 80}} },
			`port 80/icmp: the protocol must be tcp, udp or sctp`},
		{"zero port", func(r *Rules) { r.Ports = []Port{{"tcp", 0, 80}} },
			`port 0->80/tcp: ports must be between 1 and 65535`},
		{"zero target", func(r *Rules) { r.Ports = []Port{{"udp", 53, 0}} },
			`port 53->0/udp: ports must be between 1 and 65535`},
		{"port twice", func(r *Rules) { r.Ports = append(r.Ports, Port{"tcp", 8081, 81}) },
			`port 8081->81/tcp: port 8081/tcp is already published as 8081->80/tcp`},
		{"same port other proto", func(r *Rules) { r.Ports = append(r.Ports, Port{"sctp", 80, 80}) }, ""},
		{"no address", func(r *Rules) { r.Address = netip.Addr{} },
			`container address "invalid IP": the container network firewall takes an IPv4 address`},
		{"ipv6 address", func(r *Rules) { r.Address = netip.MustParseAddr("2001:db8::1") },
			`container address "2001:db8::1": the container network firewall takes an IPv4 address`},
		{"ipv6 peers", func(r *Rules) { r.Peers = []netip.Prefix{netip.MustParsePrefix("2001:db8::/64")} },
			`peer range "2001:db8::/64": the container network firewall takes IPv4 ranges`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := valid()
			tt.change(&r)
			err := r.Validate()
			if tt.err == "" {
				assert.NilError(t, err)
				return
			}
			assert.Error(t, err, tt.err)
		})
	}
}

func TestValidNameLength(t *testing.T) {
	assert.NilError(t, validName("abcdef012345"))
	assert.Error(t, validName("abcdef0123456"), `endpoint name "abcdef0123456": the name must have 1 to 12 characters`)
	assert.Error(t, validName(""), `endpoint name "": the name must have 1 to 12 characters`)
}

func TestPortString(t *testing.T) {
	assert.Equal(t, Port{"tcp", 80, 80}.String(), "80/tcp")
	assert.Equal(t, Port{"udp", 5353, 53}.String(), "5353->53/udp")
}
