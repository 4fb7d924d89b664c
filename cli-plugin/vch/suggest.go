package vch

import (
	"fmt"
	"sort"
	"strings"
)

// maxListed is how many names an error lists before it stops.
const maxListed = 8

// suggest returns "; did you mean ...?" naming the candidates close to value (a small edit
// distance, or one name inside the other, ignoring case), or, when none is close and there are
// few, "; choose one of ...". It returns "" when there is nothing useful to say.
func suggest(value string, candidates []string) string {
	close := closeNames(value, candidates)
	switch {
	case len(close) > 0:
		return "; did you mean " + quoteListOr(close) + "?"
	case len(candidates) > 0 && len(candidates) <= maxListed:
		return "; choose one of " + quoteList(candidates)
	}
	return ""
}

// closeNames returns up to three candidates close to value, closest first.
func closeNames(value string, candidates []string) []string {
	v := strings.ToLower(value)
	type scored struct {
		name string
		dist int
	}
	var found []scored
	for _, c := range candidates {
		lc := strings.ToLower(c)
		d := editDistance(v, lc)
		limit := max(1, min(3, len(v)/3))
		switch {
		case d <= limit:
		case v != "" && (strings.Contains(lc, v) || strings.Contains(v, lc)):
			d = limit + 1 + abs(len(lc)-len(v))
		default:
			continue
		}
		found = append(found, scored{c, d})
	}
	sort.SliceStable(found, func(i, j int) bool {
		if found[i].dist != found[j].dist {
			return found[i].dist < found[j].dist
		}
		return found[i].name < found[j].name
	})
	var out []string
	for i := 0; i < len(found) && i < 3; i++ {
		out = append(out, found[i].name)
	}
	return out
}

// editDistance is the Levenshtein distance between a and b, counted in runes.
func editDistance(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	prev := make([]int, len(rb)+1)
	cur := make([]int, len(rb)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(ra); i++ {
		cur[0] = i
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(rb)]
}

func abs(n int) int {
	if n < 0 {
		return -n
	}
	return n
}

// quoteList renders names as `"a", "b", "c"`, cut after maxListed.
func quoteList(names []string) string {
	return joinQuoted(names, ", ")
}

// quoteListOr renders names as `"a", "b" or "c"`.
func quoteListOr(names []string) string {
	if len(names) <= 1 {
		return joinQuoted(names, "")
	}
	return joinQuoted(names[:len(names)-1], ", ") + " or " + fmt.Sprintf("%q", names[len(names)-1])
}

func joinQuoted(names []string, sep string) string {
	var b strings.Builder
	for i, n := range names {
		if i == maxListed {
			fmt.Fprintf(&b, " and %d more", len(names)-maxListed)
			break
		}
		if i > 0 {
			b.WriteString(sep)
		}
		fmt.Fprintf(&b, "%q", n)
	}
	return b.String()
}
