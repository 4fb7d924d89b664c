package config

import (
	"fmt"
	"net/netip"
	"regexp"
	"strconv"
	"strings"
	"unicode"
)

// Error is a configuration value that breaks a rule. Its text names the flag, the value and the
// rule, in one lowercase sentence.
type Error struct {
	Flag  string
	Value string
	Rule  string
}

func (e *Error) Error() string {
	if e.Value == "" {
		return fmt.Sprintf("invalid %s: %s", e.Flag, e.Rule)
	}
	return fmt.Sprintf("invalid %s %q: %s", e.Flag, e.Value, e.Rule)
}

func invalid(flag, value, format string, args ...any) *Error {
	return &Error{Flag: flag, Value: value, Rule: fmt.Sprintf(format, args...)}
}

// forbiddenNameChars are the characters vSphere and VIC refuse in a VCH name.
const forbiddenNameChars = `%&*$#@!\/:?"<>;'|`

// dockerName is what Docker accepts as a network name.
var dockerName = regexp.MustCompile(`^[a-zA-Z0-9][a-zA-Z0-9_.-]*$`)

// contextName is what Docker accepts as a context name (docker/cli's context store): a new VCH
// becomes a Docker context of its name.
var contextName = regexp.MustCompile(`^[a-zA-Z0-9][a-zA-Z0-9_.+-]+$`)

// reservedAliases are the network names Docker keeps for itself.
var reservedAliases = []string{"bridge", "host", "none"}

// ValidateName checks a VCH name.
func ValidateName(name string) error {
	switch {
	case name == "":
		return invalid("--name", name, "a VCH needs a name")
	case len(name) > MaxNameLength:
		return invalid("--name", name, "a VCH name has at most %d characters, this one has %d", MaxNameLength, len(name))
	case strings.TrimSpace(name) != name:
		return invalid("--name", name, "a VCH name cannot start or end with a space")
	}
	if i := strings.IndexAny(name, forbiddenNameChars); i >= 0 {
		return invalid("--name", name, "a VCH name cannot contain %q (nor any of %s)", name[i], forbiddenNameChars)
	}
	return nil
}

// ValidateNewName checks the name of a VCH about to be created: the rules of ValidateName, and
// those of a Docker context name, since create makes a context of that name. VCHs created
// before this rule keep their names.
func ValidateNewName(name string) error {
	if err := ValidateName(name); err != nil {
		return err
	}
	switch {
	case strings.ContainsFunc(name, unicode.IsSpace):
		return invalid("--name", name, "a VCH name cannot contain spaces: it is also the name of its Docker context")
	case !contextName.MatchString(name):
		return invalid("--name", name, "a VCH name is also the name of its Docker context: at least 2 characters, starting with a letter or digit, and only letters, digits, \"_\", \".\", \"+\" or \"-\"")
	}
	return nil
}

// Validate checks every rule that needs no vSphere inventory. ApplyDefaults must have run.
// It returns the first broken rule as an *Error.
func (c *Config) Validate() error {
	if c.Version > SchemaVersion {
		return fmt.Errorf("configuration of VCH %q has schema version %d, this docker-vic reads up to %d: upgrade docker-vic", c.Name, c.Version, SchemaVersion)
	}
	if err := ValidateName(c.Name); err != nil {
		return err
	}
	if err := c.validateEndpoints(); err != nil {
		return err
	}
	for _, r := range []struct {
		name string
		net  RoleNetwork
	}{{"public", c.Public}, {"client", c.Client}, {"management", c.Management}} {
		if err := validateRole(r.name, r.net, r.name == "public"); err != nil {
			return err
		}
	}
	if err := c.validateBridge(); err != nil {
		return err
	}
	if err := c.validateContainerNetworks(); err != nil {
		return err
	}
	return validateDNS("--dns-server", c.DNS, MaxDNSServers)
}

