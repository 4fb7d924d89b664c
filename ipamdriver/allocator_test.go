package ipamdriver

import (
	"errors"
	"net/netip"
	"strings"
	"testing"

	"github.com/docker-vic/docker-vic/config"
)

func prefixes(ss ...string) []netip.Prefix {
	out := make([]netip.Prefix, len(ss))
	for i, s := range ss {
		out[i] = netip.MustParsePrefix(s)
	}
	return out
}

func TestNextSubnet(t *testing.T) {
	tests := []struct {
		name  string
		space string
		width int
		taken []netip.Prefix
		want  string // empty: none left
	}{
		{"empty range gives the first", "172.16.0.0/12", 16, nil, "172.16.0.0/16"},
		{"taken ones are skipped", "172.16.0.0/12", 16, prefixes("172.16.0.0/16", "172.17.0.0/16"), "172.18.0.0/16"},
		{"a hole is filled first", "172.16.0.0/12", 16, prefixes("172.16.0.0/16", "172.18.0.0/16"), "172.17.0.0/16"},
		{"a larger taken subnet is jumped over", "172.16.0.0/12", 16, prefixes("172.16.0.0/13"), "172.24.0.0/16"},
		{"a smaller taken subnet blocks its whole slot", "172.16.0.0/12", 16, prefixes("172.16.5.0/24"), "172.17.0.0/16"},
		{"a taken subnet larger than the range blocks it all", "172.16.0.0/12", 16, prefixes("172.0.0.0/8"), ""},
		{"a full range gives none", "172.16.0.0/15", 16, prefixes("172.16.0.0/16", "172.17.0.0/16"), ""},
		{"width equal to the range gives the range", "198.51.100.0/24", 24, nil, "198.51.100.0/24"},
		{"width shorter than the range gives none", "198.51.100.0/24", 23, nil, ""},
		{"narrow subnets", "203.0.113.0/24", 30, prefixes("203.0.113.0/30", "203.0.113.8/29"), "203.0.113.4/30"},
		{"the end of the address space", "255.255.255.0/24", 25, prefixes("255.255.255.0/25"), "255.255.255.128/25"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := nextSubnet(netip.MustParsePrefix(tt.space), tt.width, tt.taken)
			if tt.want == "" {
				if ok {
					t.Fatalf("nextSubnet = %s, want none", got)
				}
				return
			}
			if !ok || got.String() != tt.want {
				t.Fatalf("nextSubnet = %s (%v), want %s", got, ok, tt.want)
			}
		})
	}
}

func ranges(ss ...string) []config.IPRange {
	out := make([]config.IPRange, len(ss))
	for i, s := range ss {
		r, err := config.ParseIPRange(s)
		if err != nil {
			panic(err)
		}
		out[i] = r
	}
	return out
}

