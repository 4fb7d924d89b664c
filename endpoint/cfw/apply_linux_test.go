package cfw

import (
	"errors"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/docker-vic/docker-vic/config"
	"github.com/docker-vic/docker-vic/endpoint/testns"
	"gotest.tools/v3/assert"
)

const endpoint = "0123456789ab"

// What the tests observe, as bed.observe reports it.
var (
	// always answer whatever the level: the container's loopback and its own address, and its
	// other network, which no rule matches.
	always = []string{
		"container -> loopback tcp/8080: 8080",
		"container -> itself tcp/8080: 8080",
		"outsider -> other network tcp/8080: 8080",
		"outsider -> other network ping: pong",
	}
	outbound = []string{"container -> peer tcp/9000: peer"}
)

// inbound is what who reaches of the container's services, by name: "tcp/80", "tcp/8080",
// "udp/53", "ping".
func inbound(who string, services ...string) []string {
	answers := map[string]string{"tcp/80": "80", "tcp/8080": "8080", "udp/53": "53", "ping": "pong"}
	var lines []string
	for _, s := range services {
		lines = append(lines, who+" -> container "+s+": "+answers[s])
	}
	return lines
}

var everything = []string{"tcp/80", "tcp/8080", "udp/53", "ping"}

func rules(level config.Firewall, ports ...Port) Rules {
	return Rules{Address: ctrAddr, Level: level, Peers: []netip.Prefix{peerRange}, Ports: ports}
}

var published = []Port{{"tcp", 80, 80}, {"udp", 53, 53}}

