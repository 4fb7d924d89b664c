package nat

import (
	"encoding/binary"
	"fmt"
	"net/netip"
	"sync"

	"github.com/google/nftables"
	"github.com/google/nftables/expr"
	"github.com/google/nftables/userdata"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// nftMaps programs the table through netlink (nf_tables), in-process: no nft binary. Changes
// and reads go through connections of their own, so that publishing a port never waits for a
// check reading every element.
type nftMaps struct {
	write, read nftConn
}

// nftConn is one lasting netlink connection, used by one caller at a time.
type nftConn struct {
	netns string // "" for the daemon's own namespace

	mu   sync.Mutex
	conn *nftables.Conn // dropped after an error
}

// NftMaps returns the port maps of the named network namespace ("" for the current one).
func NftMaps(namespace string) PortMaps {
	return &nftMaps{write: nftConn{netns: namespace}, read: nftConn{netns: namespace}}
}

// kernelPortMaps are the port maps of an applier given none: this namespace's.
func kernelPortMaps() (PortMaps, error) { return NftMaps(""), nil }

var (
	vicTable = &nftables.Table{Name: TableName, Family: nftables.TableFamilyIPv4}
	// addrPort is the key and the value of every map: ipv4_addr . inet_service.
	addrPort = nftables.MustConcatSetType(nftables.TypeIPAddr, nftables.TypeInetService)
	// hooks are the table's chains.
	hooks = []struct {
		name string
		hook *nftables.ChainHook
	}{
		{ChainPrerouting, nftables.ChainHookPrerouting},
		{ChainOutput, nftables.ChainHookOutput},
	}
	ipProtos = map[Proto]byte{TCP: unix.IPPROTO_TCP, UDP: unix.IPPROTO_UDP, SCTP: unix.IPPROTO_SCTP}
)

// maxBatchElements bounds the elements of one netlink transaction: a set element list is one
// netlink attribute (at most 64 KiB) and a batch one send (at most the socket's buffer).
const (
	maxMessageElements = 1000
	maxBatchElements   = 4000
)

// do runs fn on the lasting connection under the lock; an error drops the connection, whose
// acknowledgements may be half read.
func (n *nftConn) do(fn func(c *nftables.Conn) error) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.conn == nil {
		opts := []nftables.ConnOption{nftables.AsLasting()}
		if n.netns != "" {
			h, err := netns.GetFromName(n.netns)
			if err != nil {
				return fmt.Errorf("opening network namespace %q: %w", n.netns, err)
			}
			defer h.Close() // the lasting socket is made in the namespace at once
			opts = append(opts, nftables.WithNetNSFd(int(h)))
		}
		c, err := nftables.New(opts...)
		if err != nil {
			return fmt.Errorf("connecting to nf_tables: %w", err)
		}
		n.conn = c
	}
	if err := fn(n.conn); err != nil {
		_ = n.conn.CloseLasting()
		n.conn = nil
		return err
	}
	return nil
}

// Sync replaces the table, in one transaction with as many elements as it holds.
func (n *nftMaps) Sync(elems []Element) error {
	return n.write.do(func(c *nftables.Conn) error {
		// add, delete, add: the table is replaced whether or not it existed.
		c.AddTable(vicTable)
		c.DelTable(vicTable)
		c.AddTable(vicTable)
		sets := make(map[Proto]*nftables.Set, len(mapProtos))
		for _, p := range mapProtos {
			s := portMap(p)
			if err := c.AddSet(s, nil); err != nil {
				return fmt.Errorf("declaring map %s: %w", s.Name, err)
			}
			sets[p] = s
		}
		for _, h := range hooks {
			ch := c.AddChain(&nftables.Chain{
				Name: h.name, Table: vicTable, Type: nftables.ChainTypeNAT,
				Hooknum: h.hook, Priority: nftables.ChainPriorityNATDest,
			})
			for _, p := range mapProtos {
				c.AddRule(&nftables.Rule{Table: vicTable, Chain: ch, Exprs: dnatExprs(p, sets[p]),
					UserData: userdata.AppendString(nil, userdata.TypeComment, dnatComment(p))})
			}
		}
		// The table's replacement and its first elements go in one transaction: no moment
		// without published ports, unless there are more than one transaction holds.
		if err := changeElements(c, nil, elems); err != nil {
			return err
		}
		if err := c.Flush(); err != nil { // a table without elements
			return fmt.Errorf("creating nftables table ip %s: %w", TableName, err)
		}
		return nil
	})
}

