package nat

import (
	"fmt"
	"net/netip"
	"sort"
	"strings"
)

// Published ports are not iptables rules: they are elements of nftables maps in the driver's
// own table "ip vic", one map per protocol from a local address and port to a container
// address and port, looked up by one DNAT rule per protocol in a prerouting and an output nat
// chain. Publishing or revoking a port changes map elements in one netlink transaction, so
// it costs the same with ten or ten thousand ports published; an iptables-restore grows with
// the size of the table it edits. The forward accept of DNATed traffic is one iptables rule
// per network (see networkRules), so DOCKER-USER still comes first.

// TableName is the driver's nftables table (family ip).
const TableName = "vic"

// Names of the table's nat chains: each is a base chain at priority -100 (dstnat).
const (
	ChainPrerouting = "prerouting" // traffic arriving at a local address
	ChainOutput     = "output"     // traffic the endpoint itself sends to a local address
)

// mapProtos are the protocols with a port map, in rendering order.
var mapProtos = []Proto{TCP, UDP, SCTP}

// MapName is the name of the port map of a protocol ("tcpports"): "tcp" alone is an nft
// keyword, so a script could not name it.
func MapName(p Proto) string { return string(p) + "ports" }

// dnatComment tags the DNAT rule of a protocol, so that a check can find it again.
func dnatComment(p Proto) string { return "vic: published " + string(p) + " ports" }

// PortMaps holds the published ports in the kernel: the table above. NftMaps (Linux) is the
// real one; tests use a fake beside it.
type PortMaps interface {
	// Sync replaces the table with one holding exactly elems.
	Sync(elems []Element) error
	// Change deletes del, then adds add, in one transaction.
	Change(del, add []Element) error
	// Read returns what the kernel holds.
	Read() (MapsDump, error)
	// Teardown removes the table; it is not an error when there is none.
	Teardown() error
}

// MapsDump is what the kernel holds of the driver's table: what is missing from its
// structure or foreign in it (a "table", "chain", "rule" or "map", by name) and the elements
// of its maps.
type MapsDump struct {
	Missing, Extra []string
	Elements       []Element
}

// Element is one published address: traffic to Host, a local address, is DNATed to Target.
type Element struct {
	Proto  Proto
	Host   netip.AddrPort
	Target netip.AddrPort
}

func (e Element) String() string {
	return fmt.Sprintf("%s %s . %d : %s . %d", MapName(e.Proto), e.Host.Addr(), e.Host.Port(),
		e.Target.Addr(), e.Target.Port())
}

func (e Element) key() pubKey {
	return pubKey{addr: e.Host.Addr(), port: e.Host.Port(), proto: e.Proto}
}

// Elements returns the map elements of a state, one per published host address, sorted by
// protocol, host port and host address.
func (m *Model) Elements(s State) ([]Element, error) {
	nets, err := m.validate(s)
	if err != nil {
		return nil, err
	}
	seen := make(map[pubKey]bool)
	var out []Element
	for _, p := range s.Ports {
		if nets[p.Bridge].Internal {
			continue // internal networks publish nothing
		}
		for _, e := range m.mappingElements(p) {
			if !seen[e.key()] {
				seen[e.key()] = true
				out = append(out, e)
			}
		}
	}
	return sortElements(out), nil
}

// mappingElements are the elements of one mapping: one per host address.
func (m *Model) mappingElements(p Mapping) []Element {
	addrs := hostAddrs(m.public, p)
	out := make([]Element, len(addrs))
	for i, a := range addrs {
		out[i] = Element{
			Proto:  p.Proto,
			Host:   netip.AddrPortFrom(a, p.HostPort),
			Target: netip.AddrPortFrom(p.ContainerIP, p.ContainerPort),
		}
	}
	return out
}

func sortElements(in []Element) []Element {
	out := append([]Element(nil), in...)
	sort.Slice(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if a.Proto != b.Proto {
			return a.Proto < b.Proto
		}
		if a.Host.Port() != b.Host.Port() {
			return a.Host.Port() < b.Host.Port()
		}
		if c := a.Host.Addr().Compare(b.Host.Addr()); c != 0 {
			return c < 0
		}
		return a.Target.Compare(b.Target) < 0
	})
	return out
}

// tableText is the driver's nftables table as an nft script holding elems: what the applier
// programs through netlink, written the way `nft list table ip vic` prints it, so that tests
// and admins can compare the two.
func tableText(elems []Element) string {
	var sb strings.Builder
	sb.WriteString("table ip " + TableName + " {\n")
	for _, p := range mapProtos {
		fmt.Fprintf(&sb, "\tmap %s {\n\t\ttype ipv4_addr . inet_service : ipv4_addr . inet_service\n", MapName(p))
		var items []string
		for _, e := range elems {
			if e.Proto == p {
				items = append(items, fmt.Sprintf("%s . %d : %s . %d", e.Host.Addr(), e.Host.Port(), e.Target.Addr(), e.Target.Port()))
			}
		}
		if len(items) > 0 {
			sb.WriteString("\t\telements = { " + strings.Join(items, ", ") + " }\n")
		}
		sb.WriteString("\t}\n\n")
	}
	for i, c := range []struct{ name, hook, prio string }{
		{ChainPrerouting, "prerouting", "dstnat"},
		{ChainOutput, "output", "-100"},
	} {
		if i > 0 {
			sb.WriteString("\n")
		}
		fmt.Fprintf(&sb, "\tchain %s {\n\t\ttype nat hook %s priority %s; policy accept;\n", c.name, c.hook, c.prio)
		for _, p := range mapProtos {
			fmt.Fprintf(&sb, "\t\tfib daddr type local dnat ip to ip daddr . %s dport map @%s comment %q\n",
				p, MapName(p), dnatComment(p))
		}
		sb.WriteString("\t}\n")
	}
	sb.WriteString("}\n")
	return sb.String()
}
