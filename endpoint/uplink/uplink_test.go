package uplink

import (
	"net/netip"
	"strings"
	"testing"

	"gotest.tools/v3/assert"

	"github.com/docker-vic/docker-vic/api/vchdoc"
	"github.com/docker-vic/docker-vic/config"
)

// testVCH is VCH vch1 with NICs on its public, client and bridge port groups, and on
// container network External-Consumer; container network Lonely has no NIC.
func testVCH(clientPG string, containers ...string) *vchdoc.VCH {
	cfg := config.New("vch1")
	cfg.Public.PortGroup = "Docker-Public"
	cfg.Client.PortGroup = clientPG
	cfg.Bridge.PortGroup = "vch1-bridge"
	for _, pg := range containers {
		cfg.ContainerNetworks = append(cfg.ContainerNetworks, config.ContainerNetwork{PortGroup: pg})
	}
	cfg.ApplyDefaults()
	return &vchdoc.VCH{Name: "vch1", Config: cfg, NICs: []vchdoc.NIC{
		{PortGroup: "Docker-Public", MAC: "00:50:56:AA:BB:01"},
		{PortGroup: "Docker-Client", MAC: "00:50:56:aa:bb:03"},
		{PortGroup: "vch1-bridge", MAC: "00:50:56:aa:bb:02"},
		{PortGroup: "External-Consumer", MAC: "00:50:56:aa:bb:04"},
	}}
}

var testLinks = []Link{
	{Name: "lo", Addrs: []netip.Prefix{netip.MustParsePrefix("127.0.0.1/8")}},
	{Name: "eth0", MAC: "00:50:56:aa:bb:01", Addrs: []netip.Prefix{netip.MustParsePrefix("198.51.100.2/24")}},
	{Name: "eth1", MAC: "00:50:56:aa:bb:03", Addrs: []netip.Prefix{netip.MustParsePrefix("203.0.113.5/24")}},
	{Name: "eth2", MAC: "00:50:56:aa:bb:02"},
	{Name: "eth3", MAC: "00:50:56:aa:bb:09"},
	{Name: "eth4", MAC: "00:50:56:aa:bb:04"},
}

func TestMatch(t *testing.T) {
	tests := []struct {
		name         string
		clientPG     string
		containers   []string
		overrides    map[string]string
		links        []Link
		wantUplink   string
		wantSubnet   string
		wantWarnings []string
		wantErr      string
	}{{
		name:       "ByMAC",
		clientPG:   "Docker-Client",
		links:      testLinks,
		wantUplink: "public=eth0 client,management=eth1 bridge=eth2",
		wantSubnet: "198.51.100.0/24 203.0.113.0/24",
	}, {
		name:       "OneNICForThreeRoles",
		links:      testLinks,
		wantUplink: "public,client,management=eth0 bridge=eth2",
		wantSubnet: "198.51.100.0/24",
	}, {
		name:       "OverrideWins",
		clientPG:   "Docker-Client",
		overrides:  map[string]string{"Docker-Client": "eth3", "vch1-bridge": "eth3"},
		links:      testLinks,
		wantUplink: "public=eth0 client,management,bridge=eth3",
		wantSubnet: "198.51.100.0/24",
	}, {
		name:         "MissingBridgeIsOnlyAWarning",
		links:        testLinks[:2],
		wantUplink:   "public,client,management=eth0",
		wantSubnet:   "198.51.100.0/24",
		wantWarnings: []string{"the bridge port group has no local interface: bridge networks still work on this endpoint"},
	}, {
		name:         "ContainerNetworks",
		containers:   []string{"Lonely", "External-Consumer"},
		links:        testLinks,
		wantUplink:   "public,client,management=eth0 bridge=eth2 container:External-Consumer=eth4",
		wantSubnet:   "198.51.100.0/24",
		wantWarnings: []string{"a container network has no local interface: containers cannot join it on this endpoint"},
	}, {
		name:     "MissingClient",
		clientPG: "Docker-Client",
		links:    testLinks[:2],
		wantErr:  `no local interface carries MAC 00:50:56:aa:bb:03 of the client port group "Docker-Client": pass --uplink Docker-Client=IFACE`,
	}, {
		name:      "OverrideOfUnknownPortGroup",
		overrides: map[string]string{"Other": "eth3"},
		links:     testLinks,
		wantErr:   `--uplink names port group "Other", which VCH "vch1" does not use (its port groups: Docker-Public, vch1-bridge)`,
	}, {
		name:      "OverrideToMissingInterface",
		overrides: map[string]string{"Docker-Public": "eth9"},
		links:     testLinks,
		wantErr:   `--uplink maps port group "Docker-Public" to interface "eth9", which does not exist on this machine`,
	}, {
		name:      "PublicWithoutAddress",
		overrides: map[string]string{"Docker-Public": "eth3"},
		links:     testLinks,
		wantErr:   `public interface "eth3" has no IPv4 address`,
	}, {
		name:     "NoNICOnPortGroup",
		clientPG: "Docker-Other",
		links:    testLinks,
		wantErr:  `VCH "vch1" has no NIC on the client port group "Docker-Other": pass --uplink Docker-Other=IFACE`,
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var warnings []string
			up, err := Match(testVCH(tt.clientPG, tt.containers...), tt.links, tt.overrides, func(msg string, _ ...any) { warnings = append(warnings, msg) })
			if tt.wantErr != "" {
				assert.Error(t, err, tt.wantErr)
				return
			}
			assert.NilError(t, err)
			assert.Equal(t, up.String(), tt.wantUplink)
			assert.Equal(t, up.Address, netip.MustParseAddr("198.51.100.2"))
			var subnets []string
			for _, p := range up.LocalSubnets() {
				subnets = append(subnets, p.String())
			}
			assert.Equal(t, strings.Join(subnets, " "), tt.wantSubnet)
			assert.DeepEqual(t, warnings, tt.wantWarnings)
		})
	}
}

// TestMatchStaticPublicAddress: with a static public address the interface carries among
// others, that one is the public address.
func TestMatchStaticPublicAddress(t *testing.T) {
	v := testVCH("")
	v.Config.Public.IP = netip.MustParsePrefix("198.51.100.9/24")
	links := []Link{{Name: "eth0", MAC: "00:50:56:aa:bb:01", Addrs: []netip.Prefix{
		netip.MustParsePrefix("198.51.100.2/24"), netip.MustParsePrefix("198.51.100.9/24"),
	}}}
	up, err := Match(v, links, nil, func(string, ...any) {})
	assert.NilError(t, err)
	assert.Equal(t, up.Address, netip.MustParseAddr("198.51.100.9"))
}

func TestParseOverrides(t *testing.T) {
	tests := []struct {
		values  []string
		want    map[string]string
		wantErr string
	}{
		{values: nil, want: map[string]string{}},
		{values: []string{"A=eth0", " B = eth1 ", "A=eth0"}, want: map[string]string{"A": "eth0", "B": "eth1"}},
		{values: []string{"A"}, wantErr: `--uplink "A" must be PORTGROUP=INTERFACE`},
		{values: []string{"=eth0"}, wantErr: `--uplink "=eth0" must be PORTGROUP=INTERFACE`},
		{values: []string{"A=eth0", "A=eth1"}, wantErr: `--uplink maps port group "A" twice, to "eth0" and "eth1"`},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.values, " "), func(t *testing.T) {
			got, err := ParseOverrides(tt.values)
			if tt.wantErr != "" {
				assert.Error(t, err, tt.wantErr)
				return
			}
			assert.NilError(t, err)
			assert.DeepEqual(t, got, tt.want)
		})
	}
}