func TestUsableSpans(t *testing.T) {
	tests := []struct {
		name   string
		subnet string
		ranges []config.IPRange
		want   string
	}{
		{"whole subnet without network and broadcast", "172.16.0.0/16", nil, "172.16.0.1-172.16.255.254"},
		{"a /30 keeps two addresses", "203.0.113.0/30", nil, "203.0.113.1-203.0.113.2"},
		{"a sub-pool CIDR loses the subnet's network address only", "172.20.0.0/16", ranges("172.20.0.0/24"), "172.20.0.1-172.20.0.255"},
		{"ranges are sorted", "198.51.100.0/24", ranges("198.51.100.200-198.51.100.250", "198.51.100.10-198.51.100.20"), "198.51.100.10-198.51.100.20, 198.51.100.200-198.51.100.250"},
		{"a range reaching the broadcast address is cut", "198.51.100.0/24", ranges("198.51.100.128/25"), "198.51.100.128-198.51.100.254"},
		{"a range outside the subnet gives nothing", "198.51.100.0/24", ranges("203.0.113.0/24"), ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := spansString(usableSpans(netip.MustParsePrefix(tt.subnet), tt.ranges))
			if got != tt.want {
				t.Fatalf("usableSpans = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestNextAddress(t *testing.T) {
	spans := usableSpans(netip.MustParsePrefix("198.51.100.0/24"), ranges("198.51.100.10-198.51.100.12", "198.51.100.20-198.51.100.21"))
	tests := []struct {
		name  string
		after string
		taken []string
		want  string // empty: none left
	}{
		{"no last address starts at the beginning", "", nil, "198.51.100.10"},
		{"continues after the last address", "198.51.100.10", nil, "198.51.100.11"},
		{"skips taken addresses", "198.51.100.10", []string{"198.51.100.11"}, "198.51.100.12"},
		{"moves on to the next range", "198.51.100.12", nil, "198.51.100.20"},
		{"a last address between ranges continues in the next", "198.51.100.15", nil, "198.51.100.20"},
		{"wraps around at the end", "198.51.100.21", nil, "198.51.100.10"},
		{"wraps around past taken addresses", "198.51.100.20", []string{"198.51.100.21", "198.51.100.10"}, "198.51.100.11"},
		{"the last address itself comes last", "198.51.100.11", []string{"198.51.100.10", "198.51.100.12", "198.51.100.20", "198.51.100.21"}, "198.51.100.11"},
		{"everything taken gives none", "", []string{"198.51.100.10", "198.51.100.11", "198.51.100.12", "198.51.100.20", "198.51.100.21"}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var after netip.Addr
			if tt.after != "" {
				after = netip.MustParseAddr(tt.after)
			}
			taken := map[netip.Addr]bool{}
			for _, s := range tt.taken {
				taken[netip.MustParseAddr(s)] = true
			}
			got, ok := nextAddress(spans, after, func(a netip.Addr) bool { return taken[a] })
			if tt.want == "" {
				if ok {
					t.Fatalf("nextAddress = %s, want none", got)
				}
				return
			}
			if !ok || got.String() != tt.want {
				t.Fatalf("nextAddress = %s (%v), want %s", got, ok, tt.want)
			}
		})
	}
}

func TestCheckRequested(t *testing.T) {
	bridge := Pool{ID: "vic/172.20.0.0/16/172.20.5.0/24", Subnet: netip.MustParsePrefix("172.20.0.0/16"),
		Ranges: ranges("172.20.5.0/24"), Gateway: netip.MustParseAddr("172.20.5.1")}
	container := Pool{ID: "vic/198.51.100.0/24@cn", Subnet: netip.MustParsePrefix("198.51.100.0/24"),
		Ranges: ranges("198.51.100.10-198.51.100.20"), Gateway: netip.MustParseAddr("198.51.100.1"), PortGroup: "cn"}
	taken := map[netip.Addr]bool{netip.MustParseAddr("172.20.5.2"): true, netip.MustParseAddr("198.51.100.10"): true}
	tests := []struct {
		name    string
		pool    Pool
		addr    string
		kind    error  // nil: accepted
		message string // part of the message
	}{
		{"a free address of the range", bridge, "172.20.5.3", nil, ""},
		{"bridge networks accept --ip outside --ip-range", bridge, "172.20.9.9", nil, ""},
		{"outside the subnet", bridge, "172.21.0.1", ErrInvalid, "address 172.21.0.1 is outside subnet 172.20.0.0/16"},
		{"the network address", bridge, "172.20.0.0", ErrInvalid, "address 172.20.0.0 is the network address of subnet 172.20.0.0/16"},
		{"the broadcast address", bridge, "172.20.255.255", ErrInvalid, "address 172.20.255.255 is the broadcast address of subnet 172.20.0.0/16"},
		{"the gateway", bridge, "172.20.5.1", ErrConflict, "address 172.20.5.1 is the gateway of subnet 172.20.0.0/16"},
		{"taken", bridge, "172.20.5.2", ErrConflict, "address 172.20.5.2 is already in use in subnet 172.20.0.0/16"},
		{"a free address of a container network's ranges", container, "198.51.100.11", nil, ""},
		{"outside a container network's ranges", container, "198.51.100.50", ErrInvalid, `address 198.51.100.50 is outside the ranges 198.51.100.10-198.51.100.20 that docker-vic hands out on container network "cn" (198.51.100.0/24)`},
		{"taken in a container network", container, "198.51.100.10", ErrConflict, "already in use"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			spans := usableSpans(tt.pool.Subnet, tt.pool.Ranges)
			err := checkRequested(tt.pool, spans, netip.MustParseAddr(tt.addr), taken)
			if tt.kind == nil {
				if err != nil {
					t.Fatalf("checkRequested: %v", err)
				}
				return
			}
			if !errors.Is(err, tt.kind) || !strings.Contains(err.Error(), tt.message) {
				t.Fatalf("checkRequested = %v, want a %v error containing %q", err, tt.kind, tt.message)
			}
		})
	}
}
