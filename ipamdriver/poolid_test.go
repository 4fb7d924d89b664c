package ipamdriver

import (
	"errors"
	"net/netip"
	"testing"
)

func TestPoolIDRoundTrip(t *testing.T) {
	tests := []struct {
		id  string
		ref PoolRef
	}{
		{"vic/172.16.0.0/16", PoolRef{Subnet: netip.MustParsePrefix("172.16.0.0/16")}},
		{"vic/172.20.0.0/16/172.20.5.0/24", PoolRef{Subnet: netip.MustParsePrefix("172.20.0.0/16"), SubPool: netip.MustParsePrefix("172.20.5.0/24")}},
		{"vic/198.51.100.0/24@containers", PoolRef{Subnet: netip.MustParsePrefix("198.51.100.0/24"), PortGroup: "containers"}},
		{"vic/0.0.0.0/0@DC0/net/with@odd:name", PoolRef{Subnet: dhcpSubnet, PortGroup: "DC0/net/with@odd:name"}},
	}
	for _, tt := range tests {
		t.Run(tt.id, func(t *testing.T) {
			if got := tt.ref.String(); got != tt.id {
				t.Fatalf("String() = %q, want %q", got, tt.id)
			}
			got, err := ParsePoolID(tt.id)
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.ref {
				t.Fatalf("ParsePoolID(%q) = %+v, want %+v", tt.id, got, tt.ref)
			}
		})
	}
}

func TestPoolIDDHCP(t *testing.T) {
	ref, _ := ParsePoolID("vic/0.0.0.0/0@dhcp-pg")
	if !ref.DHCP() {
		t.Fatal("a container network pool of 0.0.0.0/0 is a DHCP pool")
	}
	ref, _ = ParsePoolID("vic/198.51.100.0/24@static-pg")
	if ref.DHCP() {
		t.Fatal("a container network pool with a subnet is not a DHCP pool")
	}
}

func TestParsePoolIDRefusesForeignIDs(t *testing.T) {
	for _, id := range []string{"", "default", "LocalDefault/172.16.0.0/16", "vic/", "vic/172.16.0.0", "vic/172.16.0.0/16/8", "vic/2001:db8::/64", "vic/172.16.0.0/16/x/y"} {
		if _, err := ParsePoolID(id); !errors.Is(err, ErrUnknownPool) {
			t.Errorf("ParsePoolID(%q) = %v, want an ErrUnknownPool error", id, err)
		}
	}
}
