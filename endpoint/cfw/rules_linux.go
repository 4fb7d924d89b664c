package cfw

import (
	"encoding/binary"
	"net/netip"

	"github.com/docker-vic/docker-vic/config"
	"github.com/google/nftables"
	"github.com/google/nftables/expr"
	"golang.org/x/sys/unix"
)

// chainSpec is one base chain of the table and its rules, in order.
type chainSpec struct {
	name     string
	typ      nftables.ChainType
	hook     *nftables.ChainHook
	priority *nftables.ChainPriority
	rules    []ruleSpec
}

// ruleSpec is one rule: its comment (kept as userdata, read back by Read) and its expressions.
type ruleSpec struct {
	comment string
	exprs   []expr.Any
}

// The chains of a table. The filter chains always exist; the redirect chains only when a port is
// redirected.
const (
	ChainInput         = "input"          // filter hook input priority 0, policy accept
	ChainOutput        = "output"         // filter hook output priority 0, policy accept
	ChainRedirect      = "redirect"       // nat hook prerouting priority -100: clients' redirects
	ChainRedirectLocal = "redirect-local" // nat hook output priority -100: the container's own
)

// ctStatusDstNAT is IPS_DST_NAT: the connection's destination was translated.
const ctStatusDstNAT = 1 << 5

var ipProtos = map[string]byte{"tcp": unix.IPPROTO_TCP, "udp": unix.IPPROTO_UDP, "sctp": unix.IPPROTO_SCTP}

// plan is the table's content for r, which Validate accepted.
func plan(r Rules) []chainSpec {
	chains := []chainSpec{
		{name: ChainInput, typ: nftables.ChainTypeFilter, hook: nftables.ChainHookInput,
			priority: nftables.ChainPriorityFilter, rules: inputRules(r)},
		{name: ChainOutput, typ: nftables.ChainTypeFilter, hook: nftables.ChainHookOutput,
			priority: nftables.ChainPriorityFilter, rules: outputRules(r)},
	}
	// The redirect chains exist even when empty: a change of rules then keeps every chain
	// (and the hooks and conntrack they hold), which costs far less than replacing them.
	redirects := redirectRules(r)
	return append(chains,
		chainSpec{name: ChainRedirect, typ: nftables.ChainTypeNAT, hook: nftables.ChainHookPrerouting,
			priority: nftables.ChainPriorityNATDest, rules: redirects},
		chainSpec{name: ChainRedirectLocal, typ: nftables.ChainTypeNAT, hook: nftables.ChainHookOutput,
			priority: nftables.ChainPriorityNATDest, rules: redirects})
}

// inputRules filter what reaches the container's address: loopback first, then what the level
// lets in, then a drop.
func inputRules(r Rules) []ruleSpec {
	to := daddr(r.Address)
	loopback := rule("loopback", metaIfname(expr.MetaKeyIIFNAME, "lo"), accept())
	switch r.Level {
	case config.FirewallOpen:
		return []ruleSpec{rule("open", to, accept())}
	case config.FirewallClosed:
		return []ruleSpec{loopback, rule("closed", to, drop())}
	}
	rules := []ruleSpec{loopback,
		rule("replies", to, ctState(expr.CtStateBitESTABLISHED|expr.CtStateBitRELATED), accept())}
	if r.Level == config.FirewallPublished || r.Level == config.FirewallPeers {
		rules = append(rules, rule("ping", to, l4proto(unix.IPPROTO_ICMP), icmpType(8), accept()))
		for _, p := range r.Ports {
			if p.Redirected() {
				// Only connections the redirect chains turned to p.Target, not those dialed at it.
				rules = append(rules, rule("port "+p.String(), to, l4proto(ipProtos[p.Proto]), dport(p.Target),
					ctStatus(ctStatusDstNAT), accept()))
				continue
			}
			rules = append(rules, rule("port "+p.String(), to, l4proto(ipProtos[p.Proto]), dport(p.Port), accept()))
		}
	}
	if r.Level == config.FirewallPeers {
		for _, p := range r.Peers {
			rules = append(rules, rule("peer "+p.Masked().String(), to, saddrIn(p.Masked()), accept()))
		}
	}
	return append(rules, rule("drop", to, drop()))
}

// outputRules filter what leaves from the container's address: only the closed level does.
func outputRules(r Rules) []ruleSpec {
	if r.Level != config.FirewallClosed {
		return nil
	}
	return []ruleSpec{
		rule("loopback", metaIfname(expr.MetaKeyOIFNAME, "lo"), accept()),
		rule("closed", saddr(r.Address), drop()),
	}
}

