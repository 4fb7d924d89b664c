package main

import (
	"fmt"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
	"gotest.tools/v3/assert"

	"github.com/docker-vic/docker-vic/endpoint/testns"
)

// testWires are wires named tbt- onto a test namespace playing the host; they go when the
// test ends.
func testWires(t *testing.T) (*testns.NS, *wires) {
	t.Helper()
	host := testns.New(t, "tbh")
	removeTBT := func() {
		names, _ := testns.Names("tbt-")
		for _, n := range names {
			_ = testns.Delete(n)
		}
	}
	removeTBT()
	w := newWires(host.Link, "tbt-")
	t.Cleanup(func() {
		w.close()
		removeTBT()
	})
	return host, w
}

func TestPlugHostAndMachineShareAWire(t *testing.T) {
	host, w := testWires(t)
	mac, _ := net.ParseMAC("00:0c:29:33:35:39")
	hostAddr := netip.MustParsePrefix("198.51.100.2/24")
	assert.NilError(t, w.plugHost("vtb-public", mac, "Docker-Public", hostAddr))
	assert.NilError(t, w.plugMachine("tbt-outside", "eth0", "Docker-Public", netip.MustParsePrefix("198.51.100.10/24")))
	// Plugging again converges instead of failing.
	assert.NilError(t, w.plugHost("vtb-public", mac, "Docker-Public", hostAddr))

	l, err := host.Link.LinkByName("vtb-public")
	assert.NilError(t, err)
	assert.Equal(t, l.Attrs().HardwareAddr.String(), mac.String(), "the host link carries the NIC's MAC")
	addrs, err := host.Link.AddrList(l, netlink.FAMILY_V4)
	assert.NilError(t, err)
	assert.Equal(t, len(addrs), 1)
	assert.Equal(t, addrs[0].IPNet.String(), hostAddr.String())

	// What a user observes: the machine on the port group connects to the host's address.
	var ln net.Listener
	assert.NilError(t, host.Do(func() (err error) {
		ln, err = net.Listen("tcp", "198.51.100.2:7001")
		return err
	}))
	defer ln.Close()
	go func() {
		if c, err := ln.Accept(); err == nil {
			fmt.Fprintln(c, "hello")
			c.Close()
		}
	}()
	machine, err := testns.Open("tbt-outside")
	assert.NilError(t, err)
	defer machine.Close()
	assert.NilError(t, machine.Do(func() error {
		c, err := net.DialTimeout("tcp", "198.51.100.2:7001", 5*time.Second)
		if err != nil {
			return err
		}
		defer c.Close()
		buf := make([]byte, 5)
		_, err = c.Read(buf)
		if err == nil && string(buf) != "hello" {
			err = fmt.Errorf("read %q", buf)
		}
		return err
	}))
}

func TestPortGroupsAreSeparateWires(t *testing.T) {
	_, w := testWires(t)
	mac, _ := net.ParseMAC("00:0c:29:33:35:40")
	assert.NilError(t, w.plugHost("vtb-client", mac, "VIC-Client", netip.MustParsePrefix("203.0.113.2/26")))
	assert.NilError(t, w.plugMachine("tbt-m", "eth0", "VIC-Management", netip.MustParsePrefix("203.0.113.3/26")))
	m, err := testns.Open("tbt-m")
	assert.NilError(t, err)
	defer m.Close()
	err = m.Do(func() error {
		c, err := net.DialTimeout("tcp", "203.0.113.2:7001", time.Second)
		if err == nil {
			c.Close()
		}
		return err
	})
	assert.Check(t, err != nil, "a machine on another port group reached the host link")
}

func TestCheckHostRangesRefusesATakenRange(t *testing.T) {
	host := testns.New(t, "tbr")
	assert.NilError(t, checkHostRanges(host.Link), "a fresh namespace has nothing in the ranges")

	br := &netlink.Bridge{LinkAttrs: netlink.LinkAttrs{Name: "eth9"}}
	assert.NilError(t, host.Link.LinkAdd(br))
	assert.NilError(t, addressUp(host.Link, "eth9", netip.MustParsePrefix("203.0.113.77/28")))
	assert.ErrorContains(t, checkHostRanges(host.Link), `address 203.0.113.77/28 on "eth9"`)

	assert.NilError(t, host.Link.LinkDel(br))
	ours := &netlink.Bridge{LinkAttrs: netlink.LinkAttrs{Name: prefix + "x"}}
	assert.NilError(t, host.Link.LinkAdd(ours))
	assert.NilError(t, addressUp(host.Link, prefix+"x", netip.MustParsePrefix("203.0.113.77/28")))
	assert.NilError(t, checkHostRanges(host.Link), "the testbed's own links may hold the ranges")
}
