package nat

import (
	"context"
	"fmt"
	"maps"
	"net/netip"
	"slices"
	"sort"
	"strings"
	"sync"
)

// fakeIptables is an in-memory iptables that understands what the applier sends:
// iptables-save, and iptables-restore --noflush with ":CHAIN" (create or flush), -A, -D, -X
// and a commit per table, as the nf_tables backend does (a failed table leaves the tables
// committed before it).
type fakeIptables struct {
	mu     sync.Mutex
	tables map[string]map[string][]string // table -> chain -> rule specs
	calls  []string                       // command names, in order
}

var builtin = map[string][]string{
	"filter": {"INPUT", "FORWARD", "OUTPUT"},
	"nat":    {"PREROUTING", "INPUT", "OUTPUT", "POSTROUTING"},
}

func newFakeIptables() *fakeIptables {
	f := &fakeIptables{tables: make(map[string]map[string][]string)}
	for t, chains := range builtin {
		f.tables[t] = make(map[string][]string)
		for _, c := range chains {
			f.tables[t][c] = nil
		}
	}
	return f
}

func (f *fakeIptables) Run(_ context.Context, stdin []byte, name string, _ ...string) ([]byte, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, name)
	switch name {
	case "iptables-save":
		return []byte(f.save()), nil
	case "iptables-restore":
		return nil, f.restore(string(stdin))
	}
	return nil, fmt.Errorf("fake iptables: unknown command %q", name)
}

func (f *fakeIptables) callCount() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.calls)
}

func (f *fakeIptables) save() string {
	var sb strings.Builder
	for _, t := range []string{"filter", "nat"} {
		sb.WriteString("*" + t + "\n")
		chains := make([]string, 0, len(f.tables[t]))
		for c := range f.tables[t] {
			chains = append(chains, c)
		}
		sort.Strings(chains)
		for _, c := range chains {
			policy := "-"
			if slices.Contains(builtin[t], c) {
				policy = "ACCEPT"
			}
			fmt.Fprintf(&sb, ":%s %s [0:0]\n", c, policy)
		}
		for _, c := range chains {
			for _, r := range f.tables[t][c] {
				fmt.Fprintf(&sb, "-A %s %s\n", c, r)
			}
		}
		sb.WriteString("COMMIT\n")
	}
	return sb.String()
}

func (f *fakeIptables) restore(text string) error {
	var table string
	var work map[string][]string
	for n, line := range strings.Split(text, "\n") {
		line = strings.TrimSpace(line)
		fail := func(why string) error {
			return fmt.Errorf("iptables-restore: line %d failed: %s", n+1, why)
		}
		switch {
		case line == "" || strings.HasPrefix(line, "#"):
		case strings.HasPrefix(line, "*"):
			table = line[1:]
			work = make(map[string][]string)
			for c, rules := range f.tables[table] {
				work[c] = slices.Clone(rules)
			}
		case line == "COMMIT":
			f.tables[table] = work
		case strings.HasPrefix(line, ":"):
			name, _, _ := strings.Cut(line[1:], " ")
			work[name] = nil
		case strings.HasPrefix(line, "-A "), strings.HasPrefix(line, "-D "):
			chain, spec, _ := strings.Cut(line[3:], " ")
			rules, ok := work[chain]
			if !ok {
				return fail("chain does not exist")
			}
			if line[1] == 'A' {
				work[chain] = append(rules, spec)
				continue
			}
			i := slices.Index(rules, spec)
			if i < 0 {
				return fail("bad rule (does a matching rule exist in that chain?)")
			}
			work[chain] = slices.Delete(rules, i, i+1)
		case strings.HasPrefix(line, "-X "):
			chain := line[3:]
			if len(work[chain]) > 0 {
				return fail("chain is not empty")
			}
			delete(work, chain)
		case strings.HasPrefix(line, "-F "):
			work[line[3:]] = nil
		default:
			return fail("unknown line " + line)
		}
	}
	return nil
}

// exec runs a restore batch directly, as an admin or a firewall reload would.
func (f *fakeIptables) exec(batch string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.restore(batch); err != nil {
		panic(err)
	}
}

// fakeMaps is an in-memory PortMaps that refuses what the kernel refuses: changes to a missing
// table, deleting an element that is not there, adding a key that maps elsewhere. A refused
// transaction changes nothing.
type fakeMaps struct {
	mu      sync.Mutex
	present bool
	elems   map[pubKey]netip.AddrPort
	changes int // transactions written, Sync included
	lastDel []Element
	lastAdd []Element
}

func newFakeMaps() *fakeMaps { return &fakeMaps{elems: map[pubKey]netip.AddrPort{}} }

func (f *fakeMaps) Sync(elems []Element) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.changes++
	f.present, f.elems = true, map[pubKey]netip.AddrPort{}
	for _, e := range elems {
		f.elems[e.key()] = e.Target
	}
	return nil
}

func (f *fakeMaps) Change(del, add []Element) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.present {
		return fmt.Errorf("fake maps: no table ip vic")
	}
	next := maps.Clone(f.elems)
	for _, e := range del {
		if _, ok := next[e.key()]; !ok {
			return fmt.Errorf("fake maps: deleting %s: no such element", e)
		}
		delete(next, e.key())
	}
	for _, e := range add {
		if t, ok := next[e.key()]; ok && t != e.Target {
			return fmt.Errorf("fake maps: adding %s: key maps to %s", e, t)
		}
		next[e.key()] = e.Target
	}
	f.elems, f.changes, f.lastDel, f.lastAdd = next, f.changes+1, del, add
	return nil
}

func (f *fakeMaps) Read() (MapsDump, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.present {
		return MapsDump{Missing: []string{"table ip vic"}}, nil
	}
	var d MapsDump
	for k, t := range f.elems {
		d.Elements = append(d.Elements, Element{Proto: k.proto, Host: netip.AddrPortFrom(k.addr, k.port), Target: t})
	}
	return d, nil
}

func (f *fakeMaps) Teardown() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.present, f.elems = false, map[pubKey]netip.AddrPort{}
	return nil
}

// deleteTable is `nft delete table ip vic`.
func (f *fakeMaps) deleteTable() { _ = f.Teardown() }

func (f *fakeMaps) changeCount() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.changes
}

// elementLines lists the elements, sorted, one Element.String each.
func elementLines(elems []Element) []string {
	var out []string
	for _, e := range sortElements(elems) {
		out = append(out, e.String())
	}
	return out
}