func (n *nftMaps) Change(del, add []Element) error {
	return n.write.do(func(c *nftables.Conn) error { return changeElements(c, del, add) })
}

// changeElements deletes del and adds add, in one transaction when they fit in one.
func changeElements(c *nftables.Conn, del, add []Element) error {
	queued := 0
	flush := func() error {
		if queued == 0 {
			return nil
		}
		queued = 0
		if err := c.Flush(); err != nil {
			return fmt.Errorf("changing published ports in table ip %s: %w", TableName, err)
		}
		return nil
	}
	for _, op := range []struct {
		elems []Element
		queue func(*nftables.Set, []nftables.SetElement) error
	}{{del, c.SetDeleteElements}, {add, c.SetAddElements}} {
		for _, p := range mapProtos {
			var batch []nftables.SetElement
			for _, e := range op.elems {
				if e.Proto == p {
					batch = append(batch, nftables.SetElement{Key: addrPortBytes(e.Host), Val: addrPortBytes(e.Target)})
				}
			}
			for len(batch) > 0 {
				k := min(len(batch), maxMessageElements, maxBatchElements-queued)
				if err := op.queue(portMap(p), batch[:k]); err != nil {
					return err
				}
				batch, queued = batch[k:], queued+k
				if queued == maxBatchElements {
					if err := flush(); err != nil {
						return err
					}
				}
			}
		}
	}
	return flush()
}

func (n *nftMaps) Read() (MapsDump, error) {
	var d MapsDump
	err := n.read.do(func(c *nftables.Conn) error {
		tables, err := c.ListTablesOfFamily(nftables.TableFamilyIPv4)
		if err != nil {
			return fmt.Errorf("listing nftables tables: %w", err)
		}
		found := false
		for _, t := range tables {
			found = found || t.Name == TableName
		}
		if !found {
			d.Missing = append(d.Missing, "table ip "+TableName)
			return nil
		}
		if err := readChains(c, &d); err != nil {
			return err
		}
		return readMaps(c, &d)
	})
	return d, err
}

func readChains(c *nftables.Conn, d *MapsDump) error {
	chains, err := c.ListChainsOfTableFamily(nftables.TableFamilyIPv4)
	if err != nil {
		return fmt.Errorf("listing chains of table ip %s: %w", TableName, err)
	}
	have := make(map[string]*nftables.Chain)
	for _, ch := range chains {
		if ch.Table.Name == TableName {
			have[ch.Name] = ch
		}
	}
	for _, h := range hooks {
		ch, ok := have[h.name]
		delete(have, h.name)
		if !ok || ch.Hooknum == nil || *ch.Hooknum != *h.hook || ch.Type != nftables.ChainTypeNAT {
			d.Missing = append(d.Missing, "chain "+h.name)
			continue
		}
		rules, err := c.GetRules(vicTable, ch)
		if err != nil {
			return fmt.Errorf("listing rules of chain %s: %w", h.name, err)
		}
		want := make(map[string]bool)
		for _, p := range mapProtos {
			want[dnatComment(p)] = true
		}
		for _, r := range rules {
			comment, _ := userdata.GetString(r.UserData, userdata.TypeComment)
			if !want[comment] {
				d.Extra = append(d.Extra, fmt.Sprintf("rule %q in chain %s", comment, h.name))
			}
			delete(want, comment)
		}
		for _, p := range mapProtos {
			if want[dnatComment(p)] {
				d.Missing = append(d.Missing, fmt.Sprintf("rule %q in chain %s", dnatComment(p), h.name))
			}
		}
	}
	for name := range have {
		d.Extra = append(d.Extra, "chain "+name)
	}
	return nil
}

