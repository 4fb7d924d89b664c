package vicinit

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
	"gotest.tools/v3/assert"

	"github.com/docker-vic/docker-vic/config"
	"github.com/docker-vic/docker-vic/endpoint/testns"
)

// The network step on two cards of a wire: the public one on DHCP from busybox udhcpd, the
// client one static with a route through its gateway. The cards come up named by role, with
// the lease's address, its router as the default route and its DNS server, and carry traffic.
func TestApplyNetworkNamesCardsAndTakesALease(t *testing.T) {
	testns.RequirePrivileged(t)
	if _, err := exec.LookPath("busybox"); err != nil {
		t.Skip("busybox (udhcpd) is missing: scripts/setup.sh installs busybox-static")
	}
	cardTypes["veth"] = true
	t.Cleanup(func() { delete(cardTypes, "veth") })

	wire := testns.New(t, "vin")
	wire.Bridge(t, "br0")
	server := testns.New(t, "vin")
	wire.Plug(t, "w-srv", "br0", server, "eth0", "198.51.100.1/24", "203.0.113.1/26")
	guest := testns.New(t, "vin")
	wire.Plug(t, "w-pub", "br0", guest, "eth0")
	wire.Plug(t, "w-cli", "br0", guest, "eth1")
	startUDHCPD(t, server)
	mac := func(name string) net.HardwareAddr {
		l, err := guest.Link.LinkByName(name)
		assert.NilError(t, err)
		return l.Attrs().HardwareAddr
	}
	plans := []LinkPlan{
		{MAC: mac("eth0"), PortGroup: "Docker-Public", Roles: []config.Role{config.RolePublic}, Name: "public", DHCP: true},
		{MAC: mac("eth1"), PortGroup: "VIC-Client", Roles: []config.Role{config.RoleClient}, Name: "client",
			Addrs:  []netip.Prefix{netip.MustParsePrefix("203.0.113.2/26")},
			Routes: []Route{{Dst: netip.MustParsePrefix("203.0.113.128/25"), Via: netip.MustParseAddr("203.0.113.1")}}},
	}

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel() // ends the lease's renewal
	var console bytes.Buffer
	var applied Applied
	assert.NilError(t, guest.Do(func() (err error) {
		applied, err = applyNetwork(ctx, plans, NewLog(&console))
		return err
	}), console.String())

	pub, err := guest.Link.LinkByName("public")
	assert.NilError(t, err, "the DHCP card is named public")
	assert.Equal(t, pub.Attrs().HardwareAddr.String(), plans[0].MAC.String())
	leased := applied.Addrs["public"]
	assert.Assert(t, leased.Addr().Compare(netip.MustParseAddr("198.51.100.100")) >= 0 &&
		leased.Addr().Compare(netip.MustParseAddr("198.51.100.110")) <= 0 && leased.Bits() == 24,
		"leased %s, want an address of the pool 198.51.100.100-110/24", leased)
	assert.Assert(t, hasAddr(t, guest, "public", leased), "the lease's address is on public")
	assert.Equal(t, fmt.Sprint(applied.DNS), "[198.51.100.53]", "the DNS server of the lease")
	assert.Equal(t, routeVia(t, guest, "0.0.0.0/0"), "198.51.100.1 public", "the default route is the lease's router")

	_, err = guest.Link.LinkByName("client")
	assert.NilError(t, err, "the static card is named client")
	assert.Assert(t, hasAddr(t, guest, "client", netip.MustParsePrefix("203.0.113.2/26")))
	assert.Equal(t, routeVia(t, guest, "203.0.113.128/25"), "203.0.113.1 client")

	// Traffic: the server answers the guest on its public address.
	ln := listenIn(t, server, "198.51.100.1:7070")
	go func() {
		if c, err := ln.Accept(); err == nil {
			io.WriteString(c, "hello public")
			c.Close()
		}
	}()
	var got []byte
	assert.NilError(t, guest.Do(func() error {
		c, err := net.DialTimeout("tcp", "198.51.100.1:7070", 5*time.Second)
		if err != nil {
			return err
		}
		defer c.Close()
		got, err = io.ReadAll(c)
		return err
	}))
	assert.Equal(t, string(got), "hello public")
}

// startUDHCPD serves DHCP on the server's eth0: a pool of 198.51.100.100-110/24, the server as
// router, 198.51.100.53 as DNS.
func startUDHCPD(t *testing.T, server *testns.NS) {
	t.Helper()
	dir := t.TempDir()
	leases := filepath.Join(dir, "leases")
	assert.NilError(t, os.WriteFile(leases, nil, 0o644))
	conf := filepath.Join(dir, "udhcpd.conf")
	assert.NilError(t, os.WriteFile(conf, []byte(fmt.Sprintf(`start 198.51.100.100
end 198.51.100.110
interface eth0
lease_file %s
pidfile %s
opt subnet 255.255.255.0
opt router 198.51.100.1
opt dns 198.51.100.53
opt lease 3600
`, leases, filepath.Join(dir, "pid"))), 0o644))
	cmd := exec.Command("ip", "netns", "exec", server.Name, "busybox", "udhcpd", "-f", conf)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	assert.NilError(t, cmd.Start())
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
		if t.Failed() {
			t.Logf("udhcpd:\n%s", out.String())
		}
	})
}

// hasAddr reports whether link name of ns holds address a.
func hasAddr(t *testing.T, ns *testns.NS, name string, a netip.Prefix) bool {
	t.Helper()
	l, err := ns.Link.LinkByName(name)
	assert.NilError(t, err)
	addrs, err := ns.Link.AddrList(l, netlink.FAMILY_V4)
	assert.NilError(t, err)
	for _, x := range addrs {
		if x.IPNet.String() == a.String() {
			return true
		}
	}
	return false
}

// routeVia returns "GATEWAY LINK" of ns's route to dst, or "".
func routeVia(t *testing.T, ns *testns.NS, dst string) string {
	t.Helper()
	routes, err := ns.Link.RouteList(nil, netlink.FAMILY_V4)
	assert.NilError(t, err)
	for _, r := range routes {
		d := "0.0.0.0/0"
		if r.Dst != nil {
			d = r.Dst.String()
		}
		if d == dst && r.Gw != nil {
			l, err := ns.Link.LinkByIndex(r.LinkIndex)
			assert.NilError(t, err)
			return r.Gw.String() + " " + l.Attrs().Name
		}
	}
	return ""
}

// listenIn listens on TCP addr inside ns.
func listenIn(t *testing.T, ns *testns.NS, addr string) net.Listener {
	t.Helper()
	var ln net.Listener
	assert.NilError(t, ns.Do(func() (err error) {
		ln, err = net.Listen("tcp", addr)
		return err
	}))
	t.Cleanup(func() { ln.Close() })
	return ln
}