func validateRole(role string, n RoleNetwork, needsGateway bool) error {
	flag := "--" + role + "-network"
	if n.PortGroup == "" {
		return invalid(flag, "", "the %s network needs a port group", role)
	}
	if !n.IP.IsValid() {
		if !n.Gateway.IsZero() {
			return invalid(flag+"-gateway", n.Gateway.String(), "a gateway needs a static address: set %s-ip too", flag)
		}
		return nil
	}
	for _, ip := range n.Addresses() {
		if err := validateAddress(role, ip, n.Gateway, needsGateway); err != nil {
			return err
		}
	}
	if role == "public" && len(n.Gateway.Destinations) > 0 {
		return invalid(flag+"-gateway", n.Gateway.String(), "the public gateway is the default route and takes no destinations")
	}
	return nil
}

// validateAddress checks one static address of a role and the role's gateway against it.
func validateAddress(role string, ip netip.Prefix, gw Gateway, needsGateway bool) error {
	flag := "--" + role + "-network"
	ipFlag := flag + "-ip"
	switch {
	case !ip.Addr().Is4():
		return invalid(ipFlag, ip.String(), "only IPv4 addresses are supported")
	case ip.Bits() > 30 || ip.Bits() < 1:
		return invalid(ipFlag, ip.String(), "the prefix length must be between 1 and 30")
	case ip.Addr() == ip.Masked().Addr() || ip.Addr() == PrefixRange(ip).Last:
		return invalid(ipFlag, ip.String(), "the address is the network or broadcast address of its subnet")
	}
	if gw.IsZero() {
		if needsGateway {
			return invalid(flag+"-gateway", "", "a static %s address %s needs a gateway for the default route", role, ip)
		}
		return nil
	}
	gwFlag := flag + "-gateway"
	if !ip.Masked().Contains(gw.IP) {
		return invalid(gwFlag, gw.String(), "the gateway must lie in the subnet of %s %s", ipFlag, ip.Masked())
	}
	if gw.IP == ip.Addr() {
		return invalid(gwFlag, gw.String(), "the gateway cannot be the endpoint's own address")
	}
	return nil
}

func (c *Config) validateBridge() error {
	b := c.Bridge
	if b.PortGroup == "" {
		return invalid("--bridge-network", "", "the bridge network needs a port group")
	}
	for _, r := range []struct{ flag, pg string }{
		{"--public-network", c.Public.PortGroup},
		{"--client-network", c.Client.PortGroup},
		{"--management-network", c.Management.PortGroup},
	} {
		if r.pg == b.PortGroup {
			return invalid("--bridge-network", b.PortGroup, "the bridge port group is dedicated to one VCH and cannot also be the %s port group", strings.TrimPrefix(r.flag, "--"))
		}
	}
	if c.ContainerNetwork(b.PortGroup) != nil {
		return invalid("--bridge-network", b.PortGroup, "the bridge port group is dedicated to one VCH and cannot also be a --container-network")
	}
	width := strconv.Itoa(b.Width)
	switch {
	case !b.Range.IsValid():
		return invalid("--bridge-network-range", "", "the bridge range must be an IPv4 CIDR")
	case !b.Range.Addr().Is4():
		return invalid("--bridge-network-range", b.Range.String(), "only IPv4 ranges are supported")
	case b.Range != b.Range.Masked():
		return invalid("--bridge-network-range", b.Range.String(), "the range must be a network address, such as %s", b.Range.Masked())
	case b.Width < b.Range.Bits():
		return invalid("--bridge-network-width", width, "the width must be at least the prefix length of --bridge-network-range %s", b.Range)
	case b.Width > 30:
		return invalid("--bridge-network-width", width, "the width must be at most 30, so each bridge network has room for containers")
	}
	for _, r := range []struct {
		name string
		net  RoleNetwork
	}{{"public", c.Public}, {"client", c.Client}, {"management", c.Management}} {
		for _, ip := range r.net.Addresses() {
			if ip.Masked().Overlaps(b.Range) {
				return invalid("--bridge-network-range", b.Range.String(), "the range overlaps the %s subnet %s", r.name, ip.Masked())
			}
		}
	}
	return nil
}

