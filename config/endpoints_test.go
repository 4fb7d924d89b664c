package config

import (
	"encoding/json"
	"net/netip"
	"reflect"
	"strings"
	"testing"
)

// several returns a valid configuration of a VCH of three endpoints with static public and
// management addresses (the client role shares the public port group and its addresses).
func several() *Config {
	c := full()
	c.Endpoints = 3
	c.Public.MoreIPs = prefixes("198.51.100.21/24", "198.51.100.22/24")
	c.Management.MoreIPs = prefixes("203.0.113.131/25", "203.0.113.132/25")
	return c
}

func prefixes(ss ...string) []netip.Prefix {
	out := make([]netip.Prefix, len(ss))
	for i, s := range ss {
		out[i] = netip.MustParsePrefix(s)
	}
	return out
}

func TestValidateEndpoints(t *testing.T) {
	if err := several().Validate(); err != nil {
		t.Fatal(err)
	}
	dhcp := New("vch1")
	dhcp.Endpoints = 5
	dhcp.ApplyDefaults()
	if err := dhcp.Validate(); err != nil {
		t.Fatalf("DHCP works for any count of endpoints: %v", err)
	}
	for _, tc := range []struct {
		name   string
		change func(*Config)
		want   string
	}{
		{"zero", func(c *Config) { c.Endpoints = 0 }, `invalid --endpoints "0": a VCH has from 1 to 32 endpoints`},
		{"too many", func(c *Config) { c.Endpoints = 33 }, `invalid --endpoints "33"`},
		{"one static address for three", func(c *Config) { c.Public.MoreIPs = nil },
			`invalid --public-network-ip "198.51.100.20/24": a VCH of 3 endpoints needs 3 static public addresses, one per endpoint in endpoint order, or none for DHCP`},
		{"too many addresses", func(c *Config) { c.Endpoints = 2 },
			`invalid --public-network-ip "198.51.100.20/24,198.51.100.21/24,198.51.100.22/24": a VCH of 2 endpoints needs 2 static public addresses`},
		{"twice", func(c *Config) { c.Management.MoreIPs[1] = netip.MustParsePrefix("203.0.113.130/25") },
			`each endpoint needs its own address, and 203.0.113.130 is given twice`},
		{"outside the gateway's subnet", func(c *Config) { c.Public.MoreIPs[0] = netip.MustParsePrefix("192.168.7.3/24") },
			`invalid --public-network-gateway "198.51.100.1": the gateway must lie in the subnet of --public-network-ip 192.168.7.0/24`},
		{"over the bridge range", func(c *Config) { c.Public.MoreIPs[1] = netip.MustParsePrefix("172.20.0.9/24") },
			`invalid --public-network-gateway`},
		{"more without the first", func(c *Config) { c.Client.MoreIPs = prefixes("198.51.100.40/24") },
			`invalid --client-network-ip "198.51.100.40/24": the addresses of endpoints 2 and up need the first endpoint's`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := several()
			tc.change(c)
			err := c.Validate()
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v\nwant it to contain %q", err, tc.want)
			}
		})
	}
}

// A configuration stored before VCHs had several endpoints has no count: it reads as one, and
// the round trip of a VCH of several keeps its count and every address.
func TestDecodeEndpointsUpgrade(t *testing.T) {
	c := full()
	kv, err := c.Encode()
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := json.Unmarshal([]byte(kv[HiddenKeyConfig]), &doc); err != nil {
		t.Fatal(err)
	}
	delete(doc, "endpoints")
	old, err := json.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	kv[HiddenKeyConfig], kv[KeyConfig] = string(old), string(old)
	got, err := DecodeVCH("vch1", kv)
	if err != nil {
		t.Fatal(err)
	}
	if got.Endpoints != 1 || got.EndpointCount() != 1 || !reflect.DeepEqual(got, c) {
		t.Fatalf("an old configuration reads as %d endpoints:\n got %+v\nwant %+v", got.Endpoints, got, c)
	}
	if err := got.Validate(); err != nil {
		t.Fatal(err)
	}

	s := several()
	if kv, err = s.Encode(); err != nil {
		t.Fatal(err)
	}
	if got, err = DecodeVCH("vch1", kv); err != nil || !reflect.DeepEqual(got, s) {
		t.Fatalf("round trip of 3 endpoints: %v\n got %+v\nwant %+v", err, got, s)
	}
}

func TestEndpointNamesAndKeys(t *testing.T) {
	if EndpointVMName("vch1", 1) != "vch1" || EndpointVMName("vch1", 3) != "vch1-3" {
		t.Fatalf("names: %q %q", EndpointVMName("vch1", 1), EndpointVMName("vch1", 3))
	}
	for _, tc := range []struct {
		kv   map[string]string
		want int
	}{
		{map[string]string{}, 1},
		{EndpointKeys(1), 1},
		{EndpointKeys(4), 4},
		{map[string]string{HiddenKeyEndpoint: "x"}, 0},
		{map[string]string{HiddenKeyEndpoint: "1"}, 0},
		{map[string]string{KeyEndpoint: "3"}, 1}, // the guest's copy names nothing
	} {
		if got := EndpointOf(tc.kv); got != tc.want {
			t.Errorf("EndpointOf(%v) = %d, want %d", tc.kv, got, tc.want)
		}
	}
	e := several().Endpoint(3)
	if e.Public.IP.String() != "198.51.100.22/24" || e.Management.IP.String() != "203.0.113.132/25" || e.Public.MoreIPs != nil || e.Client.IP.IsValid() {
		t.Fatalf("endpoint 3 sees public %v %v, management %v, client %v", e.Public.IP, e.Public.MoreIPs, e.Management.IP, e.Client.IP)
	}
}

func TestCreateFlagsOfEndpoints(t *testing.T) {
	got := ShellQuote(several().CreateFlags())
	for _, want := range []string{
		"--name vch1 --endpoints 3",
		"--public-network-ip 198.51.100.20/24,198.51.100.21/24,198.51.100.22/24",
		"--management-network-ip 203.0.113.130/25,203.0.113.131/25,203.0.113.132/25",
	} {
		if !strings.Contains(got, want) {
			t.Fatalf("create flags\n%s\nlack %q", got, want)
		}
	}
	as, err := ParseAddresses("--public-network-ip", []string{"198.51.100.20/24, 198.51.100.21/24", "198.51.100.22/24"})
	if err != nil || !reflect.DeepEqual(as, several().Public.Addresses()) {
		t.Fatalf("parsing a list and a repeated flag: %v %v", as, err)
	}
	if _, err := ParseAddresses("--public-network-ip", []string{"198.51.100.20"}); err == nil || !strings.Contains(err.Error(), `invalid --public-network-ip "198.51.100.20": write each address with its prefix length`) {
		t.Fatalf("an address without its length: %v", err)
	}
}
