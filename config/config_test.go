package config

import (
	"net/netip"
	"reflect"
	"strings"
	"testing"
)

// full returns a configuration that uses every option, as the VIC documents' PoC would.
func full() *Config {
	c := New("vch1")
	c.Placement = Placement{Datacenter: "DC0", ComputeResource: "/DC0/host/DC0_C0", ImageStore: "LocalDS_0", UseVApp: true}
	c.Public = RoleNetwork{PortGroup: "Docker-Public", IP: netip.MustParsePrefix("198.51.100.20/24"), Gateway: Gateway{IP: netip.MustParseAddr("198.51.100.1")}}
	c.Management = RoleNetwork{PortGroup: "VIC-Management", IP: netip.MustParsePrefix("203.0.113.130/25"),
		Gateway: Gateway{Destinations: []netip.Prefix{netip.MustParsePrefix("10.10.0.0/16")}, IP: netip.MustParseAddr("203.0.113.129")}}
	c.Bridge = Bridge{PortGroup: "VIC-Bridge", Range: netip.MustParsePrefix("172.20.0.0/16"), Width: 24}
	c.ContainerNetworks = []ContainerNetwork{
		{PortGroup: "External-Consumer", Alias: "consumer", Gateway: netip.MustParsePrefix("203.0.113.1/25"),
			Ranges: []IPRange{mustRange("203.0.113.10-203.0.113.50"), mustRange("203.0.113.64/28")},
			DNS:    []netip.Addr{netip.MustParseAddr("203.0.113.2")}, Firewall: FirewallPeers},
		{PortGroup: "VIC-Container-Network"},
	}
	c.DNS = []netip.Addr{netip.MustParseAddr("198.51.100.53")}
	c.ApplyDefaults()
	return c
}

func mustRange(s string) IPRange {
	r, err := ParseIPRange(s)
	if err != nil {
		panic(err)
	}
	return r
}

func TestApplyDefaultsChainsRoles(t *testing.T) {
	c := New("vch1")
	c.Public.PortGroup = "Docker-Public"
	c.ContainerNetworks = []ContainerNetwork{{PortGroup: "net-a"}}
	c.ApplyDefaults()
	if c.Client.PortGroup != "Docker-Public" || c.Management.PortGroup != "Docker-Public" {
		t.Fatalf("client %q and management %q should default to the public port group", c.Client.PortGroup, c.Management.PortGroup)
	}
	if c.Bridge.PortGroup != "vch1" {
		t.Fatalf("bridge defaults to the VCH name, got %q", c.Bridge.PortGroup)
	}
	n := c.ContainerNetworks[0]
	if n.Alias != "net-a" || n.Firewall != FirewallPublished {
		t.Fatalf("container network defaults: alias %q firewall %q", n.Alias, n.Firewall)
	}
	if got := c.PortGroups(); !reflect.DeepEqual(got, []string{"Docker-Public", "vch1", "net-a"}) {
		t.Fatalf("one NIC per distinct port group, got %v", got)
	}
}

func TestValidateAcceptsFullConfig(t *testing.T) {
	if err := full().Validate(); err != nil {
		t.Fatal(err)
	}
}