func (c *Config) validateContainerNetworks() error {
	aliases := map[string]string{}
	portGroups := map[string]bool{}
	bridge := PrefixRange(c.Bridge.Range)
	for _, n := range c.ContainerNetworks {
		spec := n.PortGroup + ":" + n.Alias
		switch {
		case n.PortGroup == "":
			return invalid("--container-network", spec, "a container network needs a port group")
		case portGroups[n.PortGroup]:
			return invalid("--container-network", n.PortGroup, "the port group is listed twice")
		case strings.ContainsAny(n.Alias, " \t"):
			return invalid("--container-network", spec, "the alias cannot contain spaces")
		case isReserved(n.Alias):
			return invalid("--container-network", spec, "the alias %q is reserved by Docker", n.Alias)
		case !dockerName.MatchString(n.Alias):
			return invalid("--container-network", spec, "the alias must start with a letter or digit and hold only letters, digits, '_', '.' and '-'")
		case aliases[n.Alias] != "":
			return invalid("--container-network", spec, "the alias %q is already used by port group %q", n.Alias, aliases[n.Alias])
		}
		portGroups[n.PortGroup] = true
		aliases[n.Alias] = n.PortGroup
		if _, ok := ParseFirewall(string(n.Firewall)); !ok {
			return invalid("--container-network-firewall", n.PortGroup+":"+string(n.Firewall), "the level must be %s", FirewallNames())
		}
		if err := validateDNS("--container-network-dns", n.DNS, MaxDNSServers); err != nil {
			return err
		}
		if err := validateAddressing(n, bridge); err != nil {
			return err
		}
	}
	return nil
}

func validateAddressing(n ContainerNetwork, bridge IPRange) error {
	if n.DHCP() {
		if len(n.Ranges) > 0 {
			return invalid("--container-network-ip-range", n.PortGroup+":"+n.Ranges[0].String(), "a range needs --container-network-gateway %s:GW/MASK; without a gateway the port group's DHCP server hands out addresses", n.PortGroup)
		}
		return nil
	}
	gw := n.Gateway
	gwValue := n.PortGroup + ":" + gw.String()
	switch {
	case !gw.Addr().Is4():
		return invalid("--container-network-gateway", gwValue, "only IPv4 gateways are supported")
	case gw.Bits() > 30 || gw.Bits() < 1:
		return invalid("--container-network-gateway", gwValue, "the mask must be between /1 and /30")
	case gw.Addr() == gw.Masked().Addr() || gw.Addr() == PrefixRange(gw).Last:
		return invalid("--container-network-gateway", gwValue, "the gateway is the network or broadcast address of %s", gw.Masked())
	}
	if subnet := PrefixRange(gw); subnet.Overlaps(bridge) {
		return invalid("--container-network-gateway", gwValue, "the subnet %s overlaps the bridge range", gw.Masked())
	}
	for i, r := range n.Ranges {
		value := n.PortGroup + ":" + r.String()
		switch {
		case !r.Within(gw.Masked()):
			return invalid("--container-network-ip-range", value, "the range must lie inside the gateway's subnet %s", gw.Masked())
		case r.Contains(gw.Addr()):
			return invalid("--container-network-ip-range", value, "the range holds the gateway %s", gw.Addr())
		}
		for _, o := range n.Ranges[:i] {
			if r.Overlaps(o) {
				return invalid("--container-network-ip-range", value, "the range overlaps %s", o)
			}
		}
	}
	return nil
}

func validateDNS(flag string, servers []netip.Addr, max int) error {
	if len(servers) > max {
		return invalid(flag, servers[max].String(), "at most %d DNS servers are allowed", max)
	}
	for _, s := range servers {
		if !s.Is4() {
			return invalid(flag, s.String(), "only IPv4 DNS servers are supported")
		}
	}
	return nil
}

func isReserved(alias string) bool {
	for _, r := range reservedAliases {
		if strings.EqualFold(alias, r) {
			return true
		}
	}
	return false
}
