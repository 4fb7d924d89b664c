package nat

import (
	"context"
	"fmt"
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
