//go:build linux

package main

import (
	"fmt"
	"slices"
	"strings"

	"github.com/google/nftables"
	"github.com/google/nftables/expr"
	"github.com/vishvananda/netlink"

	"github.com/docker-vic/docker-vic/endpoint/link"
	"github.com/docker-vic/docker-vic/endpoint/nat"
)

// owned is how much of what vic-endpoint owns the kernel holds: the elements of the port maps
// in table ip vic (one per published port and host address), the rules of its iptables chains
// with the jumps into them, and its links on the host (bridges and host ends of veths; a
// container network's macvlan lives in its container).
type owned struct {
	Elements, Rules, Links int
}

func (o owned) String() string {
	return fmt.Sprintf("%d map elements, %d rules, %d links", o.Elements, o.Rules, o.Links)
}

// kernel reads and flushes what vic-endpoint owns, through one nftables and one netlink
// connection of a network namespace.
type kernel struct {
	nft *nftables.Conn
	nl  *netlink.Handle
}

// iptablesTables are the iptables-nft tables (family ip) that hold the driver's chains.
var iptablesTables = []string{"nat", "filter"}

// driverChains are the driver's own iptables chains.
var driverChains = []string{nat.ChainPost, nat.ChainForward, nat.ChainIsolate, nat.ChainIsolate2}

func isDriverChain(name string) bool { return slices.Contains(driverChains, name) }

// count reads what the kernel holds now.
func (k kernel) count() (owned, error) {
	var o owned
	var err error
	if o.Elements, err = k.elements(); err != nil {
		return o, err
	}
	if o.Rules, err = k.rules(); err != nil {
		return o, err
	}
	o.Links, err = k.links()
	return o, err
}

// elements counts the elements of every map of table ip vic; no table means none.
func (k kernel) elements() (int, error) {
	table, err := k.table()
	if table == nil || err != nil {
		return 0, err
	}
	sets, err := k.nft.GetSets(table)
	if err != nil {
		return 0, fmt.Errorf("listing the maps of table ip %s: %w", nat.TableName, err)
	}
	n := 0
	for _, s := range sets {
		if !s.IsMap {
			continue
		}
		elems, err := k.nft.GetSetElements(s)
		if err != nil {
			return 0, fmt.Errorf("reading map %q: %w", s.Name, err)
		}
		n += len(elems)
	}
	return n, nil
}

// table is the driver's table ip vic, or nil when there is none.
func (k kernel) table() (*nftables.Table, error) {
	tables, err := k.nft.ListTablesOfFamily(nftables.TableFamilyIPv4)
	if err != nil {
		return nil, fmt.Errorf("listing the ip tables: %w", err)
	}
	for _, t := range tables {
		if t.Name == nat.TableName {
			return t, nil
		}
	}
	return nil, nil
}

// rules counts the rules of the driver's chains in the iptables-nft tables, and the rules of
// other chains there that jump or go to one of them.
func (k kernel) rules() (int, error) {
	chains, err := k.nft.ListChainsOfTableFamily(nftables.TableFamilyIPv4)
	if err != nil {
		return 0, fmt.Errorf("listing the ip chains: %w", err)
	}
	n := 0
	for _, c := range chains {
		if !isIptablesTable(c.Table.Name) {
			continue
		}
		rules, err := k.nft.GetRules(c.Table, c)
		if err != nil {
			return 0, fmt.Errorf("reading chain %q of table %q: %w", c.Name, c.Table.Name, err)
		}
		if isDriverChain(c.Name) {
			n += len(rules)
			continue
		}
		for _, r := range rules {
			if entersDriverChain(r) {
				n++
			}
		}
	}
	return n, nil
}

func isIptablesTable(name string) bool { return slices.Contains(iptablesTables, name) }

// entersDriverChain tells whether rule r jumps or goes to one of the driver's chains.
func entersDriverChain(r *nftables.Rule) bool {
	for _, e := range r.Exprs {
		if v, ok := e.(*expr.Verdict); ok && (v.Kind == expr.VerdictJump || v.Kind == expr.VerdictGoto) && isDriverChain(v.Chain) {
			return true
		}
	}
	return false
}

// links counts the driver's bridges and host ends of veths.
func (k kernel) links() (int, error) {
	links, err := k.nl.LinkList()
	if err != nil {
		return 0, fmt.Errorf("listing the links: %w", err)
	}
	n := 0
	for _, l := range links {
		name := l.Attrs().Name
		if strings.HasPrefix(name, link.BridgePrefix) || strings.HasPrefix(name, link.HostVethPrefix) {
			n++
		}
	}
	return n, nil
}

// flush removes table ip vic and empties the driver's iptables chains, as a reboot or a
// firewall reload would; the chains and the jumps into them stay. Missing ones are no error.
func (k kernel) flush() error {
	table, err := k.table()
	if err != nil {
		return err
	}
	if table != nil {
		k.nft.DelTable(table)
	}
	chains, err := k.nft.ListChainsOfTableFamily(nftables.TableFamilyIPv4)
	if err != nil {
		return fmt.Errorf("listing the ip chains: %w", err)
	}
	for _, c := range chains {
		if isIptablesTable(c.Table.Name) && isDriverChain(c.Name) {
			k.nft.FlushChain(c)
		}
	}
	if err := k.nft.Flush(); err != nil {
		return fmt.Errorf("flushing the driver's table and chains: %w", err)
	}
	return nil
}