// redirectRules turn, for each redirected port, connections to the container's address at
// Port into connections to Target.
func redirectRules(r Rules) []ruleSpec {
	if r.Level == config.FirewallClosed || r.Level == config.FirewallOutbound {
		return nil
	}
	var rules []ruleSpec
	for _, p := range r.Ports {
		if p.Redirected() {
			rules = append(rules, rule("redirect "+p.String(), daddr(r.Address), l4proto(ipProtos[p.Proto]),
				dport(p.Port), dnatTo(r.Address, p.Target)))
		}
	}
	return rules
}

func rule(comment string, parts ...[]expr.Any) ruleSpec {
	var exprs []expr.Any
	for _, p := range parts {
		exprs = append(exprs, p...)
	}
	return ruleSpec{comment: comment, exprs: exprs}
}

// daddr is `ip daddr A`.
func daddr(a netip.Addr) []expr.Any { return ipField(16, a) }

// saddr is `ip saddr A`.
func saddr(a netip.Addr) []expr.Any { return ipField(12, a) }

func ipField(offset uint32, a netip.Addr) []expr.Any {
	b := a.As4()
	return []expr.Any{
		&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: offset, Len: 4},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: b[:]},
	}
}

// saddrIn is `ip saddr P`.
func saddrIn(p netip.Prefix) []expr.Any {
	mask := binary.BigEndian.AppendUint32(nil, ^uint32(0)<<(32-p.Bits()))
	if p.Bits() == 0 {
		mask = []byte{0, 0, 0, 0}
	}
	net := p.Addr().As4()
	return []expr.Any{
		&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: 12, Len: 4},
		&expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: 4, Mask: mask, Xor: []byte{0, 0, 0, 0}},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: net[:]},
	}
}

// l4proto is `meta l4proto P`.
func l4proto(p byte) []expr.Any {
	return []expr.Any{
		&expr.Meta{Key: expr.MetaKeyL4PROTO, Register: 1},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{p}},
	}
}

// dport is `th dport P`: TCP, UDP and SCTP all keep the destination port at offset 2.
func dport(port uint16) []expr.Any {
	return []expr.Any{
		&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseTransportHeader, Offset: 2, Len: 2},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: binary.BigEndian.AppendUint16(nil, port)},
	}
}

// icmpType is `icmp type T`.
func icmpType(t byte) []expr.Any {
	return []expr.Any{
		&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseTransportHeader, Offset: 0, Len: 1},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{t}},
	}
}

// ctState is `ct state S` for the state bits S.
func ctState(bits uint32) []expr.Any { return ctBits(expr.CtKeySTATE, bits) }

// ctStatus is `ct status S` for the status bits S.
//
// A redirected port is matched by `ct status dnat` rather than by `ct original proto-dst H`:
// nftables v0.3.0 sends and reads the ct direction as 32 bits where the kernel has 8, so the
// rules of such a table could not be read back.
func ctStatus(bits uint32) []expr.Any { return ctBits(expr.CtKeySTATUS, bits) }

// ctBits matches when any of bits is set in the conntrack field key.
func ctBits(key expr.CtKey, bits uint32) []expr.Any {
	return []expr.Any{
		&expr.Ct{Register: 1, Key: key},
		&expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: 4,
			Mask: binary.NativeEndian.AppendUint32(nil, bits), Xor: []byte{0, 0, 0, 0}},
		&expr.Cmp{Op: expr.CmpOpNeq, Register: 1, Data: []byte{0, 0, 0, 0}},
	}
}

// metaIfname is `iifname NAME` or `oifname NAME`.
func metaIfname(key expr.MetaKey, name string) []expr.Any {
	b := make([]byte, unix.IFNAMSIZ)
	copy(b, name)
	return []expr.Any{
		&expr.Meta{Key: key, Register: 1},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: b},
	}
}

// dnatTo is `dnat to A:P`.
func dnatTo(a netip.Addr, port uint16) []expr.Any {
	b := a.As4()
	return []expr.Any{
		&expr.Immediate{Register: 1, Data: b[:]},
		&expr.Immediate{Register: 2, Data: binary.BigEndian.AppendUint16(nil, port)},
		&expr.NAT{Type: expr.NATTypeDestNAT, Family: unix.NFPROTO_IPV4, RegAddrMin: 1, RegProtoMin: 2},
	}
}

func accept() []expr.Any { return []expr.Any{&expr.Verdict{Kind: expr.VerdictAccept}} }

func drop() []expr.Any { return []expr.Any{&expr.Verdict{Kind: expr.VerdictDrop}} }
