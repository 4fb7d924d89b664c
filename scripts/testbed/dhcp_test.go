//go:build linux

package main

import (
	"testing"

	"gotest.tools/v3/assert"
	"gotest.tools/v3/golden"
)

func TestUdhcpdConf(t *testing.T) {
	tb := &testbed{dir: "/tmp/vic-testbed"}
	var dhcp containerNet
	for _, c := range containerNets {
		if c.dhcp() {
			dhcp = c
		}
	}
	golden.Assert(t, tb.udhcpdConf(dhcp), "udhcpd.conf.golden")
}

func TestIsUdhcpdOfMatchesOnlyTheTestbedsServers(t *testing.T) {
	tests := []struct {
		argv []string
		want bool
	}{
		{[]string{"busybox", "udhcpd", "/tmp/vic-testbed/udhcpd-containers.conf"}, true},
		{[]string{"/bin/busybox", "udhcpd", "/tmp/vic-testbed/udhcpd-x.conf"}, true},
		{[]string{"busybox", "udhcpd", "/etc/udhcpd.conf"}, false},
		{[]string{"busybox", "udhcpc", "/tmp/vic-testbed/udhcpd-x.conf"}, false},
		{[]string{"busybox", "udhcpd", "/tmp/vic-testbed2/udhcpd-x.conf"}, false},
		{[]string{"busybox", "udhcpd"}, false},
	}
	for _, tt := range tests {
		assert.Check(t, isUdhcpdOf("/tmp/vic-testbed", tt.argv) == tt.want, "%v", tt.argv)
	}
}
