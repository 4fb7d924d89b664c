package nat

import (
	"fmt"
	"net/netip"
	"sort"
	"strings"
)

// Rule is one rule of the driver's chains, written exactly as iptables-save prints it, so
// that the kernel's dump can be compared with the model line by line.
type Rule struct {
	Table string // "nat" or "filter"
	Chain string
	Spec  string // the match and target, without "-A CHAIN"
}

// String is the rule as an iptables-save / iptables-restore line.
func (r Rule) String() string { return "-A " + r.Chain + " " + r.Spec }

// tables lists the driver's tables and chains in rendering order.
var tables = []struct {
	name   string
	chains []string
}{
	{"nat", []string{ChainPost}},
	{"filter", []string{ChainForward, ChainIsolate, ChainIsolate2}},
}

// jump is a rule in a built-in chain that enters one of the driver's chains. Each must exist
// exactly once.
type jump struct {
	table, chain, spec string
}

func (j jump) String() string { return "-A " + j.chain + " " + j.spec }

// jumps are the entries into the driver's chains. FORWARD's is appended, never inserted:
// Docker keeps DOCKER-USER on top of FORWARD.
var jumps = []jump{
	{"nat", "POSTROUTING", "-j " + ChainPost},
	{"filter", "FORWARD", "-j " + ChainForward},
}

// legacyChain held the DNAT rules of published ports before they moved to nftables maps. A
// sync or a teardown removes it and its jumps, left by an earlier version.
const legacyChain = "VIC"

var legacyJumps = []jump{
	{"nat", "PREROUTING", "-m addrtype --dst-type LOCAL -j " + legacyChain},
	{"nat", "OUTPUT", "-m addrtype --dst-type LOCAL -j " + legacyChain},
}

// headRule opens VIC-FWD: traffic not DNATed goes through the isolation chains first.
var headRule = Rule{Table: "filter", Chain: ChainForward, Spec: "-m conntrack ! --ctstate DNAT -j " + ChainIsolate}

// Model renders a State into the rules of the driver's chains for one endpoint.
type Model struct {
	public netip.Addr
}

// NewModel returns the model of an endpoint whose public address is public.
func NewModel(public netip.Addr) (*Model, error) {
	if !public.Is4() || public.IsUnspecified() || public.IsLoopback() {
		return nil, fmt.Errorf("public address %s: must be a unicast ipv4 address", public)
	}
	return &Model{public: public}, nil
}

// Public is the endpoint's public address.
func (m *Model) Public() netip.Addr { return m.public }

// Rules returns every iptables rule the state needs, deduplicated, in a stable order: a head
// rule, then the networks sorted by bridge. Published ports are map elements (see Elements),
// not rules.
func (m *Model) Rules(s State) ([]Rule, error) {
	if _, err := m.validate(s); err != nil {
		return nil, err
	}
	return stateRules(s), nil
}

func stateRules(s State) []Rule {
	var b ruleBuilder
	b.add(headRule.Table, headRule.Chain, headRule.Spec)
	for _, n := range sortedNetworks(s.Networks) {
		networkRules(&b, n)
	}
	return b.rules
}

// Render returns everything the state programs: the iptables-restore text of the driver's
// chains (each declared, which flushes it in a --noflush restore, and filled; the jumps into
// them are not part of it), then the nftables table of the published ports.
func (m *Model) Render(s State) (string, error) {
	elems, err := m.Elements(s)
	if err != nil {
		return "", err
	}
	return restoreText(stateRules(s), nil, true) + "\n" + tableText(elems), nil
}

// networkRules are the rules of one bridge network (PROTOCOL.md "A rule set that passed every
// reachability case", plus isolation between networks).
func networkRules(b *ruleBuilder, n BridgeNetwork) {
	br, sub := n.Bridge, n.Subnet.Masked().String()
	b.add("filter", ChainForward, "-i "+br+" -o "+br+" -j ACCEPT")
	masquerade := "-s " + sub + " ! -o " + br + " -j MASQUERADE"
	if n.Trunk != "" {
		// The trunk bridges the spanning networks' frames between endpoints, and the bridge
		// netfilter shows them to iptables as leaving through the trunk: let them pass, as
		// they are, since a container's peer on another endpoint is on its own subnet.
		b.add("filter", ChainForward, "-i "+n.Trunk+" -o "+n.Trunk+" -j ACCEPT")
		masquerade = "-s " + sub + " ! -d " + sub + " ! -o " + br + " -j MASQUERADE"
	}
	if n.Internal {
		b.add("filter", ChainIsolate, "-i "+br+" ! -o "+br+" -j DROP")
		b.add("filter", ChainIsolate, "! -i "+br+" -o "+br+" -j DROP")
		return
	}
	b.add("filter", ChainForward, "-i "+br+" ! -o "+br+" -j ACCEPT")
	b.add("filter", ChainForward, "-o "+br+" -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT")
	// Published ports: the port maps DNAT only to containers, so whatever was DNATed towards
	// the bridge is let in, from anywhere.
	b.add("filter", ChainForward, "-o "+br+" -m conntrack --ctstate DNAT -j ACCEPT")
	b.add("filter", ChainIsolate, "-i "+br+" ! -o "+br+" -j "+ChainIsolate2)
	b.add("filter", ChainIsolate2, "-o "+br+" -j DROP")
	b.add("nat", ChainPost, masquerade)
	b.add("nat", ChainPost, "-o "+br+" -m addrtype --src-type LOCAL -j MASQUERADE")
	b.add("nat", ChainPost, "-s "+sub+" -o "+br+" -m conntrack --ctstate DNAT -j MASQUERADE")
}

// ruleBuilder collects rules, dropping duplicates.
type ruleBuilder struct {
	rules []Rule
	seen  map[Rule]bool
}

func (b *ruleBuilder) add(table, chain, spec string) {
	r := Rule{Table: table, Chain: chain, Spec: spec}
	if b.seen == nil {
		b.seen = make(map[Rule]bool)
	}
	if !b.seen[r] {
		b.seen[r] = true
		b.rules = append(b.rules, r)
	}
}

// restoreText writes an iptables-restore batch: per table, the chain declarations (when
// declare is set: this flushes the chains), the lines of head (deletions or jumps, written
// verbatim), then the rules to append, chain by chain.
func restoreText(rules []Rule, head map[string][]string, declare bool) string {
	var sb strings.Builder
	for _, t := range tables {
		var body []string
		for _, c := range t.chains {
			for _, r := range rules {
				if r.Table == t.name && r.Chain == c {
					body = append(body, r.String())
				}
			}
		}
		if !declare && len(head[t.name]) == 0 && len(body) == 0 {
			continue
		}
		sb.WriteString("*" + t.name + "\n")
		if declare {
			for _, c := range t.chains {
				sb.WriteString(":" + c + " - [0:0]\n")
			}
		}
		for _, l := range head[t.name] {
			sb.WriteString(l + "\n")
		}
		for _, l := range body {
			sb.WriteString(l + "\n")
		}
		sb.WriteString("COMMIT\n")
	}
	return sb.String()
}

func sortedNetworks(in []BridgeNetwork) []BridgeNetwork {
	out := append([]BridgeNetwork(nil), in...)
	sort.Slice(out, func(i, j int) bool { return out[i].Bridge < out[j].Bridge })
	return out
}
