package ipamdriver

import (
	"crypto/rand"
	"encoding/hex"
	"net/netip"
	"strings"
)

// newNonce returns a fresh nonce for a PoolID. Tests that compare PoolIDs replace it.
var newNonce = func() string {
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// poolIDPrefix starts every PoolID the driver hands out.
const poolIDPrefix = DriverName + "/"

// dhcpSubnet is the subnet Docker gets for a DHCP container network: the addresses come from the
// port group's DHCP server, so the pool holds them all (libnetwork's null IPAM does the same).
var dhcpSubnet = netip.MustParsePrefix("0.0.0.0/0")

// PoolRef is what a PoolID says about its pool, so that the pool's subnet is known without
// state. Its text form, the PoolID, is
//
//	vic/SUBNET[/SUBPOOL][#NONCE][@PORTGROUP]
//
// for example "vic/172.16.0.0/16" (a bridge network), "vic/172.20.0.0/16/172.20.5.0/24" (with
// --ip-range), "vic/198.51.100.0/24@containers" (the container network on port group
// "containers") and "vic/0.0.0.0/0@dhcp-pg" (a DHCP container network). The port group comes
// last and may hold any character. The nonce makes each allocation's ID its own: a stale
// network that Docker cleans up long after the driver forgot it (its state lost with a
// rebuilt endpoint) cannot release the pool of a newer network on the same subnet.
type PoolRef struct {
	// Subnet is the pool's subnet: 0.0.0.0/0 for a DHCP container network.
	Subnet netip.Prefix
	// SubPool is the --ip-range containers get their addresses from, if any.
	SubPool netip.Prefix
	// PortGroup names the container network the pool belongs to; empty for bridge networks.
	PortGroup string
	// Nonce tells apart allocations of the same subnet; empty in IDs of older versions.
	Nonce string
}

// DHCP reports whether the pool belongs to a container network served by a DHCP server.
func (r PoolRef) DHCP() bool { return r.PortGroup != "" && r.Subnet == dhcpSubnet }

// String returns the PoolID.
func (r PoolRef) String() string {
	var b strings.Builder
	b.WriteString(poolIDPrefix)
	b.WriteString(r.Subnet.String())
	if r.SubPool.IsValid() {
		b.WriteString("/")
		b.WriteString(r.SubPool.String())
	}
	if r.Nonce != "" {
		b.WriteString("#")
		b.WriteString(r.Nonce)
	}
	if r.PortGroup != "" {
		b.WriteString("@")
		b.WriteString(r.PortGroup)
	}
	return b.String()
}

// ParsePoolID reads a PoolID made by the driver.
func ParsePoolID(id string) (PoolRef, error) {
	bad := func(rule string) (PoolRef, error) {
		return PoolRef{}, newError(ErrUnknownPool, "pool %q was not made by the vic IPAM driver: %s", id, rule)
	}
	rest, ok := strings.CutPrefix(id, poolIDPrefix)
	if !ok {
		return bad("it does not start with " + poolIDPrefix)
	}
	var ref PoolRef
	rest, ref.PortGroup, _ = strings.Cut(rest, "@")
	rest, ref.Nonce, _ = strings.Cut(rest, "#")
	parts := strings.Split(rest, "/")
	if len(parts) != 2 && len(parts) != 4 {
		return bad("it names neither a subnet nor a subnet and a sub-pool")
	}
	var err error
	if ref.Subnet, err = netip.ParsePrefix(parts[0] + "/" + parts[1]); err != nil || !ref.Subnet.Addr().Is4() {
		return bad("its subnet is not an IPv4 CIDR")
	}
	if len(parts) == 4 {
		if ref.SubPool, err = netip.ParsePrefix(parts[2] + "/" + parts[3]); err != nil || !ref.SubPool.Addr().Is4() {
			return bad("its sub-pool is not an IPv4 CIDR")
		}
	}
	return ref, nil
}
