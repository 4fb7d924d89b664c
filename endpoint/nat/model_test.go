package nat

import (
	"errors"
	"flag"
	"math/rand/v2"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden from the current output")

var (
	public = netip.MustParseAddr("198.51.100.2")
	mgmt   = netip.MustParseAddr("203.0.113.2")
	netA   = BridgeNetwork{Bridge: "vic-a", Subnet: netip.MustParsePrefix("172.31.250.0/24")}
	netB   = BridgeNetwork{Bridge: "vic-b", Subnet: netip.MustParsePrefix("172.31.251.0/24")}
	netI   = BridgeNetwork{Bridge: "vic-i", Subnet: netip.MustParsePrefix("172.31.252.0/24"), Internal: true}
)

func tcp(host string, hp uint16, cip string, cp uint16, br string) Mapping {
	m := Mapping{Proto: TCP, HostPort: hp, ContainerIP: netip.MustParseAddr(cip), ContainerPort: cp, Bridge: br}
	if host != "" {
		m.HostIP = netip.MustParseAddr(host)
	}
	return m
}

func udp(host string, hp uint16, cip string, cp uint16, br string) Mapping {
	m := tcp(host, hp, cip, cp, br)
	m.Proto = UDP
	return m
}

// scenarios are the states whose rendering is kept in testdata/NAME.golden.
var scenarios = []struct {
	name  string
	state State
}{
	{"empty", State{}},
	{"one-network", State{Networks: []BridgeNetwork{netA}}},
	{"port-any-host-ip", State{
		Networks: []BridgeNetwork{netA},
		Ports:    []Mapping{tcp("", 8080, "172.31.250.2", 80, "vic-a")},
	}},
	{"port-public-and-loopback-only", State{
		Networks: []BridgeNetwork{netA},
		Ports: []Mapping{
			tcp("198.51.100.2", 8443, "172.31.250.2", 443, "vic-a"),
			udp("127.0.0.1", 5353, "172.31.250.3", 53, "vic-a"),
		},
	}},
	{"spanning-networks", State{
		Networks: []BridgeNetwork{
			{Bridge: "vic-s", Subnet: netip.MustParsePrefix("172.31.253.0/24"), Trunk: "vt-trunk"},
			{Bridge: "vic-t", Subnet: netip.MustParsePrefix("172.31.254.0/24"), Trunk: "vt-trunk", Internal: true},
		},
		Ports: []Mapping{tcp("", 8080, "172.31.253.2", 80, "vic-s")},
	}},
	{"two-networks-and-internal", State{
		Networks: []BridgeNetwork{netB, netI, netA},
		Ports: []Mapping{
			tcp("0.0.0.0", 8080, "172.31.250.2", 80, "vic-a"),
			tcp("", 8081, "172.31.250.2", 80, "vic-a"), // shares the forward rule
			udp("", 8080, "172.31.251.2", 80, "vic-b"),
			{Proto: SCTP, HostPort: 3868, ContainerIP: netip.MustParseAddr("172.31.251.3"), ContainerPort: 3868, Bridge: "vic-b"},
			tcp("", 9000, "172.31.252.2", 9000, "vic-i"), // internal: not published
		},
	}},
}

func TestRenderGolden(t *testing.T) {
	m, err := NewModel(public)
	if err != nil {
		t.Fatal(err)
	}
	for _, sc := range scenarios {
		t.Run(sc.name, func(t *testing.T) {
			got, err := m.Render(sc.state)
			if err != nil {
				t.Fatal(err)
			}
			path := filepath.Join("testdata", sc.name+".golden")
			if *update {
				if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("reading golden file (run go test -update): %v", err)
			}
			if got != string(want) {
				t.Errorf("rendered rules differ from %s:\n--- got\n%s--- want\n%s", path, got, want)
			}
		})
	}
}

func TestElementsNeverDNATOtherAddresses(t *testing.T) {
	m, _ := NewModel(public)
	for _, sc := range scenarios {
		elems, err := m.Elements(sc.state)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range elems {
			if h := e.Host.Addr(); h != public && h != Loopback {
				t.Errorf("%s: port published on %s, not the public address or loopback: %s", sc.name, h, e)
			}
		}
	}
}

func TestRenderIgnoresOrder(t *testing.T) {
	m, _ := NewModel(public)
	rng := rand.New(rand.NewPCG(1, 2))
	for _, sc := range scenarios {
		want, err := m.Render(sc.state)
		if err != nil {
			t.Fatal(err)
		}
		for range 20 {
			s := State{
				Networks: append([]BridgeNetwork(nil), sc.state.Networks...),
				Ports:    append([]Mapping(nil), sc.state.Ports...),
			}
			rng.Shuffle(len(s.Networks), func(i, j int) { s.Networks[i], s.Networks[j] = s.Networks[j], s.Networks[i] })
			rng.Shuffle(len(s.Ports), func(i, j int) { s.Ports[i], s.Ports[j] = s.Ports[j], s.Ports[i] })
			if got, _ := m.Render(s); got != want {
				t.Fatalf("%s: shuffled state renders differently:\n%s\nwant\n%s", sc.name, got, want)
			}
		}
	}
}

func TestValidateHostIP(t *testing.T) {
	cases := []struct {
		host string
		ok   bool
	}{
		{"", true},
		{"0.0.0.0", true},
		{"::", true},
		{"198.51.100.2", true},
		{"::ffff:198.51.100.2", true},
		{"127.0.0.1", true},
		{"203.0.113.2", false}, // management
		{"127.0.0.2", false},
		{"172.31.250.1", false},
	}
	for _, c := range cases {
		var ip netip.Addr
		if c.host != "" {
			ip = netip.MustParseAddr(c.host)
		}
		err := ValidateHostIP(public, ip)
		if (err == nil) != c.ok {
			t.Errorf("ValidateHostIP(%q) = %v, want ok=%v", c.host, err, c.ok)
		}
		if err != nil {
			if !errors.Is(err, ErrHostIP) || !strings.Contains(err.Error(), c.host) {
				t.Errorf("ValidateHostIP(%q) error %q should name the address and wrap ErrHostIP", c.host, err)
			}
			if err.Error() != strings.ToLower(err.Error()) {
				t.Errorf("error %q is not lowercase", err)
			}
		}
	}
}

func TestRulesRefuseBadState(t *testing.T) {
	m, _ := NewModel(public)
	cases := []struct {
		name  string
		state State
		want  string
	}{
		{"management host ip", State{Networks: []BridgeNetwork{netA}, Ports: []Mapping{tcp(mgmt.String(), 80, "172.31.250.2", 80, "vic-a")}},
			"host ip 203.0.113.2 is not the public address"},
		{"unknown bridge", State{Networks: []BridgeNetwork{netA}, Ports: []Mapping{tcp("", 80, "172.31.250.2", 80, "vic-z")}},
			`bridge "vic-z" is not a known network`},
		{"container outside subnet", State{Networks: []BridgeNetwork{netA}, Ports: []Mapping{tcp("", 80, "172.31.251.2", 80, "vic-a")}},
			"is not in network 172.31.250.0/24"},
		{"host port zero", State{Networks: []BridgeNetwork{netA}, Ports: []Mapping{tcp("", 0, "172.31.250.2", 80, "vic-a")}},
			"must be picked"},
		{"bad protocol", State{Networks: []BridgeNetwork{netA}, Ports: []Mapping{{Proto: "icmp", HostPort: 1, ContainerIP: netip.MustParseAddr("172.31.250.2"), ContainerPort: 1, Bridge: "vic-a"}}},
			`protocol "icmp"`},
		{"port published twice", State{Networks: []BridgeNetwork{netA}, Ports: []Mapping{
			tcp("", 80, "172.31.250.2", 80, "vic-a"), tcp("127.0.0.1", 80, "172.31.250.3", 80, "vic-a")}},
			"port 127.0.0.1:80/tcp: published twice"},
		{"wildcard bridge name", State{Networks: []BridgeNetwork{{Bridge: "vic+", Subnet: netA.Subnet}}}, "only letters"},
		{"long bridge name", State{Networks: []BridgeNetwork{{Bridge: "vic-0123456789ab", Subnet: netA.Subnet}}}, "1 to 15 characters"},
		{"ipv6 subnet", State{Networks: []BridgeNetwork{{Bridge: "vic-6", Subnet: netip.MustParsePrefix("fd00::/64")}}}, "not an ipv4 subnet"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := m.Rules(c.state)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("Rules() error = %v, want one containing %q", err, c.want)
			}
		})
	}
}

func TestNewModelRefusesBadPublic(t *testing.T) {
	for _, s := range []string{"127.0.0.1", "0.0.0.0", "2001:db8::1"} {
		if _, err := NewModel(netip.MustParseAddr(s)); err == nil {
			t.Errorf("NewModel(%s) succeeded", s)
		}
	}
}

func TestProtoFromNumber(t *testing.T) {
	for n, want := range map[int]Proto{6: TCP, 17: UDP, 132: SCTP} {
		if got, err := ProtoFromNumber(n); err != nil || got != want {
			t.Errorf("ProtoFromNumber(%d) = %q, %v; want %q", n, got, err, want)
		}
	}
	if _, err := ProtoFromNumber(1); err == nil || !strings.Contains(err.Error(), "protocol number 1") {
		t.Errorf("ProtoFromNumber(1) error = %v, want one naming the number", err)
	}
}
