package nat

import (
	"context"
	"math/rand/v2"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// countingRunner counts the commands an applier runs.
type countingRunner struct {
	Runner
	n atomic.Int32
}

func (c *countingRunner) Run(ctx context.Context, stdin []byte, name string, args ...string) ([]byte, error) {
	c.n.Add(1)
	return c.Runner.Run(ctx, stdin, name, args...)
}

// tbState publishes on the testbed: 8080 tcp+udp (public and loopback) to c1:80, 8081 on
// loopback only and 8082 on the public address only, both to c2:80.
var tbState = State{
	Networks: []BridgeNetwork{tbNet0, tbNet1},
	Ports: []Mapping{
		tcp("", 8080, "172.31.250.2", 80, "vbr0"),
		udp("", 8080, "172.31.250.2", 80, "vbr0"),
		tcp("127.0.0.1", 8081, "172.31.250.3", 80, "vbr0"),
		tcp("198.51.100.2", 8082, "172.31.250.3", 80, "vbr0"),
	},
}

// dockerLike makes the endpoint namespace look like a Docker host's: FORWARD policy DROP and
// DOCKER-USER on top of FORWARD.
func (tb *testbed) dockerLike() {
	tb.t.Helper()
	batch := "*filter\n:FORWARD DROP [0:0]\n:DOCKER-USER - [0:0]\n-A FORWARD -j DOCKER-USER\n-A DOCKER-USER -j RETURN\nCOMMIT\n"
	if _, err := tb.epRun.Run(context.Background(), []byte(batch), "iptables-restore", "--noflush"); err != nil {
		tb.t.Fatal(err)
	}
}

// programmed returns a testbed with servers on port 80 of every container and port 9000
// outside, and an applier that has applied tbState.
func programmed(t *testing.T) (*testbed, *Applier, *countingRunner) {
	t.Helper()
	tb := newTestbed(t)
	tb.dockerLike()
	for _, ns := range []string{"c1", "c2", "c3"} {
		tb.serve(ns, 80)
	}
	tb.serve("out", 9000)
	run := &countingRunner{Runner: tb.epRun}
	a, err := NewApplier(tbPublic, run, NftMaps(tb.ns["ep"].Name))
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Apply(context.Background(), tbState); err != nil {
		t.Fatal(err)
	}
	return tb, a, run
}

// expect dials and checks the greeting starts with want ("" means the dial must fail).
func (tb *testbed) expect(t *testing.T, from, network, addr, want string) {
	t.Helper()
	got, err := tb.dial(from, network, addr, 400*time.Millisecond)
	switch {
	case want == "" && err == nil:
		t.Errorf("%s -> %s/%s reached %q, want no answer", from, addr, network, got)
	case want != "" && err != nil:
		t.Errorf("%s -> %s/%s: %v, want %q", from, addr, network, err, want)
	case want != "" && !strings.HasPrefix(got, want):
		t.Errorf("%s -> %s/%s answered %q, want %q", from, addr, network, got, want)
	}
}

func TestKernelPublishedPortsReachability(t *testing.T) {
	tb, _, _ := programmed(t)
	cases := []struct {
		name, from, network, addr, want string
	}{
		{"outside to public", "out", "tcp4", "198.51.100.2:8080", "c1 198.51.100.10:"},
		{"outside to public udp", "out", "udp4", "198.51.100.2:8080", "c1 198.51.100.10:"},
		{"endpoint loopback", "ep", "tcp4", "127.0.0.1:8080", "c1 172.31.250.1:"},
		{"endpoint to its public address", "ep", "tcp4", "198.51.100.2:8080", "c1 "},
		{"hairpin from the other container", "c2", "tcp4", "198.51.100.2:8080", "c1 172.31.250.1:"},
		{"hairpin to itself", "c1", "tcp4", "198.51.100.2:8080", "c1 172.31.250.1:"},
		{"other network through the published port", "c3", "tcp4", "198.51.100.2:8080", "c1 "},
		{"same network directly", "c2", "tcp4", "172.31.250.2:80", "c1 172.31.250.3:"},
		{"other network directly is isolated", "c3", "tcp4", "172.31.250.2:80", ""},
		{"isolated the other way too", "c1", "tcp4", "172.31.251.2:80", ""},
		{"no dnat on the management address", "out", "tcp4", "203.0.113.2:8080", ""},
		{"loopback-only port from outside", "out", "tcp4", "198.51.100.2:8081", ""},
		{"loopback-only port on loopback", "ep", "tcp4", "127.0.0.1:8081", "c2 "},
		{"public-only port from outside", "out", "tcp4", "198.51.100.2:8082", "c2 198.51.100.10:"},
		{"public-only port not on loopback", "ep", "tcp4", "127.0.0.1:8082", ""},
		{"outbound is masqueraded", "c1", "tcp4", "198.51.100.10:9000", "out 198.51.100.2:"},
		{"outbound from the other network", "c3", "tcp4", "198.51.100.10:9000", "out 198.51.100.2:"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			tb.expect(t, c.from, c.network, c.addr, c.want)
		})
	}
}