func TestApplyLevels(t *testing.T) {
	b := newBed(t)
	tests := []struct {
		name  string
		rules Rules
		want  [][]string
	}{
		{"closed", rules(config.FirewallClosed, published...), [][]string{always}},
		{"outbound", rules(config.FirewallOutbound, published...), [][]string{always, outbound}},
		{"published", rules(config.FirewallPublished, published...), [][]string{always, outbound,
			inbound("peer", "tcp/80", "udp/53", "ping"), inbound("outsider", "tcp/80", "udp/53", "ping")}},
		{"published without ports", rules(config.FirewallPublished), [][]string{always, outbound,
			inbound("peer", "ping"), inbound("outsider", "ping")}},
		{"peers", rules(config.FirewallPeers, published...), [][]string{always, outbound,
			inbound("peer", everything...), inbound("outsider", "tcp/80", "udp/53", "ping")}},
		{"peers outside the range", Rules{Address: ctrAddr, Level: config.FirewallPeers,
			Peers: []netip.Prefix{netip.MustParsePrefix("198.51.100.0/24")}}, [][]string{always, outbound,
			inbound("peer", "ping"), inbound("outsider", "ping")}},
		{"open", rules(config.FirewallOpen), [][]string{always, outbound,
			inbound("peer", everything...), inbound("outsider", everything...)}},
		{"published redirect", rules(config.FirewallPublished, Port{"tcp", 8081, 80}), [][]string{always, outbound,
			inbound("peer", "ping"), inbound("outsider", "ping"),
			{"outsider -> container redirect 8081: 80", "container -> itself redirect 8081: 80"}}},
		{"peers redirect", rules(config.FirewallPeers, Port{"tcp", 8081, 80}), [][]string{always, outbound,
			inbound("peer", everything...), inbound("outsider", "ping"),
			{"outsider -> container redirect 8081: 80", "container -> itself redirect 8081: 80"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.NilError(t, Apply(b.ctr.Path(), endpoint, tt.rules))
			b.expect(t, slices.Concat(tt.want...))
		})
	}
}

func TestApplyLifecycle(t *testing.T) {
	b := newBed(t)
	open := slices.Concat(always, outbound, inbound("peer", everything...), inbound("outsider", everything...))
	path := b.ctr.Path()

	t.Run("no firewall", func(t *testing.T) {
		b.expect(t, open)
		_, err := Read(path, endpoint)
		assert.ErrorIs(t, err, ErrNoFirewall)
	})
	t.Run("apply twice", func(t *testing.T) {
		r := rules(config.FirewallPublished, Port{"tcp", 80, 80})
		assert.NilError(t, Apply(path, endpoint, r))
		first, err := Read(path, endpoint)
		assert.NilError(t, err)
		assert.NilError(t, Apply(path, endpoint, r))
		second, err := Read(path, endpoint)
		assert.NilError(t, err)
		assert.DeepEqual(t, first, second)
		b.expect(t, slices.Concat(always, outbound, inbound("peer", "tcp/80", "ping"), inbound("outsider", "tcp/80", "ping")))
	})
	t.Run("new level replaces the old one", func(t *testing.T) {
		assert.NilError(t, Apply(path, endpoint, rules(config.FirewallClosed)))
		b.expect(t, always)
		lines, err := Read(path, endpoint)
		assert.NilError(t, err)
		assert.DeepEqual(t, lines, []string{
			"chain input: filter hook input priority 0 policy accept",
			"input: loopback",
			"input: closed",
			"chain output: filter hook output priority 0 policy accept",
			"output: loopback",
			"output: closed",
			"chain redirect: nat hook prerouting priority -100 policy accept",
			"chain redirect-local: nat hook output priority -100 policy accept",
		})
	})
	t.Run("two endpoints", func(t *testing.T) {
		other := Rules{Address: ctrOther, Level: config.FirewallClosed}
		assert.NilError(t, Apply(path, "other", other))
		b.expect(t, always[:2])
		assert.NilError(t, Remove(path, "other"))
		b.expect(t, always)
	})
	t.Run("remove", func(t *testing.T) {
		assert.NilError(t, Remove(path, endpoint))
		b.expect(t, open)
		_, err := Read(path, endpoint)
		assert.ErrorIs(t, err, ErrNoFirewall)
	})
	t.Run("remove twice", func(t *testing.T) {
		assert.NilError(t, Remove(path, endpoint))
	})
}

func TestApplyReadBack(t *testing.T) {
	ns := testns.New(t, "vcf")
	r := rules(config.FirewallPeers, Port{"tcp", 80, 80}, Port{"sctp", 8081, 81})
	assert.NilError(t, Apply(ns.Path(), endpoint, r))
	lines, err := Read(ns.Path(), endpoint)
	assert.NilError(t, err)
	redirect := "redirect 8081->81/sctp"
	assert.DeepEqual(t, lines, []string{
		"chain input: filter hook input priority 0 policy accept",
		"input: loopback",
		"input: replies",
		"input: ping",
		"input: port 80/tcp",
		"input: port 8081->81/sctp",
		"input: peer 203.0.113.128/27",
		"input: drop",
		"chain output: filter hook output priority 0 policy accept",
		"chain redirect: nat hook prerouting priority -100 policy accept",
		"redirect: " + redirect,
		"chain redirect-local: nat hook output priority -100 policy accept",
		"redirect-local: " + redirect,
	})
}

func TestApplyRefusesBadRules(t *testing.T) {
	ns := testns.New(t, "vcf")
	err := Apply(ns.Path(), endpoint, rules(config.FirewallClosed, Port{"tcp", 8081, 80}))
	assert.Error(t, err, `port 8081->80/tcp: container network firewall level "closed" takes no port redirects`)
	err = Apply(ns.Path(), "0123456789abc", rules(config.FirewallOpen))
	assert.Error(t, err, `endpoint name "0123456789abc": the name must have 1 to 12 characters`)
	_, err = Read(ns.Path(), endpoint)
	assert.ErrorIs(t, err, ErrNoFirewall)
}

func TestMissingSandbox(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "gone")
	plain := filepath.Join(t.TempDir(), "unmounted")
	assert.NilError(t, os.WriteFile(plain, nil, 0o600))
	for _, path := range []string{missing, plain} {
		assert.NilError(t, Remove(path, endpoint))
		err := Apply(path, endpoint, rules(config.FirewallOpen))
		assert.Check(t, errors.Is(err, ErrNoSandbox), "apply in %s: %v", path, err)
		_, err = Read(path, endpoint)
		assert.Check(t, errors.Is(err, ErrNoSandbox), "read in %s: %v", path, err)
	}
}
