// Package span keeps the bridge networks that span a swarm's endpoints apart on the bridge port
// group, and their gateways local. Such a network is a Linux bridge on each endpoint, joined to
// the trunk (the bridge holding the endpoint's interface on the bridge port group) by a veth
// pair: Port on the network's bridge, Wire on the trunk. All spanning networks share that wire,
// untagged, and are told apart by their subnets, which the swarm's manager allocates without
// overlaps:
//   - a frame may leave a network for the trunk only if it is IPv4 or ARP from an address of
//     the network's subnet (so a container cannot speak for another network: its own endpoint,
//     which it cannot change, checks);
//   - a frame may enter a network from the trunk only if it is IPv4 or ARP from an address of
//     the network's subnet, whichever endpoint sent it.
//
// Every endpoint holds the network's gateway address with the same MAC, for its own containers:
// they leave the swarm through the endpoint that runs them. So no frame of the endpoint itself
// enters a span (its gateway's ARP and replies), and ARP requests for the gateway never cross
// the wire, in either direction.
//
// The filter is a fixed handful of rules and two sets, whatever the number of networks: each
// frame makes one lookup per check instead of walking rules per network (with 20 networks, the
// rules of the first form cost a round trip across two endpoints 28 µs, 70 µs instead of 42, and
// from 12 networks on their table overflowed netlink's buffer).
// Rules and the sets' elements (Plan) are pure functions of the spans, tested everywhere; the
// Linux side programs them as the nftables table "bridge vic", in one transaction.
package span

import (
	"encoding/binary"
	"fmt"
	"net/netip"
	"sort"
	"strings"
)

// TableName is the nftables table of the filter, in the bridge family.
const TableName = "vic"

// Chains of the table.
const (
	ChainOutput  = "output"  // frames the endpoint itself sends through a bridge
	ChainForward = "forward" // frames a bridge forwards between its ports
)

// Net is one spanning network on this endpoint.
type Net struct {
	// Port is the span's end on the network's bridge, Wire its end on the trunk.
	Port, Wire string
	// Subnet is the network's subnet; Gateway the address every endpoint holds on it.
	Subnet  netip.Prefix
	Gateway netip.Addr
}

// Sets of the table. Sources holds, for each wire end, the addresses a frame through it may
// come from: its network's subnet but the gateway. Gateways holds, for each end of a span, the
// gateway whose ARP requests never cross it.
const (
	SetSources  = "sources"
	SetGateways = "gateways"
)

// Match is what a rule matches besides its port.
type Match int

const (
	// Any frame.
	Any Match = iota
	// NotIPv4OrARP matches every frame but IPv4 and ARP.
	NotIPv4OrARP
	// IPv4SourceRefused matches IPv4 whose source is not in SetSources for the rule's port: outside
	// the network's subnet, the gateway, or a port no span has (a span the filter does not know is
	// closed, not open).
	IPv4SourceRefused
	// ARPSenderRefused is IPv4SourceRefused for the sender of an ARP packet.
	ARPSenderRefused
	// ARPForGateway matches ARP asking for the gateway of the rule's port (SetGateways).
	ARPForGateway
)

// Rule is one rule of the table; each drops what it matches.
type Rule struct {
	Chain string
	// Out says whether Link is the frame's output port, else its input port. A Link ending in
	// "*" is a name prefix; an empty Link is any port.
	Out   bool
	Link  string
	Match Match
}

// String is the rule in nft's words.
func (r Rule) String() string {
	dir := dirName(r.Out)
	port := ""
	if r.Link != "" {
		port = fmt.Sprintf(" %s %q", dir, r.Link)
	}
	m := ""
	switch r.Match {
	case NotIPv4OrARP:
		m = " meta protocol != { ip, arp }"
	case IPv4SourceRefused:
		m = fmt.Sprintf(" %s . ip saddr != @%s", dir, SetSources)
	case ARPSenderRefused:
		m = fmt.Sprintf(" %s . arp saddr ip != @%s", dir, SetSources)
	case ARPForGateway:
		m = fmt.Sprintf(" %s . arp daddr ip @%s", dir, SetGateways)
	}
	return fmt.Sprintf("chain %s:%s%s drop", r.Chain, port, m)
}

