package nat

import (
	"fmt"
	"net/netip"
)

// The applier keeps an index of what the kernel holds, so that publishing or revoking the
// ports of one container costs the same with ten or a thousand containers published: the
// rules of the networks, and the host addresses published with the mapping behind each.

// pubKey is one published host address, port and protocol: the key of a map element.
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
	rules     map[Rule]bool
	published map[pubKey]publication
}

// newIndex indexes a validated state.
func (m *Model) newIndex(s State) index {
	ix := index{rules: map[Rule]bool{}, published: map[pubKey]publication{}}
	for _, r := range stateRules(s) {
		ix.rules[r] = true
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
		for _, k := range m.pubKeys(p) {
			ix.published[k] = publication{p, ix.published[k].n + 1}
		}
	}
}

// change checks the mappings added as validate would, against the index less the mappings
// removed, and returns the map elements to delete and to add. ix is not modified.
func (m *Model) change(ix index, s State, add, del []Mapping) (dels, adds []Element, err error) {
	nets := make(map[string]BridgeNetwork, len(s.Networks))
	for _, n := range s.Networks {
		nets[n.Bridge] = n
	}
	freed := map[pubKey]int{}
	for _, p := range del {
		if nets[p.Bridge].Internal {
			continue
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
	}
	// An element goes when every mapping publishing it is revoked, and comes when the first
	// is added; a key revoked and claimed again in one change is replaced only if its target
	// moved.
	for k, n := range freed {
		pub, ok := ix.published[k]
		if !ok || pub.n > n {
			continue
		}
		if p, again := claimed[k]; again && sameTarget(p, pub.m) {
			continue
		}
		dels = append(dels, elementOf(k, pub.m))
	}
	for k, p := range claimed {
		pub, ok := ix.published[k]
		if ok && pub.n > freed[k] {
			continue // published before and kept
		}
		if ok && sameTarget(p, pub.m) {
			continue // revoked and published again: unchanged
		}
		adds = append(adds, elementOf(k, p))
	}
	return sortElements(dels), sortElements(adds), nil
}

func elementOf(k pubKey, p Mapping) Element {
	return Element{Proto: k.proto, Host: netip.AddrPortFrom(k.addr, k.port),
		Target: netip.AddrPortFrom(p.ContainerIP, p.ContainerPort)}
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

// wanted is the desired state as the applier keeps it: the networks, and the mappings as a
// multiset, so that a change of ports costs the size of the change, not of the state.
type wanted struct {
	nets  []BridgeNetwork
	ports map[Mapping]int
}

func wantedOf(s State) wanted {
	w := wanted{nets: s.Networks, ports: make(map[Mapping]int, len(s.Ports))}
	for _, p := range s.Ports {
		w.ports[p]++
	}
	return w
}

// state is the desired state as a State (a new slice of mappings, in no particular order).
func (w wanted) state() State {
	s := State{Networks: w.nets, Ports: make([]Mapping, 0, len(w.ports))}
	for p, n := range w.ports {
		for range n {
			s.Ports = append(s.Ports, p)
		}
	}
	return s
}

// published returns the mappings of del that w holds (counting duplicates).
func (w wanted) published(del []Mapping) []Mapping {
	seen := make(map[Mapping]int, len(del))
	out := del[:0:0]
	for _, p := range del {
		if seen[p] < w.ports[p] {
			seen[p]++
			out = append(out, p)
		}
	}
	return out
}

// change adds and removes mappings in place; del must be published.
func (w *wanted) change(add, del []Mapping) {
	if w.ports == nil {
		w.ports = make(map[Mapping]int, len(add))
	}
	for _, p := range del {
		if w.ports[p]--; w.ports[p] <= 0 {
			delete(w.ports, p)
		}
	}
	for _, p := range add {
		w.ports[p]++
	}
}

// changed is a copy of w with the change applied.
func (w wanted) changed(add, del []Mapping) wanted {
	c := wanted{nets: w.nets, ports: make(map[Mapping]int, len(w.ports)+len(add))}
	for p, n := range w.ports {
		c.ports[p] = n
	}
	c.change(add, del)
	return c
}

// delta returns the mappings next adds and removes, and ok when next has the same networks:
// only then can the change be applied mapping by mapping.
func (w wanted) delta(next State) (add, del []Mapping, ok bool) {
	if len(w.nets) != len(next.Networks) {
		return nil, nil, false
	}
	nets := make(map[BridgeNetwork]int, len(w.nets))
	for _, n := range w.nets {
		nets[n]++
	}
	for _, n := range next.Networks {
		if nets[n] == 0 {
			return nil, nil, false
		}
		nets[n]--
	}
	left := make(map[Mapping]int, len(w.ports))
	for p, n := range w.ports {
		left[p] = n
	}
	for _, p := range next.Ports {
		if left[p] > 0 {
			left[p]--
			continue
		}
		add = append(add, p)
	}
	for p, n := range left {
		for range n {
			del = append(del, p)
		}
	}
	return add, del, true
}
