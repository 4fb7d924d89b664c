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

func wantElements(t *testing.T, m *Model, s State) []string {
	t.Helper()
	elems, err := m.Elements(s)
	if err != nil {
		t.Fatal(err)
	}
	return elementLines(elems)
}

// kernelElements lists the elements the port maps (fake or real) hold.
func kernelElements(t *testing.T, maps PortMaps) []string {
	t.Helper()
	d, err := maps.Read()
	if err != nil {
		t.Fatal(err)
	}
	return elementLines(d.Elements)
}

// newTestApplier returns an applier on run and on fake port maps (see fakeOf).
func newTestApplier(t *testing.T, run Runner) *Applier {
	t.Helper()
	a, err := NewApplier(public, run, newFakeMaps())
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func fakeOf(a *Applier) *fakeMaps { return a.maps.(*fakeMaps) }

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
		if got, want := kernelElements(t, a.maps), wantElements(t, m, last.state); !slices.Equal(got, want) {
			t.Fatalf("seed %d, order %v: maps hold\n%s\nwant (%s)\n%s", seed, order,
				strings.Join(got, "\n"), last.name, strings.Join(want, "\n"))
		}
		assertClean(t, a)
	}
}

// Publishing ports is one map transaction and no iptables exec; a new network is one
// iptables-restore and no map transaction.
func TestApplierOneTransactionPerChange(t *testing.T) {
	ctx := context.Background()
	f := newFakeIptables()
	a := newTestApplier(t, f)
	base := State{Networks: []BridgeNetwork{netA}}
	if err := a.Apply(ctx, base); err != nil { // first apply: a sync (save + restore)
		t.Fatal(err)
	}
	many := base
	for i := range 200 {
		many.Ports = append(many.Ports, tcp("", uint16(10000+i), "172.31.250.2", uint16(10000+i), "vic-a"))
	}
	wider := State{Networks: []BridgeNetwork{netA, netB}, Ports: many.Ports}
	for _, step := range []struct {
		name                  string
		state                 State
		execs, mapTransaction int
	}{
		{"add 200 ports", many, 0, 1},
		{"same state again", many, 0, 0},
		{"add a network", wider, 1, 0},
		{"remove 200 ports", State{Networks: wider.Networks}, 0, 1},
		{"remove the network", base, 1, 0},
	} {
		execs, changes := f.callCount(), fakeOf(a).changeCount()
		if err := a.Apply(ctx, step.state); err != nil {
			t.Fatalf("%s: %v", step.name, err)
		}
		if got := f.callCount() - execs; got != step.execs {
			t.Errorf("%s: %d iptables execs, want %d", step.name, got, step.execs)
		}
		if got := fakeOf(a).changeCount() - changes; got != step.mapTransaction {
			t.Errorf("%s: %d map transactions, want %d", step.name, got, step.mapTransaction)
		}
	}
	assertClean(t, a)
}

