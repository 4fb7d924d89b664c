package nat

import (
	"fmt"
	"net/netip"
)

// The applier keeps an index of what the kernel holds, so that publishing or revoking the
// ports of one container costs the same with ten or a thousand containers published: the rule
// contributions of every network and mapping (a rule two mappings share stays until both are
// gone), and the host ports published.

// pubKey is one published host address, port and protocol.
type pubKey struct {
	addr  netip.Addr
	port  uint16
	proto Proto
}

// publication is the mapping behind a pubKey, and how many identical mappings publish it.
type publication struct {
	m Mapping
	n int
}

// index is what the applier knows the kernel holds.
type index struct {
	refs      map[Rule]int
	published map[pubKey]publication
}

// newIndex counts the contributions of a validated state.
func (m *Model) newIndex(s State) index {
	ix := index{refs: map[Rule]int{headRule: 1}, published: map[pubKey]publication{}}
	for _, n := range s.Networks {
		var b ruleBuilder
		networkRules(&b, n)
		for _, r := range b.rules {
			ix.refs[r]++
		}
	}
	ix.apply(m, s, s.Ports, nil)
	return ix
}

// apply records that the mappings add were published and del revoked.
func (ix index) apply(m *Model, s State, add, del []Mapping) {
	internal := internalBridges(s)
	for _, p := range del {
		if internal[p.Bridge] {
			continue
		}
		for _, r := range m.mappingRules(p) {
			if ix.refs[r]--; ix.refs[r] <= 0 {
				delete(ix.refs, r)
			}
		}
		for _, k := range m.pubKeys(p) {
			if pub := ix.published[k]; pub.n > 1 {
				ix.published[k] = publication{pub.m, pub.n - 1}
			} else {
				delete(ix.published, k)
			}
		}
	}
	for _, p := range add {
		if internal[p.Bridge] {
			continue
		}
		for _, r := range m.mappingRules(p) {
			ix.refs[r]++
		}
		for _, k := range m.pubKeys(p) {
			ix.published[k] = publication{p, ix.published[k].n + 1}
		}
	}
}

// change checks the mappings added as validate would, against the index less the mappings
// removed, and returns the rules to delete and to add. ix is not modified.
func (m *Model) change(ix index, s State, add, del []Mapping) (dels, adds []Rule, err error) {
	nets := make(map[string]Network, len(s.Networks))
	for _, n := range s.Networks {
		nets[n.Bridge] = n
	}
	delta := map[Rule]int{}
	freed := map[pubKey]int{}
	for _, p := range del {
		if nets[p.Bridge].Internal {
			continue
		}
		for _, r := range m.mappingRules(p) {
			delta[r]--
		}
		for _, k := range m.pubKeys(p) {
			freed[k]++
		}
	}
	claimed := map[pubKey]Mapping{}
	for _, p := range add {
		n, ok := nets[p.Bridge]
		if !ok {
			return nil, nil, fmt.Errorf("port mapping %s: bridge %q is not a known network", p, p.Bridge)
		}
		if err := m.ValidateMapping(p, n); err != nil {
			return nil, nil, err
		}
		if n.Internal {
			continue
		}
		for _, k := range m.pubKeys(p) {
			holder, taken := claimed[k]
			if pub, ok := ix.published[k]; !taken && ok && pub.n > freed[k] {
				holder, taken = pub.m, true
			}
			if taken && !sameTarget(holder, p) {
				return nil, nil, fmt.Errorf("port %s:%d/%s: published twice, to %s:%d and %s:%d",
					k.addr, k.port, k.proto, holder.ContainerIP, holder.ContainerPort, p.ContainerIP, p.ContainerPort)
			}
			claimed[k] = p
		}
		for _, r := range m.mappingRules(p) {
			delta[r]++
		}
	}
	for r, d := range delta {
		before := ix.refs[r]
		switch after := before + d; {
		case before == 0 && after > 0:
			adds = append(adds, r)
		case before > 0 && after <= 0:
			dels = append(dels, r)
		}
	}
	return dels, adds, nil
}

// mappingRules are the rules one mapping contributes.
func (m *Model) mappingRules(p Mapping) []Rule {
	var b ruleBuilder
	m.portRules(&b, p)
	return b.rules
}

func (m *Model) pubKeys(p Mapping) []pubKey {
	addrs := hostAddrs(m.public, p)
	keys := make([]pubKey, len(addrs))
	for i, a := range addrs {
		keys[i] = pubKey{addr: a, port: p.HostPort, proto: p.Proto}
	}
	return keys
}

func internalBridges(s State) map[string]bool {
	out := make(map[string]bool, len(s.Networks))
	for _, n := range s.Networks {
		out[n.Bridge] = n.Internal
	}
	return out
}

// mappingDelta returns the mappings added and removed between two states, and ok when the
// states have the same networks: only then can the change be applied mapping by mapping.
func mappingDelta(old, next State) (add, del []Mapping, ok bool) {
	if len(old.Networks) != len(next.Networks) {
		return nil, nil, false
	}
	nets := make(map[Network]int, len(old.Networks))
	for _, n := range old.Networks {
		nets[n]++
	}
	for _, n := range next.Networks {
		if nets[n] == 0 {
			return nil, nil, false
		}
		nets[n]--
	}
	count := make(map[Mapping]int, len(old.Ports))
	for _, p := range old.Ports {
		count[p]++
	}
	for _, p := range next.Ports {
		if count[p] > 0 {
			count[p]--
			continue
		}
		add = append(add, p)
	}
	for _, p := range old.Ports {
		if count[p] > 0 {
			count[p]--
			del = append(del, p)
		}
	}
	return add, del, true
}