func dirName(out bool) string {
	if out {
		return "oifname"
	}
	return "iifname"
}

// portPrefix and wirePrefix name the span's ends (link.SpanPortPrefix and link.WirePrefix; repeated here
// so that the filter stays a leaf).
const portPrefix, wirePrefix = "vs-", "vw-"

// Rules are the table's rules, the same for any spans. Nothing the endpoint sends enters a
// span; what crosses a wire end is IPv4 or ARP from an address its network allows, either way;
// ARP for a gateway leaves no network.
func Rules() []Rule {
	out := []Rule{{Chain: ChainOutput, Out: true, Link: portPrefix + "*"}}
	for _, o := range []bool{false, true} {
		out = append(out,
			Rule{Chain: ChainForward, Out: o, Link: wirePrefix + "*", Match: NotIPv4OrARP},
			Rule{Chain: ChainForward, Out: o, Link: wirePrefix + "*", Match: IPv4SourceRefused},
			Rule{Chain: ChainForward, Out: o, Link: wirePrefix + "*", Match: ARPSenderRefused})
	}
	return append(out, Rule{Chain: ChainForward, Out: true, Match: ARPForGateway})
}

// Source is an element of SetSources: frames through wire end Link may come from From to To.
type Source struct {
	Link     string
	From, To netip.Addr
}

// Gateway is an element of SetGateways: ARP for Addr never leaves through Link.
type Gateway struct {
	Link string
	Addr netip.Addr
}

// Plan is what the sets hold for some spans.
type Plan struct {
	Sources  []Source
	Gateways []Gateway
}

// PlanOf is the sets' elements for nets, in a stable order; no nets, an empty plan (and no table).
func PlanOf(nets []Net) (Plan, error) {
	var p Plan
	sorted := append([]Net(nil), nets...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i].Port < sorted[j].Port })
	for _, n := range sorted {
		if err := n.check(); err != nil {
			return Plan{}, err
		}
		s, gw := n.Subnet.Masked(), n.Gateway
		first, last := s.Addr(), lastAddr(s)
		if gw != first {
			p.Sources = append(p.Sources, Source{Link: n.Wire, From: first, To: gw.Prev()})
		}
		if gw != last {
			p.Sources = append(p.Sources, Source{Link: n.Wire, From: gw.Next(), To: last})
		}
		p.Gateways = append(p.Gateways, Gateway{Link: n.Port, Addr: gw}, Gateway{Link: n.Wire, Addr: gw})
	}
	return p, nil
}

// Empty reports whether p holds nothing: the table goes.
func (p Plan) Empty() bool { return len(p.Sources) == 0 && len(p.Gateways) == 0 }

// lastAddr is the last address of IPv4 prefix p.
func lastAddr(p netip.Prefix) netip.Addr {
	a := p.Addr().As4()
	v := binary.BigEndian.Uint32(a[:]) | (1<<(32-p.Bits()) - 1)
	return netip.AddrFrom4([4]byte(binary.BigEndian.AppendUint32(nil, v)))
}

func (n Net) check() error {
	for _, l := range []struct{ name, prefix string }{{n.Port, portPrefix}, {n.Wire, wirePrefix}} {
		if !strings.HasPrefix(l.name, l.prefix) || len(l.name) > 15 {
			return fmt.Errorf("link %q is not a span end of the vic driver (%s..., at most 15 characters)", l.name, l.prefix)
		}
	}
	switch {
	case !n.Subnet.IsValid() || !n.Subnet.Addr().Is4():
		return fmt.Errorf("span %q: subnet %s is not an IPv4 subnet", n.Port, n.Subnet)
	case !n.Gateway.Is4() || !n.Subnet.Contains(n.Gateway):
		return fmt.Errorf("span %q: gateway %s is not an address of subnet %s", n.Port, n.Gateway, n.Subnet)
	}
	return nil
}