func TestValidateRejects(t *testing.T) {
	cases := []struct {
		name   string
		change func(c *Config)
		want   string
	}{
		{"empty name", func(c *Config) { c.Name = "" }, `invalid --name: a VCH needs a name`},
		{"long name", func(c *Config) { c.Name = strings.Repeat("v", 32) }, `has at most 31 characters, this one has 32`},
		{"slash in name", func(c *Config) { c.Name = "a/b" }, `invalid --name "a/b": a VCH name cannot contain '/'`},
		{"quote in name", func(c *Config) { c.Name = `a"b` }, `a VCH name cannot contain '"'`},
		{"public ipv6", func(c *Config) { c.Public.IP = netip.MustParsePrefix("2001:db8::5/64") }, `invalid --public-network-ip "2001:db8::5/64": only IPv4`},
		{"public network address", func(c *Config) { c.Public.IP = netip.MustParsePrefix("198.51.100.0/24") }, `network or broadcast address`},
		{"public without gateway", func(c *Config) { c.Public.Gateway = Gateway{} }, `invalid --public-network-gateway: a static public address 198.51.100.20/24 needs a gateway`},
		{"gateway outside subnet", func(c *Config) { c.Public.Gateway.IP = netip.MustParseAddr("203.0.113.1") }, `the gateway must lie in the subnet of --public-network-ip 198.51.100.0/24`},
		{"gateway without ip", func(c *Config) { c.Client.Gateway = Gateway{IP: netip.MustParseAddr("198.51.100.1")} }, `invalid --client-network-gateway "198.51.100.1": a gateway needs a static address: set --client-network-ip too`},
		{"public gateway with destinations", func(c *Config) {
			c.Public.Gateway.Destinations = []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}
		}, `the public gateway is the default route and takes no destinations`},
		{"bridge is public", func(c *Config) { c.Bridge.PortGroup = "Docker-Public" }, `invalid --bridge-network "Docker-Public": the bridge port group is dedicated to one VCH and cannot also be the public-network port group`},
		{"bridge is management", func(c *Config) { c.Bridge.PortGroup = "VIC-Management" }, `cannot also be the management-network port group`},
		{"bridge is container network", func(c *Config) { c.Bridge.PortGroup = "External-Consumer" }, `cannot also be a --container-network`},
		{"bridge range not network", func(c *Config) { c.Bridge.Range = netip.MustParsePrefix("172.20.1.0/16") }, `the range must be a network address, such as 172.20.0.0/16`},
		{"bridge range ipv6", func(c *Config) { c.Bridge.Range = netip.MustParsePrefix("fd00::/48") }, `only IPv4 ranges`},
		{"width below prefix", func(c *Config) { c.Bridge.Width = 12 }, `invalid --bridge-network-width "12": the width must be at least the prefix length of --bridge-network-range 172.20.0.0/16`},
		{"width above 30", func(c *Config) { c.Bridge.Width = 31 }, `invalid --bridge-network-width "31": the width must be at most 30`},
		{"bridge overlaps public", func(c *Config) { c.Bridge.Range = netip.MustParsePrefix("198.51.0.0/16") }, `the range overlaps the public subnet 198.51.100.0/24`},
		{"alias bridge", func(c *Config) { c.ContainerNetworks[0].Alias = "bridge" }, `the alias "bridge" is reserved by Docker`},
		{"alias with space", func(c *Config) { c.ContainerNetworks[0].Alias = "my net" }, `the alias cannot contain spaces`},
		{"alias bad char", func(c *Config) { c.ContainerNetworks[0].Alias = "-net" }, `the alias must start with a letter or digit`},
		{"duplicate alias", func(c *Config) { c.ContainerNetworks[1].Alias = "consumer" }, `the alias "consumer" is already used by port group "External-Consumer"`},
		{"duplicate port group", func(c *Config) { c.ContainerNetworks[1].PortGroup = "External-Consumer" }, `invalid --container-network "External-Consumer": the port group is listed twice`},
		{"bad firewall", func(c *Config) { c.ContainerNetworks[0].Firewall = "strict" }, `invalid --container-network-firewall "External-Consumer:strict": the level must be closed, outbound, published, peers or open`},
		{"range outside subnet", func(c *Config) { c.ContainerNetworks[0].Ranges = []IPRange{mustRange("203.0.113.200-203.0.113.210")} }, `the range must lie inside the gateway's subnet 203.0.113.0/25`},
		{"range holds gateway", func(c *Config) { c.ContainerNetworks[0].Ranges = []IPRange{mustRange("203.0.113.0/28")} }, `the range holds the gateway 203.0.113.1`},
		{"ranges overlap", func(c *Config) {
			c.ContainerNetworks[0].Ranges = []IPRange{mustRange("203.0.113.10-203.0.113.50"), mustRange("203.0.113.40-203.0.113.60")}
		}, `invalid --container-network-ip-range "External-Consumer:203.0.113.40-203.0.113.60": the range overlaps 203.0.113.10-203.0.113.50`},
		{"subnet overlaps bridge", func(c *Config) {
			c.ContainerNetworks[0].Gateway = netip.MustParsePrefix("172.20.5.1/24")
			c.ContainerNetworks[0].Ranges = nil
		}, `the subnet 172.20.5.0/24 overlaps the bridge range`},
		{"range without gateway", func(c *Config) { c.ContainerNetworks[1].Ranges = []IPRange{mustRange("203.0.113.70-203.0.113.80")} }, `a range needs --container-network-gateway VIC-Container-Network:GW/MASK`},
		{"gateway is network address", func(c *Config) { c.ContainerNetworks[0].Gateway = netip.MustParsePrefix("203.0.113.0/25") }, `the gateway is the network or broadcast address of 203.0.113.0/25`},
		{"too many dns", func(c *Config) {
			for _, s := range []string{"198.51.100.54", "198.51.100.55", "198.51.100.56"} {
				c.DNS = append(c.DNS, netip.MustParseAddr(s))
			}
		}, `invalid --dns-server "198.51.100.56": at most 3 DNS servers are allowed`},
		{"ipv6 dns", func(c *Config) { c.ContainerNetworks[0].DNS = []netip.Addr{netip.MustParseAddr("2001:db8::53")} }, `invalid --container-network-dns "2001:db8::53": only IPv4 DNS servers`},
		{"newer schema", func(c *Config) { c.Version = SchemaVersion + 1 }, `upgrade docker-vic`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := full()
			tc.change(c)
			err := c.Validate()
			if err == nil {
				t.Fatalf("expected an error containing %q", tc.want)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %q\nwant it to contain %q", err, tc.want)
			}
			if msg := err.Error(); strings.ToLower(msg[:1]) != msg[:1] || strings.HasSuffix(msg, ".") {
				t.Fatalf("error %q must be one lowercase sentence without a final period", msg)
			}
		})
	}
}

