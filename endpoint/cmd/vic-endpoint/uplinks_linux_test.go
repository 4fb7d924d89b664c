package main

import (
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"gotest.tools/v3/assert"

	"github.com/docker-vic/docker-vic/api/vchdoc"
	"github.com/docker-vic/docker-vic/config"
)

func testVCH(clientPG string) *vchdoc.VCH {
	cfg := config.New("vch1")
	cfg.Public.PortGroup = "Docker-Public"
	cfg.Client.PortGroup = clientPG
	cfg.Bridge.PortGroup = "vch1-bridge"
	cfg.ApplyDefaults()
	return &vchdoc.VCH{Name: "vch1", Config: cfg, NICs: []vchdoc.NIC{
		{PortGroup: "Docker-Public", MAC: "00:50:56:AA:BB:01"},
		{PortGroup: "Docker-Client", MAC: "00:50:56:aa:bb:03"},
		{PortGroup: "vch1-bridge", MAC: "00:50:56:aa:bb:02"},
	}}
}

var testLinks = []localLink{
	{Name: "lo", Addrs: []netip.Prefix{netip.MustParsePrefix("127.0.0.1/8")}},
	{Name: "eth0", MAC: "00:50:56:aa:bb:01", Addrs: []netip.Prefix{netip.MustParsePrefix("198.51.100.2/24")}},
	{Name: "eth1", MAC: "00:50:56:aa:bb:03", Addrs: []netip.Prefix{netip.MustParsePrefix("203.0.113.5/24")}},
	{Name: "eth2", MAC: "00:50:56:aa:bb:02"},
	{Name: "eth3", MAC: "00:50:56:aa:bb:09"},
}

func TestMatchUplinks(t *testing.T) {
	tests := []struct {
		name       string
		clientPG   string
		overrides  map[string]string
		links      []localLink
		wantUplink string
		wantSubnet string
		wantErr    string
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
		name:       "MissingBridgeIsOnlyAWarning",
		links:      testLinks[:2],
		wantUplink: "public,client,management=eth0",
		wantSubnet: "198.51.100.0/24",
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
			up, err := matchUplinks(testVCH(tt.clientPG), tt.links, tt.overrides, func(msg string, _ ...any) { warnings = append(warnings, msg) })
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
			assert.Equal(t, len(warnings), map[bool]int{true: 0, false: 1}[up.Bridge.Link.Name != ""])
		})
	}
}

func TestParseOptions(t *testing.T) {
	tests := []struct {
		args    []string
		wantErr string
	}{
		{args: []string{"--config", "f", "--uplink", "A=eth0", "--uplink", "B=eth1"}},
		{args: []string{"--config", "f", "--uplink", "A"}, wantErr: `--uplink "A" must be PORTGROUP=INTERFACE`},
		{args: []string{"--config", "f", "--uplink", "A=eth0", "--uplink", "A=eth1"}, wantErr: `--uplink maps port group "A" twice, to "eth0" and "eth1"`},
		{args: []string{"--config", "f", "--log-level", "trace"}, wantErr: `--log-level "trace" must be debug, info or warn`},
		{args: []string{}, wantErr: "no VCH to serve: give --config FILE, or --vch NAME with --target"},
		{args: []string{"--config", "f", "--target", "vc"}, wantErr: "--config and --target exclude each other: the configuration comes from one of them"},
		{args: []string{"--config", "f", "--watch-interval", "0s"}, wantErr: "--watch-interval 0s must be positive"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			o, err := parseOptions(tt.args, &strings.Builder{})
			if tt.wantErr != "" {
				assert.Error(t, err, tt.wantErr)
				return
			}
			assert.NilError(t, err)
			assert.Equal(t, o.stateDir, "/var/lib/vic")
			assert.Equal(t, o.socket, "/run/docker/plugins/vic.sock")
			assert.Equal(t, len(o.uplinks), 2)
		})
	}
}

func TestReadCredentials(t *testing.T) {
	dir := t.TempDir()
	write := func(name, text string, mode os.FileMode) string {
		p := filepath.Join(dir, name)
		assert.NilError(t, os.WriteFile(p, []byte(text), mode))
		assert.NilError(t, os.Chmod(p, mode))
		return p
	}
	good := write("good", "# vSphere\nVIC_USER=admin\nVIC_PASSWORD='s3cret=x'\n", 0o600)
	creds, err := readCredentials(good)
	assert.NilError(t, err)
	assert.DeepEqual(t, creds, map[string]string{"VIC_USER": "admin", "VIC_PASSWORD": "s3cret=x"})

	open := write("open", "VIC_USER=admin\n", 0o644)
	_, err = readCredentials(open)
	assert.Error(t, err, "credentials file "+open+" is open to group or others (mode 0644): make it root-only with chmod 600")

	bad := write("bad", "VIC_TARGET=vc\n", 0o600)
	_, err = readCredentials(bad)
	assert.Error(t, err, "credentials file "+bad+" line 1: want VIC_USER, VIC_PASSWORD, GOVC_USERNAME or GOVC_PASSWORD=VALUE")
}
