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
// The rules are a pure function of the spans (Rules, tested everywhere); the Linux side
// programs them as the nftables table "bridge vic", in one transaction.
package span

import (
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

// Match is what a rule matches besides its port.
type Match int

const (
	// Any frame.
	Any Match = iota
	// NotIPv4OrARP matches every frame but IPv4 and ARP.
	NotIPv4OrARP
	// IPv4SourceOutside matches IPv4 from an address outside Rule.Subnet.
	IPv4SourceOutside
	// ARPSenderOutside matches ARP whose sender is an address outside Rule.Subnet.
	ARPSenderOutside
	// ARPForGateway matches ARP asking for Rule.Gateway.
	ARPForGateway
	// FromGateway matches IPv4 from, and ARP whose sender is, Rule.Gateway: only the endpoint
	// itself speaks for the gateway, and never on the wire.
	IPv4FromGateway
	ARPFromGateway
	// UnknownWire matches every frame through a wire end (Rule.Link a prefix) other than the
	// ends in Rule.Known: a span the filter does not know is closed, not open.
	UnknownWire
)

// Rule is one rule of the table; each drops what it matches.
type Rule struct {
	Chain string
	// Out says whether Link is the frame's output port, else its input port. A Link ending in
	// "*" is a name prefix.
	Out     bool
	Link    string
	Match   Match
	Subnet  netip.Prefix
	Gateway netip.Addr
	Known   []string
}

// String is the rule in nft's words.
func (r Rule) String() string {
	dir := dirName(r.Out)
	m := ""
	switch r.Match {
	case NotIPv4OrARP:
		m = " meta protocol != { ip, arp }"
	case IPv4SourceOutside:
		m = " ip saddr != " + r.Subnet.String()
	case ARPSenderOutside:
		m = " arp saddr ip != " + r.Subnet.String()
	case ARPForGateway:
		m = " arp daddr ip " + r.Gateway.String()
	case IPv4FromGateway:
		m = " ip saddr " + r.Gateway.String()
	case ARPFromGateway:
		m = " arp saddr ip " + r.Gateway.String()
	case UnknownWire:
		for _, k := range r.Known {
			m += fmt.Sprintf(" %s != %q", dirName(r.Out), k)
		}
	}
	return fmt.Sprintf("chain %s: %s %q%s drop", r.Chain, dir, r.Link, m)
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

// Rules are the table's rules for nets, in a stable order; no nets, no rules.
func Rules(nets []Net) ([]Rule, error) {
	if len(nets) == 0 {
		return nil, nil
	}
	sorted := append([]Net(nil), nets...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i].Port < sorted[j].Port })
	out := []Rule{{Chain: ChainOutput, Out: true, Link: portPrefix + "*"}}
	var known []string
	for _, n := range sorted {
		if err := n.check(); err != nil {
			return nil, err
		}
		s, gw := n.Subnet.Masked(), n.Gateway
		out = append(out, Rule{Chain: ChainForward, Out: true, Link: n.Port, Match: ARPForGateway, Gateway: gw})
		for _, out2 := range []bool{false, true} {
			out = append(out,
				Rule{Chain: ChainForward, Out: out2, Link: n.Wire, Match: NotIPv4OrARP},
				Rule{Chain: ChainForward, Out: out2, Link: n.Wire, Match: IPv4SourceOutside, Subnet: s},
				Rule{Chain: ChainForward, Out: out2, Link: n.Wire, Match: ARPSenderOutside, Subnet: s},
				Rule{Chain: ChainForward, Out: out2, Link: n.Wire, Match: IPv4FromGateway, Gateway: gw},
				Rule{Chain: ChainForward, Out: out2, Link: n.Wire, Match: ARPFromGateway, Gateway: gw})
		}
		out = append(out, Rule{Chain: ChainForward, Out: true, Link: n.Wire, Match: ARPForGateway, Gateway: gw})
		known = append(known, n.Wire)
	}
	for _, out2 := range []bool{false, true} {
		out = append(out, Rule{Chain: ChainForward, Out: out2, Link: wirePrefix + "*", Match: UnknownWire, Known: known})
	}
	return out, nil
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