func TestEncodeDecodeRoundTrip(t *testing.T) {
	c := full()
	c.TLS = TLS{CACert: "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"}
	kv, err := c.Encode()
	if err != nil {
		t.Fatal(err)
	}
	for k := range kv {
		if !strings.HasPrefix(k, KeyPrefix) && !strings.HasPrefix(k, HiddenPrefix) {
			t.Fatalf("key %q is outside %s and %s", k, KeyPrefix, HiddenPrefix)
		}
	}
	got, err := DecodeVCH("vch1", kv)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, c) {
		t.Fatalf("round trip changed the configuration:\n got %+v\nwant %+v", got, c)
	}
	if _, err := DecodeVCH("other-vm", kv); err != ErrNotVCH {
		t.Fatalf("a configuration naming another VM is not a VCH, got %v", err)
	}
	if _, err := Decode(map[string]string{"guestinfo.other": "x"}); err != ErrNotVCH {
		t.Fatalf("no configuration is ErrNotVCH, got %v", err)
	}
	kv[HiddenKeyVersion] = "2"
	if _, err := Decode(kv); err == nil || !strings.Contains(err.Error(), "upgrade docker-vic") {
		t.Fatalf("a newer schema must be refused, got %v", err)
	}
}

// The guest may rewrite its copy (on vSphere any guest process can set a guestinfo key): the
// hidden copy stays the configuration, and the difference shows. A VCH made before the hidden
// copy existed is read from the guest's.
func TestDecodeTrustsTheHiddenCopy(t *testing.T) {
	c := full()
	kv, err := c.Encode()
	if err != nil {
		t.Fatal(err)
	}
	if GuestCopyDiffers(kv) {
		t.Fatal("a fresh encoding has a differing guest copy")
	}
	forged := *c
	forged.Server.URL = "https://attacker.example/sdk"
	forgedKV, err := forged.Encode()
	if err != nil {
		t.Fatal(err)
	}
	kv[KeyConfig] = forgedKV[KeyConfig]
	got, err := DecodeVCH("vch1", kv)
	if err != nil {
		t.Fatal(err)
	}
	if got.Server.URL != c.Server.URL {
		t.Fatalf("the guest's rewritten copy was read: target %q", got.Server.URL)
	}
	if !GuestCopyDiffers(kv) {
		t.Fatal("the rewritten guest copy does not show")
	}

	old := map[string]string{KeyConfig: kv[HiddenKeyConfig], KeyVersion: kv[HiddenKeyVersion]}
	if !Stored(old) || GuestCopyDiffers(old) {
		t.Fatal("a VCH with the guest's copy only is a VCH, with nothing to compare")
	}
	if got, err := DecodeVCH("vch1", old); err != nil || got.Server.URL != c.Server.URL {
		t.Fatalf("a VCH with the guest's copy only: %v", err)
	}
}

