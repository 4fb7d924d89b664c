package nat

import "fmt"

// maxLinkName is the kernel's limit on interface names (IFNAMSIZ - 1).
const maxLinkName = 15

// validate checks a state before anything is rendered and returns its networks by bridge.
func (m *Model) validate(s State) (map[string]BridgeNetwork, error) {
	nets := make(map[string]BridgeNetwork, len(s.Networks))
	for _, n := range s.Networks {
		if err := validateNetwork(n); err != nil {
			return nil, err
		}
		if old, dup := nets[n.Bridge]; dup && old != n {
			return nil, fmt.Errorf("bridge %q: listed twice with different settings", n.Bridge)
		}
		nets[n.Bridge] = n
	}
	published := make(map[pubKey]Mapping)
	for _, p := range s.Ports {
		n, ok := nets[p.Bridge]
		if !ok {
			return nil, fmt.Errorf("port mapping %s: bridge %q is not a known network", p, p.Bridge)
		}
		if err := m.ValidateMapping(p, n); err != nil {
			return nil, err
		}
		if n.Internal {
			continue
		}
		for _, key := range m.pubKeys(p) {
			if old, dup := published[key]; dup && !sameTarget(old, p) {
				return nil, fmt.Errorf("port %s:%d/%s: published twice, to %s:%d and %s:%d",
					key.addr, key.port, key.proto, old.ContainerIP, old.ContainerPort, p.ContainerIP, p.ContainerPort)
			}
			published[key] = p
		}
	}
	return nets, nil
}

// ValidateMapping checks one port mapping against the network it is published from.
func (m *Model) ValidateMapping(p Mapping, n BridgeNetwork) error {
	switch p.Proto {
	case TCP, UDP, SCTP:
	default:
		return fmt.Errorf("port mapping %s: protocol %q is not tcp, udp or sctp", p, p.Proto)
	}
	if p.HostPort == 0 || p.ContainerPort == 0 {
		return fmt.Errorf("port mapping %s: host and container ports must be picked (not 0)", p)
	}
	if err := ValidateHostIP(m.public, p.HostIP); err != nil {
		return fmt.Errorf("port mapping %s: %w", p, err)
	}
	if !p.ContainerIP.Is4() || !n.Subnet.Contains(p.ContainerIP) {
		return fmt.Errorf("port mapping %s: container address %s is not in network %s of bridge %q",
			p, p.ContainerIP, n.Subnet, n.Bridge)
	}
	return nil
}

func validateNetwork(n BridgeNetwork) error {
	if err := validateLinkName(n.Bridge); err != nil {
		return err
	}
	if !n.Subnet.IsValid() || !n.Subnet.Addr().Is4() {
		return fmt.Errorf("bridge %q: subnet %s is not an ipv4 subnet", n.Bridge, n.Subnet)
	}
	if n.Trunk != "" {
		return validateLinkName(n.Trunk)
	}
	return nil
}

// validateLinkName refuses names iptables would read differently: empty, too long, or with
// characters such as "+" (a wildcard in -i/-o) or "!".
func validateLinkName(name string) error {
	if name == "" || len(name) > maxLinkName {
		return fmt.Errorf("bridge %q: name must have 1 to %d characters", name, maxLinkName)
	}
	for _, c := range name {
		ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
			c == '-' || c == '_' || c == '.'
		if !ok {
			return fmt.Errorf("bridge %q: only letters, digits, '-', '_' and '.' are allowed", name)
		}
	}
	return nil
}

func sameTarget(a, b Mapping) bool {
	return a.ContainerIP == b.ContainerIP && a.ContainerPort == b.ContainerPort && a.Bridge == b.Bridge
}
