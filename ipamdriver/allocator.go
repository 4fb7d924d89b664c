package ipamdriver

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"

	"github.com/docker-vic/docker-vic/config"
)

// This file holds the allocation rules: pure functions of the pools and leases the store holds,
// with no I/O, so that they are table-tested on their own.

// u32 returns an IPv4 address as a number.
func u32(a netip.Addr) uint32 {
	b := a.As4()
	return uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
}

// addr4 returns the IPv4 address numbered n.
func addr4(n uint32) netip.Addr {
	return netip.AddrFrom4([4]byte{byte(n >> 24), byte(n >> 16), byte(n >> 8), byte(n)})
}

// span is an inclusive run of IPv4 addresses, as numbers.
type span struct{ first, last uint32 }

// usableSpans returns where container addresses of subnet may go: ranges (the whole subnet when
// empty) without the network and broadcast addresses, in address order. subnet is at most a /30.
func usableSpans(subnet netip.Prefix, ranges []config.IPRange) []span {
	all := config.PrefixRange(subnet)
	lo, hi := u32(all.First)+1, u32(all.Last)-1
	if len(ranges) == 0 {
		return []span{{lo, hi}}
	}
	var out []span
	for _, r := range ranges {
		f, l := max(u32(r.First), lo), min(u32(r.Last), hi)
		if f <= l {
			out = append(out, span{f, l})
		}
	}
	slices.SortFunc(out, func(a, b span) int { return int(int64(a.first) - int64(b.first)) })
	return out
}

// inSpans reports whether a lies in one of spans.
func inSpans(spans []span, a netip.Addr) bool {
	n := u32(a)
	for _, s := range spans {
		if s.first <= n && n <= s.last {
			return true
		}
	}
	return false
}

// nextAddress returns the first address of spans after `after` (the start when after is not
// valid) that skip does not reject, wrapping around to the start: a freed address is reused
// only once every other one has had its turn.
func nextAddress(spans []span, after netip.Addr, skip func(netip.Addr) bool) (netip.Addr, bool) {
	var from uint32 // addresses > from come first; 0.0.0.0 is never usable
	if after.IsValid() {
		from = u32(after)
	}
	search := func(first, last uint32) (netip.Addr, bool) {
		for n := first; ; n++ {
			if a := addr4(n); !skip(a) {
				return a, true
			}
			if n == last {
				return netip.Addr{}, false
			}
		}
	}
	for _, s := range spans {
		if s.last <= from {
			continue
		}
		if a, ok := search(max(s.first, from+1), s.last); ok {
			return a, true
		}
	}
	for _, s := range spans {
		if s.first > from {
			break
		}
		if a, ok := search(s.first, min(s.last, from)); ok {
			return a, true
		}
	}
	return netip.Addr{}, false
}

// nextSubnet returns the first subnet of prefix length width inside space that overlaps none of
// taken.
func nextSubnet(space netip.Prefix, width int, taken []netip.Prefix) (netip.Prefix, bool) {
	if !space.Addr().Is4() || width < space.Bits() || width > 32 {
		return netip.Prefix{}, false
	}
	size := uint64(1) << (32 - width)
	start := uint64(u32(space.Masked().Addr()))
	end := start + uint64(1)<<(32-space.Bits())
	for c := start; c+size <= end; {
		candidate := netip.PrefixFrom(addr4(uint32(c)), width)
		next, clash := c+size, false
		for _, t := range taken {
			if !t.Overlaps(candidate) {
				continue
			}
			clash = true
			// A taken subnet larger than the candidate covers the next ones too: jump past it.
			if tEnd := uint64(u32(t.Masked().Addr())) + uint64(1)<<(32-t.Bits()); tEnd > next {
				next = tEnd
			}
		}
		if !clash {
			return candidate, true
		}
		c = next
	}
	return netip.Prefix{}, false
}

// overlapping returns the first pool of pools whose subnet overlaps subnet. DHCP pools hold no
// subnet of their own and overlap nothing.
func overlapping(subnet netip.Prefix, pools []Pool) (Pool, bool) {
	for _, p := range pools {
		if !p.DHCP && p.Subnet.Overlaps(subnet) {
			return p, true
		}
	}
	return Pool{}, false
}

// where names a pool in messages.
func (p Pool) where() string {
	if p.PortGroup != "" {
		return fmt.Sprintf("container network %q (%s)", p.PortGroup, p.Subnet)
	}
	return "subnet " + p.Subnet.String()
}

// checkRequested says why a, asked for by name, cannot be handed out from pool p whose
// container addresses lie in spans, or returns nil. Bridge networks accept any address of their
// subnet (Docker users put --ip outside --ip-range on purpose); container networks only
// addresses of their configured ranges, since the rest of the port group belongs to others.
func checkRequested(p Pool, spans []span, a netip.Addr, taken map[netip.Addr]bool) error {
	all := config.PrefixRange(p.Subnet)
	switch {
	case !a.Is4():
		return newError(ErrInvalid, "address %s is not an IPv4 address: the vic IPAM driver supports IPv4 only", a)
	case !p.Subnet.Contains(a):
		return newError(ErrInvalid, "address %s is outside %s", a, p.where())
	case a == all.First:
		return newError(ErrInvalid, "address %s is the network address of %s and cannot be handed out", a, p.where())
	case a == all.Last:
		return newError(ErrInvalid, "address %s is the broadcast address of %s and cannot be handed out", a, p.where())
	case a == p.Gateway:
		return newError(ErrConflict, "address %s is the gateway of %s and cannot be handed out", a, p.where())
	case p.PortGroup != "" && !inSpans(spans, a):
		return newError(ErrInvalid, "address %s is outside the ranges %s that docker-vic hands out on %s", a, spansString(spans), p.where())
	case taken[a]:
		return newError(ErrConflict, "address %s is already in use in %s", a, p.where())
	}
	return nil
}

// spansString writes spans for messages: "10.0.0.10-10.0.0.99, 10.0.0.200-10.0.0.250".
func spansString(spans []span) string {
	parts := make([]string, len(spans))
	for i, s := range spans {
		parts[i] = addr4(s.first).String() + "-" + addr4(s.last).String()
	}
	return strings.Join(parts, ", ")
}