func TestCreateFlagsLeavesDefaultsOut(t *testing.T) {
	c := New("vch1")
	c.ApplyDefaults()
	if got := ShellQuote(c.CreateFlags()); got != "--name vch1" {
		t.Fatalf("a default VCH renders as %q", got)
	}
	got := ShellQuote(full().CreateFlags())
	for _, want := range []string{
		"--public-network Docker-Public --public-network-ip 198.51.100.20/24 --public-network-gateway 198.51.100.1",
		"--management-network VIC-Management --management-network-ip 203.0.113.130/25 --management-network-gateway 10.10.0.0/16:203.0.113.129",
		"--bridge-network VIC-Bridge --bridge-network-range 172.20.0.0/16 --bridge-network-width 24",
		"--container-network External-Consumer:consumer --container-network-gateway External-Consumer:203.0.113.1/25",
		"--container-network-ip-range External-Consumer:203.0.113.10-203.0.113.50 --container-network-ip-range External-Consumer:203.0.113.64-203.0.113.79",
		"--container-network-firewall External-Consumer:peers --container-network VIC-Container-Network --dns-server 198.51.100.53",
		"--use-vapp",
	} {
		if !strings.Contains(got, want) {
			t.Fatalf("create flags\n%s\nlack %q", got, want)
		}
	}
	if strings.Contains(got, "--client-network") {
		t.Fatalf("client defaults to public and must not be rendered: %s", got)
	}
}

func TestParseHelpers(t *testing.T) {
	if r, err := ParseIPRange("203.0.113.64/28"); err != nil || r.String() != "203.0.113.64-203.0.113.79" {
		t.Fatalf("CIDR range: %v %v", r, err)
	}
	for _, bad := range []string{"203.0.113.9-203.0.113.1", "x-y", "2001:db8::/64", "nonsense"} {
		if _, err := ParseIPRange(bad); err == nil {
			t.Fatalf("%q must be refused", bad)
		}
	}
	g, err := ParseGateway("10.1.0.0/16,10.2.0.0/16:198.51.100.1")
	if err != nil || len(g.Destinations) != 2 || g.String() != "10.1.0.0/16,10.2.0.0/16:198.51.100.1" {
		t.Fatalf("gateway with destinations: %v %v", g, err)
	}
	if pg, v, ok := SplitKeyed("VIC:Net:203.0.113.1/24"); !ok || pg != "VIC:Net" || v != "203.0.113.1/24" {
		t.Fatalf("keyed split: %q %q %v", pg, v, ok)
	}
	if pg, alias := ParseContainerNetwork("External-Consumer:consumer"); pg != "External-Consumer" || alias != "consumer" {
		t.Fatalf("container network: %q %q", pg, alias)
	}
	if got := ShellQuote([]string{"--public-network", "VM Network", "it's"}); got != `--public-network 'VM Network' 'it'\''s'` {
		t.Fatalf("quoting: %s", got)
	}
}

func TestIPRangePrefixes(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"203.0.113.140-203.0.113.160", "203.0.113.140/30 203.0.113.144/28 203.0.113.160/32"},
		{"203.0.113.128/26", "203.0.113.128/26"},
		{"203.0.113.7-203.0.113.7", "203.0.113.7/32"},
		{"0.0.0.0-255.255.255.255", "0.0.0.0/0"},
		{"255.255.255.254-255.255.255.255", "255.255.255.254/31"},
	} {
		r, err := ParseIPRange(c.in)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, p := range r.Prefixes() {
			got = append(got, p.String())
		}
		if strings.Join(got, " ") != c.want {
			t.Errorf("%s covers %v, want %s", c.in, got, c.want)
		}
	}
}
