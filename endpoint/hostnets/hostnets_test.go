package hostnets

import (
	"net/netip"
	"testing"

	"gotest.tools/v3/assert"
)

func TestCheck(t *testing.T) {
	host := []Subnet{
		{Prefix: netip.MustParsePrefix("198.51.100.0/24"), Link: "ens192"},
		{Prefix: netip.MustParsePrefix("172.17.0.0/16"), Link: "docker0"},
	}
	tests := []struct{ subnet, want string }{
		{"172.16.0.0/16", ""},
		{"203.0.113.0/26", ""},
		{"172.17.0.0/16", "subnet 172.17.0.0/16 overlaps 172.17.0.0/16 of docker0, a network of the endpoint VM itself: choose another subnet"},
		{"172.16.0.0/12", "subnet 172.16.0.0/12 overlaps 172.17.0.0/16 of docker0, a network of the endpoint VM itself: choose another subnet"},
		{"198.51.100.128/25", "subnet 198.51.100.128/25 overlaps 198.51.100.0/24 of ens192, a network of the endpoint VM itself: choose another subnet"},
		{"127.1.0.0/16", "subnet 127.1.0.0/16 overlaps the loopback range 127.0.0.0/8: choose another subnet"},
		{"0.0.0.0/8", "subnet 0.0.0.0/8 overlaps the range of this host on this network (0.0.0.0/8): choose another subnet"},
		{"169.254.1.0/24", "subnet 169.254.1.0/24 overlaps the link-local range 169.254.0.0/16: choose another subnet"},
		{"224.1.0.0/16", "subnet 224.1.0.0/16 overlaps the multicast range 224.0.0.0/4: choose another subnet"},
		{"255.255.255.252/30", "subnet 255.255.255.252/30 overlaps the reserved range 240.0.0.0/4: choose another subnet"},
	}
	for _, tc := range tests {
		err := Check(netip.MustParsePrefix(tc.subnet), host)
		if tc.want == "" {
			assert.NilError(t, err, tc.subnet)
			continue
		}
		assert.Error(t, err, tc.want)
	}
}