// A firewall reload flushes iptables chains and deletes nftables tables: Check names what is
// missing, and the next change falls back to a full sync.
func TestApplierRecoversFromFlush(t *testing.T) {
	ctx := context.Background()
	m, _ := NewModel(public)
	f := newFakeIptables()
	a := newTestApplier(t, f)
	one := scenarios[2].state // port-any-host-ip
	if err := a.Apply(ctx, one); err != nil {
		t.Fatal(err)
	}
	f.exec("*filter\n-F VIC-FWD\n-D FORWARD -j VIC-FWD\nCOMMIT\n")
	fakeOf(a).deleteTable()

	d, err := a.Check(ctx)
	if err != nil {
		t.Fatal(err)
	}
	wantMissing := []string{
		"filter: -A FORWARD -j VIC-FWD",
		"filter: -A VIC-FWD -i vic-a -o vic-a -j ACCEPT",
		"filter: -A VIC-FWD -i vic-a ! -o vic-a -j ACCEPT",
		"filter: -A VIC-FWD -m conntrack ! --ctstate DNAT -j VIC-ISO",
		"filter: -A VIC-FWD -o vic-a -m conntrack --ctstate DNAT -j ACCEPT",
		"filter: -A VIC-FWD -o vic-a -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT",
		"nftables: table ip vic",
	}
	slices.Sort(wantMissing)
	if got := slices.Sorted(slices.Values(d.Missing)); !slices.Equal(got, wantMissing) || len(d.Extra) != 0 {
		t.Fatalf("Check after flush = %s, want missing\n%s", d, strings.Join(wantMissing, "\n"))
	}

	// Publishing one more port finds no table and falls back to a full sync.
	more := tcp("", 8081, "172.31.250.3", 80, "vic-a")
	if err := a.ChangePorts(ctx, []Mapping{more}, nil); err != nil {
		t.Fatal(err)
	}
	want := State{Networks: one.Networks, Ports: append(slices.Clone(one.Ports), more)}
	if got, want := kernelRules(t, f), wantRules(t, m, want); !slices.Equal(got, want) {
		t.Fatalf("kernel after recovery:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if got, want := kernelElements(t, a.maps), wantElements(t, m, want); !slices.Equal(got, want) {
		t.Fatalf("maps after recovery:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	assertClean(t, a)
}

// An endpoint upgraded from the version that DNATed with iptables rules loses the old chain
// and its jumps at its first sync.
func TestSyncRemovesLegacyDNATChain(t *testing.T) {
	ctx := context.Background()
	f := newFakeIptables()
	f.exec("*nat\n:VIC - [0:0]\n-A PREROUTING -m addrtype --dst-type LOCAL -j VIC\n" +
		"-A OUTPUT -m addrtype --dst-type LOCAL -j VIC\n" +
		"-A VIC -d 198.51.100.2/32 -p tcp -m tcp --dport 8080 -j DNAT --to-destination 172.31.250.2:80\nCOMMIT\n")
	a := newTestApplier(t, f)
	d, err := a.Check(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(d.Extra, "nat: -X VIC") {
		t.Errorf("Check before the sync = %s, want the legacy chain as extra", d)
	}
	if err := a.Apply(ctx, scenarios[2].state); err != nil {
		t.Fatal(err)
	}
	if _, ok := f.tables["nat"]["VIC"]; ok {
		t.Error("the legacy chain VIC is still there")
	}
	for _, c := range []string{"PREROUTING", "OUTPUT"} {
		if rules := f.tables["nat"][c]; len(rules) != 0 {
			t.Errorf("nat %s still holds %q", c, rules)
		}
	}
	assertClean(t, a)
}

func TestSyncLeavesEachJumpOnce(t *testing.T) {
	ctx := context.Background()
	f := newFakeIptables()
	f.exec("*filter\n:DOCKER-USER - [0:0]\n:VIC-FWD - [0:0]\n-A FORWARD -j DOCKER-USER\n-A FORWARD -j VIC-FWD\n-A FORWARD -j VIC-FWD\nCOMMIT\n")
	a := newTestApplier(t, f)
	if err := a.Apply(ctx, State{Networks: []BridgeNetwork{netA}}); err != nil {
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
	if d, _ := a.maps.Read(); !slices.Equal(d.Missing, []string{"table ip vic"}) {
		t.Errorf("table ip vic left behind: %+v", d)
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
	before, changes := f.callCount(), fakeOf(a).changeCount()
	bad := scenarios[2].state
	bad.Ports = append(slices.Clone(bad.Ports), tcp("203.0.113.2", 80, "172.31.250.2", 80, "vic-a"))
	err := a.Apply(ctx, bad)
	if err == nil || !strings.Contains(err.Error(), "host ip 203.0.113.2") {
		t.Fatalf("Apply(management host ip) = %v, want a host ip error", err)
	}
	if f.callCount() != before || fakeOf(a).changeCount() != changes {
		t.Errorf("a refused state ran %d commands and %d map transactions", f.callCount()-before, fakeOf(a).changeCount()-changes)
	}
	if fmt.Sprint(a.Desired()) != fmt.Sprint(scenarios[2].state) {
		t.Errorf("a refused state replaced the desired one")
	}
	assertClean(t, a)
}

// Publishing one more container with a thousand published writes only its elements, and an
// element two mappings share stays until both are gone.
func TestApplierPortChangesAreIncremental(t *testing.T) {
	ctx := context.Background()
	f := newFakeIptables()
	a := newTestApplier(t, f)
	fm := fakeOf(a)
	m, _ := NewModel(public)
	s := State{Networks: []BridgeNetwork{netA}}
	for i := range 1000 {
		s.Ports = append(s.Ports, tcp("", uint16(20000+i), "172.31.250.2", uint16(20000+i), "vic-a"))
	}
	if err := a.Apply(ctx, s); err != nil {
		t.Fatal(err)
	}
	execs := f.callCount()
	twice := tcp("", 8080, "172.31.250.3", 80, "vic-a")
	shared := append(slices.Clone(s.Ports), twice, twice, tcp("", 8081, "172.31.250.3", 80, "vic-a"))
	if err := a.Apply(ctx, State{Networks: s.Networks, Ports: shared}); err != nil {
		t.Fatal(err)
	}
	wantAdd := []string{
		"tcpports 127.0.0.1 . 8080 : 172.31.250.3 . 80", "tcpports 198.51.100.2 . 8080 : 172.31.250.3 . 80",
		"tcpports 127.0.0.1 . 8081 : 172.31.250.3 . 80", "tcpports 198.51.100.2 . 8081 : 172.31.250.3 . 80",
	}
	if got := elementLines(fm.lastAdd); !slices.Equal(got, wantAdd) || len(fm.lastDel) != 0 {
		t.Fatalf("adding three mappings wrote +%q -%q, want +%q", got, elementLines(fm.lastDel), wantAdd)
	}
	// Revoke one of the two identical mappings: their elements must stay.
	one := State{Networks: s.Networks, Ports: slices.Delete(slices.Clone(shared), len(shared)-2, len(shared)-1)}
	before := fm.changeCount()
	if err := a.Apply(ctx, one); err != nil {
		t.Fatal(err)
	}
	if fm.changeCount() != before {
		t.Fatalf("revoking one of two identical mappings changed the maps: -%q", elementLines(fm.lastDel))
	}
	if got, want := kernelElements(t, fm), wantElements(t, m, one); !slices.Equal(got, want) {
		t.Fatalf("maps hold %d elements, want %d", len(got), len(want))
	}
	// A host port published to another container is refused and changes nothing.
	clash := State{Networks: s.Networks, Ports: append(slices.Clone(one.Ports), tcp("", 8080, "172.31.250.4", 80, "vic-a"))}
	err := a.Apply(ctx, clash)
	if err == nil || !strings.Contains(err.Error(), "port 198.51.100.2:8080/tcp: published twice, to 172.31.250.3:80 and 172.31.250.4:80") {
		t.Fatalf("clash: %v", err)
	}
	if fm.changeCount() != before || f.callCount() != execs {
		t.Fatal("a refused change touched the kernel")
	}
	// Moving a host port to another container is one transaction: delete, then add.
	moved := State{Networks: s.Networks, Ports: append(slices.Clone(s.Ports), tcp("", 8080, "172.31.250.4", 80, "vic-a"))}
	if err := a.Apply(ctx, moved); err != nil {
		t.Fatal(err)
	}
	if got, want := kernelElements(t, fm), wantElements(t, m, moved); !slices.Equal(got, want) {
		t.Fatalf("after moving 8080 the maps differ from the model")
	}
	if f.callCount() != execs {
		t.Errorf("port changes ran %d iptables commands, want none", f.callCount()-execs)
	}
	assertClean(t, a)
}

func BenchmarkApplyOneMappingAmong1000(b *testing.B) {
	ctx := context.Background()
	a, _ := NewApplier(public, newFakeIptables(), newFakeMaps())
	s := State{Networks: []BridgeNetwork{netA}}
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

// A new applier (a restarted daemon that lost its state) reads what the kernel publishes
// without changing it.
func TestApplierPublishedReadsTheKernel(t *testing.T) {
	ctx := context.Background()
	m, _ := NewModel(public)
	first := newTestApplier(t, newFakeIptables())
	s := State{Networks: []BridgeNetwork{netA}, Ports: []Mapping{tcp("", 8080, "172.31.250.2", 80, "vic-a")}}
	if err := first.Apply(ctx, s); err != nil {
		t.Fatal(err)
	}
	again, err := NewApplier(public, newFakeIptables(), first.maps)
	if err != nil {
		t.Fatal(err)
	}
	got, err := again.Published()
	if err != nil {
		t.Fatal(err)
	}
	if want := wantElements(t, m, s); !slices.Equal(elementLines(got), want) {
		t.Fatalf("Published() = %q, want %q", elementLines(got), want)
	}
	if fakeOf(again).changeCount() != fakeOf(first).changeCount() {
		t.Fatal("reading the published ports changed the kernel")
	}
}
