package dhcp

import (
	"context"
	"net"
	"net/netip"
	"testing"

	"gotest.tools/v3/assert"
	is "gotest.tools/v3/assert/cmp"
)

func TestNewNeedsUplink(t *testing.T) {
	_, err := New(Config{})
	assert.Check(t, is.ErrorContains(err, "needs Config.Uplink"))
}

func TestClientRefusesNonEthernetMAC(t *testing.T) {
	c, err := New(Config{Uplink: UplinkMap(map[string]string{"pg": "eth1"})})
	assert.NilError(t, err)
	defer c.Close()
	long := net.HardwareAddr{0, 0, 0, 0, 0xfe, 0x80, 0, 0}
	const want = `a DHCP lease on port group "pg" needs a 6-byte Ethernet MAC address, not "00:00:00:00:fe:80:00:00"`
	_, err = c.Acquire(context.Background(), "pg", long)
	assert.Check(t, is.Error(err, want))
	_, err = c.Adopt(context.Background(), "pg", long, netip.MustParsePrefix("203.0.113.151/26"))
	assert.Check(t, is.Error(err, want))
}
