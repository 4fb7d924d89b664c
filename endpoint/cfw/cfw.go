// Package cfw is the container firewall of vic container networks: the firewall level of a
// container attached to a port group (closed, outbound, published, peers or open) and its port
// redirects, enforced by one nftables table inside the container's network namespace.
//
// Inbound, closed lets nothing in, outbound replies only, published replies, ping and the
// published ports, peers all that published does and anything from the network's own ranges, and
// open everything; outbound, only closed lets nothing out. Every rule matches the container's
// address on that network, so the container's loopback and its other interfaces (a bridge
// network too) are left alone.
package cfw

import (
	"fmt"
	"net/netip"
	"slices"

	"github.com/docker-vic/docker-vic/config"
)

// Rules is the firewall of one container on one container network.
type Rules struct {
	// Address is the container's IPv4 address on that network: every rule matches it.
	Address netip.Addr
	// Level is the firewall level of the network.
	Level config.Firewall
	// Peers are the network's own ranges: at the peers level, anything from them is let in
	// (besides what the published level lets in).
	Peers []netip.Prefix
	// Ports are the published ports (-p): at the published and peers levels, clients may
	// dial them. They are refused as redirects at the closed and outbound levels and let
	// nothing in at those levels otherwise.
	Ports []Port
}

// Port is one published port of a container.
type Port struct {
	// Proto is "tcp", "udp" or "sctp".
	Proto string
	// Port is what clients dial at the container's address.
	Port uint16
	// Target is the port the container's service listens on; it differs from Port when
	// Port is redirected to it (-p H:C with H≠C).
	Target uint16
}

// Redirected reports whether clients dialing p.Port reach p.Target instead.
func (p Port) Redirected() bool { return p.Port != p.Target }

// String is "80/tcp", or "8081->80/tcp" for a redirect.
func (p Port) String() string {
	if p.Redirected() {
		return fmt.Sprintf("%d->%d/%s", p.Port, p.Target, p.Proto)
	}
	return fmt.Sprintf("%d/%s", p.Port, p.Proto)
}

// Protos are the protocols a port may have.
var Protos = []string{"tcp", "udp", "sctp"}

// MaxNameLen bounds an endpoint name: the table is "vic-"+name.
const MaxNameLen = 12

// TableName is the name of the nftables table (family ip) holding the firewall of endpoint name.
func TableName(name string) string { return "vic-" + name }

// Validate checks r before anything reaches the kernel.
func (r Rules) Validate() error {
	if !r.Address.Is4() {
		return fmt.Errorf("container address %q: the container network firewall takes an IPv4 address", r.Address)
	}
	if !slices.Contains(config.FirewallLevels, r.Level) {
		return fmt.Errorf("container network firewall level %q: the level must be %s", r.Level, config.FirewallNames())
	}
	for _, p := range r.Peers {
		if !p.IsValid() || !p.Addr().Is4() {
			return fmt.Errorf("peer range %q: the container network firewall takes IPv4 ranges", p)
		}
	}
	seen := make(map[string]Port, len(r.Ports))
	for _, p := range r.Ports {
		if err := r.validatePort(p); err != nil {
			return fmt.Errorf("port %s: %w", p, err)
		}
		key := fmt.Sprintf("%d/%s", p.Port, p.Proto)
		if q, ok := seen[key]; ok {
			return fmt.Errorf("port %s: port %s is already published as %s", p, key, q)
		}
		seen[key] = p
	}
	return nil
}

func (r Rules) validatePort(p Port) error {
	switch {
	case !slices.Contains(Protos, p.Proto):
		return fmt.Errorf("the protocol must be tcp, udp or sctp")
	case p.Port == 0 || p.Target == 0:
		return fmt.Errorf("ports must be between 1 and 65535")
	case p.Redirected() && (r.Level == config.FirewallClosed || r.Level == config.FirewallOutbound):
		return fmt.Errorf("container network firewall level %q takes no port redirects", r.Level)
	}
	return nil
}

// validName checks an endpoint name before it names a table.
func validName(name string) error {
	if name == "" || len(name) > MaxNameLen {
		return fmt.Errorf("endpoint name %q: the name must have 1 to %d characters", name, MaxNameLen)
	}
	return nil
}
