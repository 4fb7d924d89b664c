package config

import (
	"encoding/binary"
	"fmt"
	"net/netip"
	"strings"
)

// IPRange is an inclusive range of IPv4 addresses, written `A-B` or as a CIDR.
type IPRange struct {
	First netip.Addr
	Last  netip.Addr
}

// ParseIPRange parses `A-B` or `CIDR` (the network's every address).
func ParseIPRange(s string) (IPRange, error) {
	if first, last, ok := strings.Cut(s, "-"); ok {
		a, err := netip.ParseAddr(strings.TrimSpace(first))
		if err != nil {
			return IPRange{}, fmt.Errorf("%q is not an address", first)
		}
		b, err := netip.ParseAddr(strings.TrimSpace(last))
		if err != nil {
			return IPRange{}, fmt.Errorf("%q is not an address", last)
		}
		if !a.Is4() || !b.Is4() {
			return IPRange{}, fmt.Errorf("only IPv4 ranges are supported")
		}
		if b.Less(a) {
			return IPRange{}, fmt.Errorf("the range ends before it starts")
		}
		return IPRange{First: a, Last: b}, nil
	}
	p, err := netip.ParsePrefix(s)
	if err != nil {
		return IPRange{}, fmt.Errorf("it is neither a CIDR nor a range A-B")
	}
	if !p.Addr().Is4() {
		return IPRange{}, fmt.Errorf("only IPv4 ranges are supported")
	}
	return PrefixRange(p.Masked()), nil
}

// PrefixRange returns every address of p, network and broadcast included.
func PrefixRange(p netip.Prefix) IPRange {
	p = p.Masked()
	last := p.Addr().As4()
	hostBits := 32 - p.Bits()
	for i := 3; i >= 0 && hostBits > 0; i-- {
		n := min(hostBits, 8)
		last[i] |= byte(1<<n - 1)
		hostBits -= n
	}
	return IPRange{First: p.Addr(), Last: netip.AddrFrom4(last)}
}

// String writes the range as `A-B`.
func (r IPRange) String() string { return r.First.String() + "-" + r.Last.String() }

// MarshalText implements encoding.TextMarshaler.
func (r IPRange) MarshalText() ([]byte, error) { return []byte(r.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler.
func (r *IPRange) UnmarshalText(b []byte) error {
	v, err := ParseIPRange(string(b))
	if err != nil {
		return err
	}
	*r = v
	return nil
}

// Contains reports whether a lies in the range.
func (r IPRange) Contains(a netip.Addr) bool {
	return !a.Less(r.First) && !r.Last.Less(a)
}

// Overlaps reports whether r and o share an address.
func (r IPRange) Overlaps(o IPRange) bool {
	return !r.Last.Less(o.First) && !o.Last.Less(r.First)
}

// Within reports whether the whole range lies in p.
func (r IPRange) Within(p netip.Prefix) bool {
	return p.Contains(r.First) && p.Contains(r.Last)
}

// Prefixes covers the range with the fewest IPv4 prefixes, in order: 203.0.113.140-203.0.113.160
// is 203.0.113.140/30, .144/28 and .160/32.
func (r IPRange) Prefixes() []netip.Prefix {
	if !r.First.Is4() || !r.Last.Is4() || r.Last.Less(r.First) {
		return nil
	}
	first, last := r.First.As4(), r.Last.As4()
	lo, hi := uint64(binary.BigEndian.Uint32(first[:])), uint64(binary.BigEndian.Uint32(last[:]))
	var out []netip.Prefix
	for lo <= hi {
		host := 0 // the block grows while lo stays aligned and the block stays inside the range
		for host < 32 && lo&(1<<(host+1)-1) == 0 && lo+1<<(host+1)-1 <= hi {
			host++
		}
		var a [4]byte
		binary.BigEndian.PutUint32(a[:], uint32(lo))
		out = append(out, netip.PrefixFrom(netip.AddrFrom4(a), 32-host))
		lo += 1 << host
	}
	return out
}

// ParseGateway parses a gateway written `IP` or `CIDR,CIDR:IP` (routes to those destinations only).
func ParseGateway(s string) (Gateway, error) {
	var g Gateway
	ip := s
	if i := strings.LastIndex(s, ":"); i >= 0 {
		for _, d := range strings.Split(s[:i], ",") {
			p, err := netip.ParsePrefix(strings.TrimSpace(d))
			if err != nil || !p.Addr().Is4() {
				return Gateway{}, fmt.Errorf("destination %q is not an IPv4 CIDR", d)
			}
			g.Destinations = append(g.Destinations, p.Masked())
		}
		ip = s[i+1:]
	}
	a, err := netip.ParseAddr(strings.TrimSpace(ip))
	if err != nil || !a.Is4() {
		return Gateway{}, fmt.Errorf("%q is not an IPv4 address", ip)
	}
	g.IP = a
	return g, nil
}

// String writes the gateway back in the form ParseGateway reads.
func (g Gateway) String() string {
	if len(g.Destinations) == 0 {
		return g.IP.String()
	}
	ds := make([]string, len(g.Destinations))
	for i, d := range g.Destinations {
		ds[i] = d.String()
	}
	return strings.Join(ds, ",") + ":" + g.IP.String()
}

// SplitKeyed splits a port-group-keyed value `PG:VALUE` at its last colon: values (IPv4
// addresses, ranges and words) never hold one, port group names may.
func SplitKeyed(s string) (pg, value string, ok bool) {
	i := strings.LastIndex(s, ":")
	if i <= 0 || i == len(s)-1 {
		return "", "", false
	}
	return s[:i], s[i+1:], true
}

// ParseContainerNetwork parses `--container-network PG[:alias]`. The alias follows the last colon.
func ParseContainerNetwork(s string) (pg, alias string) {
	if i := strings.LastIndex(s, ":"); i > 0 {
		return s[:i], s[i+1:]
	}
	return s, ""
}

// ParseFirewall parses a firewall level.
func ParseFirewall(s string) (Firewall, bool) {
	for _, f := range FirewallLevels {
		if string(f) == strings.ToLower(s) {
			return f, true
		}
	}
	return "", false
}

// FirewallNames returns the levels joined for messages: "closed, outbound, published, peers or open".
func FirewallNames() string {
	names := make([]string, len(FirewallLevels))
	for i, f := range FirewallLevels {
		names[i] = string(f)
	}
	return strings.Join(names[:len(names)-1], ", ") + " or " + names[len(names)-1]
}
