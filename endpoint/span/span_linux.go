package span

import (
	"encoding/binary"
	"fmt"
	"net"
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

// Apply replaces the table with the rules of nets, in one transaction; no nets removes it.
func (f *Filter) Apply(nets []Net) error {
	rules, err := Rules(nets)
	if err != nil {
		return err
	}
	return f.do(func(c *nftables.Conn) {
		if len(rules) == 0 && !hasTable(c) {
			return // nothing to remove: a kernel without the bridge family is fine
		}
		// add, delete: gone whether or not it existed; then made again if needed.
		c.AddTable(table)
		c.DelTable(table)
		if len(rules) == 0 {
			return
		}
		c.AddTable(table)
		made := map[string]*nftables.Chain{}
		for _, ch := range chains {
			made[ch.name] = c.AddChain(&nftables.Chain{Name: ch.name, Table: table, Type: nftables.ChainTypeFilter,
				Hooknum: ch.hook, Priority: nftables.ChainPriorityFilter})
		}
		for _, r := range rules {
			c.AddRule(&nftables.Rule{Table: table, Chain: made[r.Chain], Exprs: exprs(r)})
		}
	})
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

// Holds reports whether the table holds the rules of nets: as many as Rules gives, chain by
// chain (what a flush of the ruleset, or another program, would change).
func (f *Filter) Holds(nets []Net) (bool, error) {
	rules, err := Rules(nets)
	if err != nil {
		return false, err
	}
	want := map[string]int{}
	for _, r := range rules {
		want[r.Chain]++
	}
	holds := true
	err = f.do(func(c *nftables.Conn) {
		if !hasTable(c) {
			holds = len(rules) == 0
			return
		}
		for _, ch := range chains {
			got, err := c.GetRules(table, &nftables.Chain{Name: ch.name, Table: table})
			if err != nil || len(got) != want[ch.name] {
				holds = false
				return
			}
		}
	})
	return holds, err
}

// Teardown removes the table.
func (f *Filter) Teardown() error { return f.Apply(nil) }

func (f *Filter) do(fill func(c *nftables.Conn)) error {
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
	fill(c)
	if err := c.Flush(); err != nil {
		return fmt.Errorf("programming nftables table bridge %s: %w", TableName, err)
	}
	return nil
}

// exprs is r in nf_tables' expressions, all in register 1: the port's name (with its final
// NUL, or a prefix alone), then the match, then drop.
func exprs(r Rule) []expr.Any {
	key := expr.MetaKeyIIFNAME
	if r.Out {
		key = expr.MetaKeyOIFNAME
	}
	name, prefix := strings.CutSuffix(r.Link, "*")
	data := []byte(name)
	if !prefix {
		data = append(data, 0)
	}
	out := []expr.Any{&expr.Meta{Key: key, Register: 1}, &expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: data}}
	switch r.Match {
	case NotIPv4OrARP:
		out = append(out, loadProtocol(),
			&expr.Cmp{Op: expr.CmpOpNeq, Register: 1, Data: etherType(unix.ETH_P_IP)},
			&expr.Cmp{Op: expr.CmpOpNeq, Register: 1, Data: etherType(unix.ETH_P_ARP)})
	case IPv4SourceOutside:
		out = append(out, outside(unix.ETH_P_IP, ipv4SourceIP, r)...)
	case ARPSenderOutside:
		out = append(out, outside(unix.ETH_P_ARP, arpSenderIP, r)...)
	case ARPForGateway:
		out = append(out, is(unix.ETH_P_ARP, arpTargetIP, r)...)
	case IPv4FromGateway:
		out = append(out, is(unix.ETH_P_IP, ipv4SourceIP, r)...)
	case ARPFromGateway:
		out = append(out, is(unix.ETH_P_ARP, arpSenderIP, r)...)
	case UnknownWire:
		// The name is still in register 1: it differs from each known end.
		for _, k := range r.Known {
			out = append(out, &expr.Cmp{Op: expr.CmpOpNeq, Register: 1, Data: append([]byte(k), 0)})
		}
	}
	return append(out, &expr.Verdict{Kind: expr.VerdictDrop})
}

// is matches a frame of ether type et whose address at offset of the network header is
// r.Gateway.
func is(et uint16, offset uint32, r Rule) []expr.Any {
	gw := r.Gateway.As4()
	return []expr.Any{
		loadProtocol(),
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: etherType(et)},
		&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: offset, Len: 4},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: gw[:]},
	}
}

// outside matches a frame of ether type et whose address at offset of the network header lies
// outside r.Subnet.
func outside(et uint16, offset uint32, r Rule) []expr.Any {
	mask := net.CIDRMask(r.Subnet.Bits(), 32)
	network := r.Subnet.Masked().Addr().As4()
	return []expr.Any{
		loadProtocol(),
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: etherType(et)},
		&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: offset, Len: 4},
		&expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: 4, Mask: mask, Xor: make([]byte, 4)},
		&expr.Cmp{Op: expr.CmpOpNeq, Register: 1, Data: network[:]},
	}
}

// loadProtocol loads the frame's ether type (`meta protocol`).
func loadProtocol() expr.Any { return &expr.Meta{Key: expr.MetaKeyPROTOCOL, Register: 1} }

func etherType(et uint16) []byte { return binary.BigEndian.AppendUint16(nil, et) }
