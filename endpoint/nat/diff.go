package nat

import (
	"fmt"
	"sort"
	"strings"
)

// dump is what iptables-save shows of the driver's chains and jumps.
type dump struct {
	chains map[string]bool // "table/chain" of the driver's chains that exist
	rules  []Rule          // rules of the driver's chains
	jumps  map[jump]int    // how often each jump appears
}

// parseSave reads iptables-save output, keeping only what concerns the driver.
func parseSave(text string) dump {
	d := dump{chains: make(map[string]bool), jumps: make(map[jump]int)}
	own := make(map[string]bool)
	for _, t := range tables {
		for _, c := range t.chains {
			own[t.name+"/"+c] = true
		}
	}
	table := ""
	for _, line := range strings.Split(text, "\n") {
		line = strings.TrimSpace(line)
		switch {
		case strings.HasPrefix(line, "*"):
			table = line[1:]
		case strings.HasPrefix(line, ":"):
			name, _, _ := strings.Cut(line[1:], " ")
			if own[table+"/"+name] {
				d.chains[table+"/"+name] = true
			}
		case strings.HasPrefix(line, "-A "):
			chain, spec, _ := strings.Cut(line[3:], " ")
			if own[table+"/"+chain] {
				d.rules = append(d.rules, Rule{Table: table, Chain: chain, Spec: spec})
				continue
			}
			j := jump{table, chain, spec}
			for _, want := range jumps {
				if j == want {
					d.jumps[j]++
				}
			}
		}
	}
	return d
}

// Drift is how the kernel differs from the wanted rules: lines prefixed by their table.
type Drift struct {
	Missing []string // wanted but absent: rules, jumps, or ":CHAIN" for a missing chain
	Extra   []string // present but not wanted: rules, or duplicate jumps
}

// Clean reports that the kernel holds exactly the wanted rules.
func (d Drift) Clean() bool { return len(d.Missing) == 0 && len(d.Extra) == 0 }

func (d Drift) String() string {
	if d.Clean() {
		return "no drift"
	}
	return fmt.Sprintf("%d missing, %d extra: %s", len(d.Missing), len(d.Extra),
		strings.Join(append(prefixAll("missing ", d.Missing), prefixAll("extra ", d.Extra)...), "; "))
}

func prefixAll(p string, in []string) []string {
	out := make([]string, len(in))
	for i, s := range in {
		out[i] = p + s
	}
	return out
}

// drift compares a dump with the wanted rules. Order inside a chain is ignored: every rule of
// a chain has a distinct match, so order changes nothing but the head rule of VIC-FWD, which
// only a full sync writes.
func drift(d dump, want []Rule) Drift {
	var out Drift
	for _, t := range tables {
		for _, c := range t.chains {
			if !d.chains[t.name+"/"+c] {
				out.Missing = append(out.Missing, t.name+": :"+c)
			}
		}
	}
	for _, j := range jumps {
		switch n := d.jumps[j]; {
		case n == 0:
			out.Missing = append(out.Missing, j.table+": "+j.String())
		case n > 1:
			for i := 1; i < n; i++ {
				out.Extra = append(out.Extra, j.table+": "+j.String())
			}
		}
	}
	del, add := diffRules(d.rules, want)
	for _, r := range add {
		out.Missing = append(out.Missing, r.Table+": "+r.String())
	}
	for _, r := range del {
		out.Extra = append(out.Extra, r.Table+": "+r.String())
	}
	return out
}

// diffRules returns the rules of have that want lacks (to delete) and the rules of want that
// have lacks (to add), counting duplicates.
func diffRules(have, want []Rule) (del, add []Rule) {
	count := make(map[Rule]int, len(have))
	for _, r := range have {
		count[r]++
	}
	for _, r := range want {
		if count[r] > 0 {
			count[r]--
			continue
		}
		add = append(add, r)
	}
	for _, r := range have {
		if count[r] > 0 {
			count[r]--
			del = append(del, r)
		}
	}
	return del, add
}

// diffIndex returns the rules the kernel holds that next lacks (to delete) and the rules of
// want that the kernel lacks (to add, in want's order).
func diffIndex(have, next index, want []Rule) (del, add []Rule) {
	for r := range have.refs {
		if next.refs[r] == 0 {
			del = append(del, r)
		}
	}
	for _, r := range want {
		if have.refs[r] == 0 {
			add = append(add, r)
		}
	}
	return sortRules(del), add
}

// diffBatch is the restore text of one change: deletions first, then additions.
func diffBatch(del, add []Rule) string {
	head := make(map[string][]string)
	for _, r := range del {
		head[r.Table] = append(head[r.Table], "-D "+r.Chain+" "+r.Spec)
	}
	return restoreText(add, head, false)
}

// syncBatch rebuilds the driver's chains from scratch and leaves each jump exactly once:
// missing jumps are appended (after the chains are declared), duplicates deleted.
func syncBatch(want []Rule, have map[jump]int) string {
	return restoreText(want, jumpFixes(have, 1), true)
}

// teardownBatch deletes every jump, then flushes and deletes the driver's chains.
func teardownBatch(have map[jump]int) string {
	head := jumpFixes(have, 0)
	for _, t := range tables {
		for _, c := range t.chains {
			head[t.name] = append(head[t.name], "-X "+c)
		}
	}
	return restoreText(nil, head, true)
}

// jumpFixes returns, per table, the lines that bring every jump to want occurrences.
func jumpFixes(have map[jump]int, want int) map[string][]string {
	out := make(map[string][]string)
	for _, j := range jumps {
		n := have[j]
		for ; n > want; n-- {
			out[j.table] = append(out[j.table], "-D "+j.chain+" "+j.spec)
		}
		for ; n < want; n++ {
			out[j.table] = append(out[j.table], j.String())
		}
	}
	return out
}

// sortRules orders rules for comparison in tests and reports.
func sortRules(in []Rule) []Rule {
	out := append([]Rule(nil), in...)
	sort.Slice(out, func(i, j int) bool {
		if out[i].Table != out[j].Table {
			return out[i].Table < out[j].Table
		}
		return out[i].String() < out[j].String()
	})
	return out
}
