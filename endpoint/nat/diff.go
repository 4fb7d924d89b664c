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
	jumps  map[jump]int    // how often each jump (or legacy jump) appears
	legacy bool            // the legacy chain exists
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
			d.legacy = d.legacy || table == "nat" && name == legacyChain
		case strings.HasPrefix(line, "-A "):
			chain, spec, _ := strings.Cut(line[3:], " ")
			if own[table+"/"+chain] {
				d.rules = append(d.rules, Rule{Table: table, Chain: chain, Spec: spec})
				continue
			}
			j := jump{table, chain, spec}
			for _, want := range append(jumps[:len(jumps):len(jumps)], legacyJumps...) {
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
	for _, l := range legacyLines(d) {
		out.Extra = append(out.Extra, "nat: "+l)
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
	for r := range have.rules {
		if !next.rules[r] {
			del = append(del, r)
		}
	}
	for _, r := range want {
		if !have.rules[r] {
			add = append(add, r)
		}
	}
	return sortRules(del), add
}

// diffElements returns the elements the kernel holds that next lacks or maps elsewhere (to
// delete) and the elements of next the kernel lacks (to add).
func diffElements(have, next index) (del, add []Element) {
	for k, pub := range have.published {
		if now, ok := next.published[k]; !ok || !sameTarget(now.m, pub.m) {
			del = append(del, elementOf(k, pub.m))
		}
	}
	for k, pub := range next.published {
		if was, ok := have.published[k]; !ok || !sameTarget(was.m, pub.m) {
			add = append(add, elementOf(k, pub.m))
		}
	}
	return sortElements(del), sortElements(add)
}

// addMaps adds to the drift what the port maps lack or hold besides the elements want.
func (d *Drift) addMaps(md MapsDump, want []Element) {
	for _, s := range md.Missing {
		d.Missing = append(d.Missing, "nftables: "+s)
	}
	for _, s := range md.Extra {
		d.Extra = append(d.Extra, "nftables: "+s)
	}
	if len(md.Missing) > 0 && strings.HasPrefix(md.Missing[0], "table ") {
		return // no table: its elements are not worth listing one by one
	}
	have := make(map[Element]int, len(md.Elements))
	for _, e := range md.Elements {
		have[e]++
	}
	for _, e := range want {
		if have[e] > 0 {
			have[e]--
			continue
		}
		d.Missing = append(d.Missing, "nftables: element "+e.String())
	}
	for _, e := range sortElements(md.Elements) {
		if have[e] > 0 {
			have[e]--
			d.Extra = append(d.Extra, "nftables: element "+e.String())
		}
	}
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
// missing jumps are appended (after the chains are declared), duplicates deleted, and what
// an earlier version left removed.
func syncBatch(want []Rule, d dump) string {
	head := jumpFixes(d.jumps, 1)
	head["nat"] = append(head["nat"], legacyLines(d)...)
	return restoreText(want, head, true)
}

// teardownBatch deletes every jump, then flushes and deletes the driver's chains.
func teardownBatch(d dump) string {
	head := jumpFixes(d.jumps, 0)
	head["nat"] = append(head["nat"], legacyLines(d)...)
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

// legacyLines are the nat lines that remove the legacy chain and its jumps, if any.
func legacyLines(d dump) []string {
	var out []string
	for _, j := range legacyJumps {
		for range d.jumps[j] {
			out = append(out, "-D "+j.chain+" "+j.spec)
		}
	}
	if d.legacy {
		out = append(out, "-F "+legacyChain, "-X "+legacyChain)
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
