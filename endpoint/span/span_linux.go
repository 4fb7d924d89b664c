package span

import (
	"encoding/binary"
	"fmt"
	"net/netip"
	"strings"

	"github.com/google/nftables"
	"github.com/google/nftables/expr"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// Filter programs the table in one network namespace.
type Filter struct {
	netns string // "" for the calling process's
}

// New returns the filter of the named network namespace ("" for the daemon's own).
func New(namespace string) *Filter { return &Filter{netns: namespace} }

var (
	table  = &nftables.Table{Name: TableName, Family: nftables.TableFamilyBridge}
	chains = []struct {
		name string
		hook *nftables.ChainHook
	}{
		{ChainOutput, nftables.ChainHookOutput},
		{ChainForward, nftables.ChainHookForward},
	}
)

// Where an Ethernet ARP packet for IPv4 holds the sender's and the target's address, and an
// IPv4 header its source.
const (
	arpSenderIP  = 14
	arpTargetIP  = 24
	ipv4SourceIP = 12
)

// Apply replaces the table with the filter of nets, in one transaction; no nets removes it.
func (f *Filter) Apply(nets []Net) error {
	plan, err := PlanOf(nets)
	if err != nil {
		return err
	}
	return f.do(func(c *nftables.Conn) error {
		if plan.Empty() && !hasTable(c) {
			return nil // nothing to remove: a kernel without the bridge family is fine
		}
		// add, delete: gone whether or not it existed; then made again if needed.
		c.AddTable(table)
		c.DelTable(table)
		if plan.Empty() {
			return nil
		}
		c.AddTable(table)
		sets, err := addSets(c, plan)
		if err != nil {
			return err
		}
		made := map[string]*nftables.Chain{}
		for _, ch := range chains {
			made[ch.name] = c.AddChain(&nftables.Chain{Name: ch.name, Table: table, Type: nftables.ChainTypeFilter,
				Hooknum: ch.hook, Priority: nftables.ChainPriorityFilter})
		}
		for _, r := range Rules() {
			c.AddRule(&nftables.Rule{Table: table, Chain: made[r.Chain], Exprs: exprs(r, sets)})
		}
		return nil
	})
}

// portAddrType is the key of both sets: a port's name, then an IPv4 address.
var portAddrType = nftables.MustConcatSetType(nftables.TypeIFName, nftables.TypeIPAddr)

// addSets adds the table's sets with the elements of plan.
func addSets(c *nftables.Conn, plan Plan) (map[string]*nftables.Set, error) {
	sources := &nftables.Set{Table: table, Name: SetSources, KeyType: portAddrType, Concatenation: true, Interval: true}
	var elems []nftables.SetElement
	for _, s := range plan.Sources {
		elems = append(elems, nftables.SetElement{Key: portAddr(s.Link, s.From), KeyEnd: portAddr(s.Link, s.To)})
	}
	if err := c.AddSet(sources, elems); err != nil {
		return nil, fmt.Errorf("adding set %s: %w", SetSources, err)
	}
	gateways := &nftables.Set{Table: table, Name: SetGateways, KeyType: portAddrType, Concatenation: true}
	elems = nil
	for _, g := range plan.Gateways {
		elems = append(elems, nftables.SetElement{Key: portAddr(g.Link, g.Addr)})
	}
	if err := c.AddSet(gateways, elems); err != nil {
		return nil, fmt.Errorf("adding set %s: %w", SetGateways, err)
	}
	return map[string]*nftables.Set{SetSources: sources, SetGateways: gateways}, nil
}

// portAddr is a key of the sets: the port's name NUL-padded to IFNAMSIZ, then the address.
func portAddr(link string, a netip.Addr) []byte {
	key := make([]byte, unix.IFNAMSIZ, unix.IFNAMSIZ+4)
	copy(key, link)
	b := a.As4()
	return append(key, b[:]...)
}

// hasTable reports whether the table may exist: a kernel without the bridge family lists none,
// and a listing that fails says nothing, so the removal is tried (and says why it fails).
func hasTable(c *nftables.Conn) bool {
	tables, err := c.ListTablesOfFamily(nftables.TableFamilyBridge)
	if err != nil {
		return true
	}
	for _, t := range tables {
		if t.Name == TableName {
			return true
		}
	}
	return false
}

// Holds reports whether the table holds the filter of nets: as many rules as Rules gives, chain
// by chain, and as many elements in each set as PlanOf gives (what a flush of the ruleset, or
// another program, would change).
func (f *Filter) Holds(nets []Net) (bool, error) {
	plan, err := PlanOf(nets)
	if err != nil {
		return false, err
	}
	want := map[string]int{}
	for _, r := range Rules() {
		want[r.Chain]++
	}
	holds := true
	err = f.do(func(c *nftables.Conn) error {
		if !hasTable(c) {
			holds = plan.Empty()
			return nil
		}
		if plan.Empty() {
			holds = false
			return nil
		}
		for _, ch := range chains {
			got, err := c.GetRules(table, &nftables.Chain{Name: ch.name, Table: table})
			if err != nil || len(got) != want[ch.name] {
				holds = false
				return nil
			}
		}
		for name, n := range map[string]int{SetSources: len(plan.Sources), SetGateways: len(plan.Gateways)} {
			got, err := c.GetSetElements(&nftables.Set{Table: table, Name: name})
			if err != nil || len(got) != n {
				holds = false
				return nil
			}
		}
		return nil
	})
	return holds, err
}

// Teardown removes the table.
func (f *Filter) Teardown() error { return f.Apply(nil) }

func (f *Filter) do(fill func(c *nftables.Conn) error) error {
	var opts []nftables.ConnOption
	if f.netns != "" {
		h, err := netns.GetFromName(f.netns)
		if err != nil {
			return fmt.Errorf("opening network namespace %q: %w", f.netns, err)
		}
		defer h.Close()
		opts = append(opts, nftables.WithNetNSFd(int(h)))
	}
	c, err := nftables.New(opts...)
	if err != nil {
		return fmt.Errorf("connecting to nf_tables: %w", err)
	}
	if err := fill(c); err != nil {
		return err
	}
	if err := c.Flush(); err != nil {
		return fmt.Errorf("programming nftables table bridge %s: %w", TableName, err)
	}
	return nil
}

// exprs is r in nf_tables' expressions: the port's name in register 1 (with its final NUL, or
// a prefix alone), then the match, then drop. A set lookup takes the port's name again and the
// address after it, in register 2: one key of both.
func exprs(r Rule, sets map[string]*nftables.Set) []expr.Any {
	key := expr.MetaKeyIIFNAME
	if r.Out {
		key = expr.MetaKeyOIFNAME
	}
	var out []expr.Any
	if r.Link != "" {
		name, prefix := strings.CutSuffix(r.Link, "*")
		data := []byte(name)
		if !prefix {
			data = append(data, 0)
		}
		out = append(out, &expr.Meta{Key: key, Register: 1}, &expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: data})
	}
	switch r.Match {
	case NotIPv4OrARP:
		out = append(out, loadProtocol(),
			&expr.Cmp{Op: expr.CmpOpNeq, Register: 1, Data: etherType(unix.ETH_P_IP)},
			&expr.Cmp{Op: expr.CmpOpNeq, Register: 1, Data: etherType(unix.ETH_P_ARP)})
	case IPv4SourceRefused:
		out = append(out, lookup(key, unix.ETH_P_IP, ipv4SourceIP, sets[SetSources], true)...)
	case ARPSenderRefused:
		out = append(out, lookup(key, unix.ETH_P_ARP, arpSenderIP, sets[SetSources], true)...)
	case ARPForGateway:
		out = append(out, lookup(key, unix.ETH_P_ARP, arpTargetIP, sets[SetGateways], false)...)
	}
	return append(out, &expr.Verdict{Kind: expr.VerdictDrop})
}

// lookup matches a frame of ether type et whose port (meta key) and address at offset of the
// network header are in set, or not in it (refused).
func lookup(key expr.MetaKey, et uint16, offset uint32, set *nftables.Set, refused bool) []expr.Any {
	return []expr.Any{
		loadProtocol(),
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: etherType(et)},
		&expr.Meta{Key: key, Register: 1},
		&expr.Payload{DestRegister: 2, Base: expr.PayloadBaseNetworkHeader, Offset: offset, Len: 4},
		&expr.Lookup{SourceRegister: 1, SetName: set.Name, SetID: set.ID, Invert: refused},
	}
}

// loadProtocol loads the frame's ether type (`meta protocol`).
func loadProtocol() expr.Any { return &expr.Meta{Key: expr.MetaKeyPROTOCOL, Register: 1} }

func etherType(et uint16) []byte { return binary.BigEndian.AppendUint16(nil, et) }