func TestKernelRulesMatchModel(t *testing.T) {
	tb, a, _ := programmed(t)
	ctx := context.Background()
	if got, want := kernelRules(t, tb.epRun), wantRules(t, a.Model(), tbState); !slices.Equal(got, want) {
		t.Fatalf("iptables-save shows\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if got, want := kernelElements(t, a.maps), wantElements(t, a.Model(), tbState); !slices.Equal(got, want) {
		t.Fatalf("the port maps hold\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	assertClean(t, a)
	// What netlink programmed reads back in nft's own words as the model renders it.
	if listing, err := tb.epRun.Run(ctx, nil, "nft", "list", "table", "ip", TableName); err != nil {
		t.Logf("no nft to compare the table with: %v", err)
	} else if want, _ := a.Model().Elements(tbState); squeeze(string(listing)) != squeeze(tableText(want)) {
		t.Errorf("nft list table ip vic shows\n%s\nwant\n%s", listing, tableText(want))
	}
	out, err := tb.epRun.Run(ctx, nil, "iptables", "-S", "FORWARD")
	if err != nil {
		t.Fatal(err)
	}
	if got, want := string(out), "-P FORWARD DROP\n-A FORWARD -j DOCKER-USER\n-A FORWARD -j VIC-FWD\n"; got != want {
		t.Errorf("FORWARD is\n%swant DOCKER-USER first, then VIC-FWD appended:\n%s", got, want)
	}

	// Replaying the golden scenarios in random order through diffs ends in the same kernel
	// state as the last one rendered from scratch.
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 1))
	for _, i := range rng.Perm(len(scenarios)) {
		if err := a.Apply(ctx, scenarios[i].state); err != nil {
			t.Fatalf("applying %s: %v", scenarios[i].name, err)
		}
		if got, want := kernelRules(t, tb.epRun), wantRules(t, a.Model(), scenarios[i].state); !slices.Equal(got, want) {
			t.Fatalf("after %s, iptables-save shows\n%s\nwant\n%s", scenarios[i].name, strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
		if got, want := kernelElements(t, a.maps), wantElements(t, a.Model(), scenarios[i].state); !slices.Equal(got, want) {
			t.Fatalf("after %s, the port maps hold\n%s\nwant\n%s", scenarios[i].name, strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
	}
	assertClean(t, a)
}

// squeeze collapses runs of white space, so that nft's line breaks do not matter.
func squeeze(s string) string { return strings.Join(strings.Fields(s), " ") }

func TestKernelCheckDetectsFlushAndSyncRestores(t *testing.T) {
	tb, a, _ := programmed(t)
	ctx := context.Background()
	cases := []struct {
		name string
		brk  func(t *testing.T)
	}{
		{"forward chain flushed", func(t *testing.T) { tb.iptables(t, "-F", "VIC-FWD") }},
		{"forward jump removed", func(t *testing.T) { tb.iptables(t, "-D", "FORWARD", "-j", "VIC-FWD") }},
		{"nftables table deleted", func(t *testing.T) { tb.nft(t, "delete table ip vic") }},
		{"port map flushed", func(t *testing.T) { tb.nft(t, "flush map ip vic tcpports") }},
		{"prerouting chain flushed", func(t *testing.T) { tb.nft(t, "flush chain ip vic prerouting") }},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			c.brk(t)
			tb.expect(t, "out", "tcp4", "198.51.100.2:8080", "")
			d, err := a.Check(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if d.Clean() {
				t.Fatal("Check saw no drift after the rules were broken")
			}
			if err := a.Sync(ctx); err != nil {
				t.Fatal(err)
			}
			assertClean(t, a)
			tb.expect(t, "out", "tcp4", "198.51.100.2:8080", "c1 ")
		})
	}
}

func TestKernelWatchRepairs(t *testing.T) {
	tb, a, _ := programmed(t)
	ctx, cancel := context.WithCancel(context.Background())
	type report struct {
		d   Drift
		err error
	}
	reports := make(chan report, 10)
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		a.Watch(ctx, 100*time.Millisecond, func(d Drift, err error) {
			select {
			case reports <- report{d, err}:
			default:
			}
		})
	}()
	defer func() { cancel(); <-stopped }()
	tb.iptables(t, "-F", "VIC-FWD")
	tb.iptables(t, "-t", "nat", "-F", "VIC-POST")
	select {
	case r := <-reports:
		if r.err != nil {
			t.Fatalf("watch: %v", r.err)
		}
		if len(r.d.Missing) == 0 {
			t.Errorf("watch reported %s, want missing rules", r.d)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("watch did not repair a flushed chain within 5 s")
	}
	// The two flushes may be repaired by two ticks: wait for the second.
	for deadline := time.Now().Add(2 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		d, err := a.Check(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if d.Clean() {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("still drifted 2 s after the first repair: %s", d)
		}
	}
	tb.expect(t, "c1", "tcp4", "198.51.100.10:9000", "out 198.51.100.2:")
}

// tbStateWithRange is tbState plus -p 20000-(20000+n-1) published to c3:80.
func tbStateWithRange(n int) State {
	s := State{Networks: tbState.Networks, Ports: slices.Clone(tbState.Ports)}
	for i := range n {
		s.Ports = append(s.Ports, tcp("", uint16(20000+i), "172.31.251.2", 80, "vbr1"))
	}
	return s
}

// Publishing 200 ports is one netlink transaction: no exec at all.
func TestKernelApply200PortsExecsNothing(t *testing.T) {
	tb, a, run := programmed(t)
	ctx := context.Background()
	many := tbStateWithRange(200)
	for _, step := range []struct {
		name  string
		state State
	}{{"add 200 ports", many}, {"remove 200 ports", tbState}} {
		before := run.n.Load()
		start := time.Now()
		if err := a.Apply(ctx, step.state); err != nil {
			t.Fatalf("%s: %v", step.name, err)
		}
		if n := run.n.Load() - before; n != 0 {
			t.Errorf("%s: %d execs, want none", step.name, n)
		}
		t.Logf("%s: %v", step.name, time.Since(start))
		if step.name == "add 200 ports" {
			tb.expect(t, "out", "tcp4", "198.51.100.2:20199", "c3 198.51.100.10:")
		}
	}
	assertClean(t, a)
	tb.expect(t, "out", "tcp4", "198.51.100.2:20199", "")
}

func TestKernelTeardown(t *testing.T) {
	tb, a, _ := programmed(t)
	ctx := context.Background()
	for range 2 {
		if err := a.Teardown(ctx); err != nil {
			t.Fatal(err)
		}
	}
	out, err := tb.epRun.Run(ctx, nil, "iptables-save")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(out), "VIC") {
		t.Errorf("iptables-save still mentions VIC after teardown:\n%s", out)
	}
	if !strings.Contains(string(out), "-A FORWARD -j DOCKER-USER") {
		t.Errorf("teardown removed DOCKER-USER's jump:\n%s", out)
	}
	if d, err := a.maps.Read(); err != nil || !slices.Equal(d.Missing, []string{"table ip vic"}) {
		t.Errorf("table ip vic is still there after teardown: %+v, %v", d, err)
	}
	tb.expect(t, "out", "tcp4", "198.51.100.2:8080", "")
}

func TestKernelInternalNetwork(t *testing.T) {
	tb, a, _ := programmed(t)
	internal := tbState
	internal.Networks = []BridgeNetwork{tbNet0, {Bridge: "vbr1", Subnet: tbNet1.Subnet, Internal: true}}
	internal.Ports = append(slices.Clone(tbState.Ports), tcp("", 9090, "172.31.251.2", 80, "vbr1"))
	if err := a.Apply(context.Background(), internal); err != nil {
		t.Fatal(err)
	}
	assertClean(t, a)
	cases := []struct {
		name, from, addr, want string
	}{
		{"no outbound", "c3", "198.51.100.10:9000", ""},
		{"no published port", "out", "198.51.100.2:9090", ""},
		{"not reachable from another network", "c1", "172.31.251.2:80", ""},
		{"cannot reach another network", "c3", "172.31.250.2:80", ""},
		{"other networks keep working", "out", "198.51.100.2:8080", "c1 198.51.100.10:"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			tb.expect(t, c.from, "tcp4", c.addr, c.want)
		})
	}
}

// A range bigger than one netlink transaction holds (a whole -p 20000-24999, twice over for
// the two host addresses) is published, synced and revoked whole.
func TestKernelLargeRangeSpansTransactions(t *testing.T) {
	tb, a, _ := programmed(t)
	ctx := context.Background()
	big := tbStateWithRange(5000)
	if err := a.Apply(ctx, big); err != nil {
		t.Fatal(err)
	}
	assertClean(t, a)
	tb.expect(t, "out", "tcp4", "198.51.100.2:24999", "c3 198.51.100.10:")
	tb.nft(t, "delete table ip vic")
	if err := a.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	assertClean(t, a)
	if got := len(kernelElements(t, a.maps)); got != 2*5000+6 {
		t.Errorf("after a sync the maps hold %d elements, want %d", got, 2*5000+6)
	}
	if err := a.Apply(ctx, tbState); err != nil {
		t.Fatal(err)
	}
	assertClean(t, a)
	tb.expect(t, "out", "tcp4", "198.51.100.2:24999", "")
	tb.expect(t, "out", "tcp4", "198.51.100.2:8080", "c1 198.51.100.10:")
}
