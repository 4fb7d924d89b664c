//go:build linux

package main

import (
	"os/exec"
	"strings"
	"testing"

	"github.com/google/nftables"
	"github.com/vishvananda/netlink"
	"gotest.tools/v3/assert"

	"github.com/docker-vic/docker-vic/endpoint/testns"
)

// ruleset is what an endpoint with two published TCP ports (on its public address and on
// loopback) and one UDP port leaves in the kernel, laid out as iptables-nft and the driver's
// table lay it out, next to a rule of someone else's.
const ruleset = `
table ip vic {
	map tcpports { type ipv4_addr . inet_service : ipv4_addr . inet_service; elements = { 198.51.100.2 . 30001 : 172.16.0.2 . 80, 127.0.0.1 . 30001 : 172.16.0.2 . 80 } }
	map udpports { type ipv4_addr . inet_service : ipv4_addr . inet_service; elements = { 198.51.100.2 . 30002 : 172.16.0.3 . 53 } }
	map sctpports { type ipv4_addr . inet_service : ipv4_addr . inet_service; }
}
table ip nat {
	chain VIC-POST { ip saddr 172.16.0.0/16 oifname != "vb-net1" masquerade; }
	chain POSTROUTING { type nat hook postrouting priority srcnat; policy accept; jump VIC-POST; }
}
table ip filter {
	chain VIC-ISO { }
	chain VIC-FWD { jump VIC-ISO; iifname "vb-net1" accept; }
	chain DOCKER-USER { return; }
	chain FORWARD { type filter hook forward priority filter; policy drop; jump DOCKER-USER; jump VIC-FWD; }
}
`

// endpointNS is a namespace holding ruleset, one bridge network's bridge with one
// container's veth, and a link of someone else's.
func endpointNS(t *testing.T) (*testns.NS, kernel) {
	ns := testns.New(t, "vrst")
	if _, err := exec.LookPath("nft"); err != nil {
		t.Skip("nft is not installed: run scripts/setup.sh")
	}
	cmd := exec.Command("ip", "netns", "exec", ns.Name, "nft", "-f", "-")
	cmd.Stdin = strings.NewReader(ruleset)
	out, err := cmd.CombinedOutput()
	assert.NilError(t, err, string(out))
	ns.Bridge(t, "vb-net1")
	assert.NilError(t, ns.Link.LinkAdd(&netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: "ve-ep1"}, PeerName: "vc-ep1"}))
	ns.Bridge(t, "br-other")
	nft, err := nftables.New(nftables.AsLasting(), nftables.WithNetNSFd(int(ns.Handle)))
	assert.NilError(t, err)
	t.Cleanup(func() { _ = nft.CloseLasting() })
	return ns, kernel{nft: nft, nl: ns.Link}
}

func TestCountFindsWhatTheEndpointOwns(t *testing.T) {
	_, k := endpointNS(t)
	got, err := k.count()
	assert.NilError(t, err)
	// Elements: three. Rules: VIC-POST's, VIC-FWD's two, and the jumps from POSTROUTING and
	// FORWARD; not DOCKER-USER's. Links: the bridge and the veth's host end, not its peer.
	assert.Equal(t, got, owned{Elements: 3, Rules: 5, Links: 2})
}

func TestFlushLeavesOnlyTheJumpsAndLinks(t *testing.T) {
	_, k := endpointNS(t)
	assert.NilError(t, k.flush())
	got, err := k.count()
	assert.NilError(t, err)
	assert.Equal(t, got, owned{Elements: 0, Rules: 2, Links: 2})
	// Twice is fine: nothing left to remove.
	assert.NilError(t, k.flush())
}
