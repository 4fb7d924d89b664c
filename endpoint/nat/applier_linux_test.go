package nat

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

// kernelRules lists the rules of the driver's chains that the kernel (fake or real) holds,
// sorted, one "table: -A CHAIN spec" line each.
func kernelRules(t *testing.T, run Runner) []string {
	t.Helper()
	out, err := run.Run(context.Background(), nil, "iptables-save")
	if err != nil {
		t.Fatal(err)
	}
	return ruleLines(parseSave(string(out)).rules)
}

func ruleLines(rules []Rule) []string {
	var out []string
	for _, r := range sortRules(rules) {
		out = append(out, r.Table+": "+r.String())
	}
	return out
}

func wantRules(t *testing.T, m *Model, s State) []string {
	t.Helper()
	rules, err := m.Rules(s)
	if err != nil {
		t.Fatal(err)
	}
	return ruleLines(rules)
}

func newTestApplier(t *testing.T, run Runner) *Applier {
	t.Helper()
	a, err := NewApplier(public, run)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func assertClean(t *testing.T, a *Applier) {
	t.Helper()
	d, err := a.Check(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if !d.Clean() {
		t.Fatalf("kernel drifted from the desired state: %s", d)
	}
}

func TestApplierReplayInRandomOrder(t *testing.T) {
	ctx := context.Background()
	m, _ := NewModel(public)
	for seed := range uint64(25) {
		rng := rand.New(rand.NewPCG(seed, 7))
		f := newFakeIptables()
		a := newTestApplier(t, f)
		order := rng.Perm(len(scenarios))
		for _, i := range order {
			if err := a.Apply(ctx, scenarios[i].state); err != nil {
				t.Fatalf("seed %d: applying %s: %v", seed, scenarios[i].name, err)
			}
		}
		last := scenarios[order[len(order)-1]]
		if got, want := kernelRules(t, f), wantRules(t, m, last.state); !slices.Equal(got, want) {
			t.Fatalf("seed %d, order %v: kernel holds\n%s\nwant (%s)\n%s", seed, order,
				strings.Join(got, "\n"), last.name, strings.Join(want, "\n"))
		}
		assertClean(t, a)
	}
}

func TestApplierOneExecPerChange(t *testing.T) {
	ctx := context.Background()
	f := newFakeIptables()
	a := newTestApplier(t, f)
	base := State{Networks: []Network{netA}}
	if err := a.Apply(ctx, base); err != nil { // first apply: a sync (save + restore)
		t.Fatal(err)
	}
	many := base
	for i := range 200 {
		many.Ports = append(many.Ports, tcp("", uint16(10000+i), "172.31.250.2", uint16(10000+i), "vic-a"))
	}
	for _, step := range []struct {
		name  string
		state State
		execs int
	}{
		{"add 200 ports", many, 1},
		{"same state again", many, 0},
		{"remove 200 ports", base, 1},
	} {
		before := f.callCount()
		if err := a.Apply(ctx, step.state); err != nil {
			t.Fatalf("%s: %v", step.name, err)
		}
		if got := f.callCount() - before; got != step.execs {
			t.Errorf("%s: %d execs, want %d", step.name, got, step.execs)
		}
	}
	assertClean(t, a)
}

func TestApplierRecoversFromFlush(t *testing.T) {
	ctx := context.Background()
	m, _ := NewModel(public)
	f := newFakeIptables()
	a := newTestApplier(t, f)
	one := scenarios[2].state // port-any-host-ip
	if err := a.Apply(ctx, one); err != nil {
		t.Fatal(err)
	}
	f.exec("*nat\n-F VIC\n-D PREROUTING -m addrtype --dst-type LOCAL -j VIC\nCOMMIT\n")

	d, err := a.Check(ctx)
	if err != nil {
		t.Fatal(err)
	}
	wantMissing := []string{
		"nat: -A PREROUTING -m addrtype --dst-type LOCAL -j VIC",
		"nat: -A VIC -d 198.51.100.2/32 -p tcp -m tcp --dport 8080 -j DNAT --to-destination 172.31.250.2:80",
		"nat: -A VIC -d 127.0.0.1/32 -p tcp -m tcp --dport 8080 -j DNAT --to-destination 172.31.250.2:80",
	}
	if !slices.Equal(d.Missing, wantMissing) || len(d.Extra) != 0 {
		t.Fatalf("Check after flush = %s, want missing %q", d, wantMissing)
	}

	// A change whose -D lines no longer match falls back to a full sync.
	if err := a.Apply(ctx, State{Networks: one.Networks}); err != nil {
		t.Fatal(err)
	}
	if got, want := kernelRules(t, f), wantRules(t, m, State{Networks: one.Networks}); !slices.Equal(got, want) {
		t.Fatalf("kernel after recovery:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	assertClean(t, a)
}

func TestSyncLeavesEachJumpOnce(t *testing.T) {
	ctx := context.Background()
	f := newFakeIptables()
	f.exec("*filter\n:DOCKER-USER - [0:0]\n:VIC-FWD - [0:0]\n-A FORWARD -j DOCKER-USER\n-A FORWARD -j VIC-FWD\n-A FORWARD -j VIC-FWD\nCOMMIT\n")
	a := newTestApplier(t, f)
	if err := a.Apply(ctx, State{Networks: []Network{netA}}); err != nil {
		t.Fatal(err)
	}
	if got := f.tables["filter"]["FORWARD"]; !slices.Equal(got, []string{"-j DOCKER-USER", "-j VIC-FWD"}) {
		t.Errorf("FORWARD = %q, want DOCKER-USER first and one jump to VIC-FWD", got)
	}
	assertClean(t, a)
}

func TestTeardownRemovesChainsAndJumps(t *testing.T) {
	ctx := context.Background()
	f := newFakeIptables()
	a := newTestApplier(t, f)
	if err := a.Apply(ctx, scenarios[4].state); err != nil {
		t.Fatal(err)
	}
	for range 2 { // idempotent
		if err := a.Teardown(ctx); err != nil {
			t.Fatal(err)
		}
	}
	for table, chains := range f.tables {
		for c, rules := range chains {
			if !slices.Contains(builtin[table], c) {
				t.Errorf("chain %s/%s left behind", table, c)
			}
			if len(rules) > 0 {
				t.Errorf("rules left in %s/%s: %q", table, c, rules)
			}
		}
	}
	// The desired state survives: a sync programs it again.
	if err := a.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	assertClean(t, a)
}

func TestApplyRefusesBadStateWithoutChange(t *testing.T) {
	ctx := context.Background()
	f := newFakeIptables()
	a := newTestApplier(t, f)
	if err := a.Apply(ctx, scenarios[2].state); err != nil {
		t.Fatal(err)
	}
	before := f.callCount()
	bad := scenarios[2].state
	bad.Ports = append(slices.Clone(bad.Ports), tcp("203.0.113.2", 80, "172.31.250.2", 80, "vic-a"))
	err := a.Apply(ctx, bad)
	if err == nil || !strings.Contains(err.Error(), "host ip 203.0.113.2") {
		t.Fatalf("Apply(management host ip) = %v, want a host ip error", err)
	}
	if f.callCount() != before {
		t.Errorf("a refused state ran %d commands", f.callCount()-before)
	}
	if fmt.Sprint(a.Desired()) != fmt.Sprint(scenarios[2].state) {
		t.Errorf("a refused state replaced the desired one")
	}
	assertClean(t, a)
}

// lastBatch remembers the stdin of the last iptables-restore.
type lastBatch struct {
	Runner
	text string
}

func (l *lastBatch) Run(ctx context.Context, stdin []byte, name string, args ...string) ([]byte, error) {
	if name == "iptables-restore" {
		l.text = string(stdin)
	}
	return l.Runner.Run(ctx, stdin, name, args...)
}

// Publishing one more container with a thousand published renders and writes only its rules,
// and a rule two mappings share stays until both are gone.
func TestApplierPortChangesAreIncremental(t *testing.T) {
	ctx := context.Background()
	run := &lastBatch{Runner: newFakeIptables()}
	a := newTestApplier(t, run)
	m, _ := NewModel(public)
	s := State{Networks: []Network{netA}}
	for i := range 1000 {
		s.Ports = append(s.Ports, tcp("", uint16(20000+i), "172.31.250.2", uint16(20000+i), "vic-a"))
	}
	if err := a.Apply(ctx, s); err != nil {
		t.Fatal(err)
	}
	shared := append(slices.Clone(s.Ports), tcp("", 8080, "172.31.250.3", 80, "vic-a"), tcp("", 8081, "172.31.250.3", 80, "vic-a"))
	one := State{Networks: s.Networks, Ports: shared}
	if err := a.Apply(ctx, one); err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(run.text, "\n-A "); n != 5 {
		t.Fatalf("adding two mappings wrote %d rules, want 5 (2x2 DNAT, 1 shared forward):\n%s", n, run.text)
	}
	// Revoke one of the two: the shared forward rule must stay.
	two := State{Networks: s.Networks, Ports: shared[:len(shared)-1]}
	if err := a.Apply(ctx, two); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(run.text, "VIC-FWD") {
		t.Fatalf("the forward rule still used by 8080 was deleted:\n%s", run.text)
	}
	if got, want := kernelRules(t, run), wantRules(t, m, two); !slices.Equal(got, want) {
		t.Fatalf("kernel holds\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	// A host port published to another container is refused and changes nothing.
	clash := State{Networks: s.Networks, Ports: append(slices.Clone(two.Ports), tcp("", 8080, "172.31.250.4", 80, "vic-a"))}
	err := a.Apply(ctx, clash)
	if err == nil || !strings.Contains(err.Error(), "port 198.51.100.2:8080/tcp: published twice, to 172.31.250.3:80 and 172.31.250.4:80") {
		t.Fatalf("clash: %v", err)
	}
	if got, want := kernelRules(t, run), wantRules(t, m, two); !slices.Equal(got, want) {
		t.Fatal("a refused change touched the kernel")
	}
	assertClean(t, a)
}

func BenchmarkApplyOneMappingAmong1000(b *testing.B) {
	ctx := context.Background()
	a, _ := NewApplier(public, newFakeIptables())
	s := State{Networks: []Network{netA}}
	for i := range 1000 {
		s.Ports = append(s.Ports, tcp("", uint16(20000+i), "172.31.250.2", uint16(20000+i), "vic-a"))
	}
	_ = a.Apply(ctx, s)
	more := State{Networks: s.Networks, Ports: append(slices.Clone(s.Ports), tcp("", 8080, "172.31.250.3", 80, "vic-a"))}
	for b.Loop() {
		_ = a.Apply(ctx, more)
		_ = a.Apply(ctx, s)
	}
}