func readMaps(c *nftables.Conn, d *MapsDump) error {
	sets, err := c.GetSets(vicTable)
	if err != nil {
		return fmt.Errorf("listing maps of table ip %s: %w", TableName, err)
	}
	have := make(map[string]*nftables.Set)
	for _, s := range sets {
		have[s.Name] = s
	}
	for _, p := range mapProtos {
		s, ok := have[MapName(p)]
		delete(have, MapName(p))
		if !ok || !s.IsMap || s.KeyType.Bytes != addrPort.Bytes || s.DataType.Bytes != addrPort.Bytes {
			d.Missing = append(d.Missing, "map "+MapName(p))
			continue
		}
		elems, err := c.GetSetElements(s)
		if err != nil {
			return fmt.Errorf("listing map %s: %w", s.Name, err)
		}
		for _, e := range elems {
			host, okh := addrPortFrom(e.Key)
			target, okt := addrPortFrom(e.Val)
			if !okh || !okt {
				d.Extra = append(d.Extra, fmt.Sprintf("map %s element %x : %x", s.Name, e.Key, e.Val))
				continue
			}
			d.Elements = append(d.Elements, Element{Proto: p, Host: host, Target: target})
		}
	}
	for name := range have {
		d.Extra = append(d.Extra, "map "+name)
	}
	return nil
}

func (n *nftMaps) Teardown() error {
	return n.write.do(func(c *nftables.Conn) error {
		c.AddTable(vicTable)
		c.DelTable(vicTable)
		if err := c.Flush(); err != nil {
			return fmt.Errorf("removing nftables table ip %s: %w", TableName, err)
		}
		return nil
	})
}

// portMap is the map of one protocol, as the kernel knows it by name.
func portMap(p Proto) *nftables.Set {
	return &nftables.Set{Table: vicTable, Name: MapName(p), IsMap: true, Concatenation: true,
		KeyType: addrPort, DataType: addrPort}
}

// dnatExprs is `fib daddr type local meta l4proto P dnat ip to ip daddr . P dport map @MAP`:
// the destination address and port are looked up, and the result (an address in register
// 1, a port in register 9, as concatenations pack them) is the new destination.
func dnatExprs(p Proto, set *nftables.Set) []expr.Any {
	return []expr.Any{
		&expr.Fib{Register: 1, FlagDADDR: true, ResultADDRTYPE: true},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: binary.NativeEndian.AppendUint32(nil, unix.RTN_LOCAL)},
		&expr.Meta{Key: expr.MetaKeyL4PROTO, Register: 1},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{ipProtos[p]}},
		&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: 16, Len: 4},
		&expr.Payload{DestRegister: 9, Base: expr.PayloadBaseTransportHeader, Offset: 2, Len: 2},
		&expr.Lookup{SourceRegister: 1, DestRegister: 1, IsDestRegSet: true, SetName: set.Name, SetID: set.ID},
		&expr.NAT{Type: expr.NATTypeDestNAT, Family: unix.NFPROTO_IPV4, RegAddrMin: 1, RegProtoMin: 9},
	}
}

// addrPortBytes packs an address and port as a concatenation does: four bytes of address,
// two of port in network order, two of padding.
func addrPortBytes(ap netip.AddrPort) []byte {
	b := make([]byte, 8)
	a := ap.Addr().As4()
	copy(b, a[:])
	binary.BigEndian.PutUint16(b[4:], ap.Port())
	return b
}

func addrPortFrom(b []byte) (netip.AddrPort, bool) {
	if len(b) != 8 {
		return netip.AddrPort{}, false
	}
	return netip.AddrPortFrom(netip.AddrFrom4([4]byte(b[:4])), binary.BigEndian.Uint16(b[4:6])), true
}
