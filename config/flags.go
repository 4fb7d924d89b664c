package config

import (
	"net/netip"
	"strconv"
	"strings"
)

// CreateFlags renders c as the arguments of `docker vic create` that rebuild it, defaults
// left out. Connection flags (target, credentials) are not part of a VCH's configuration.
func (c *Config) CreateFlags() []string {
	var args []string
	add := func(flag, value string) { args = append(args, flag, value) }
	addIf := func(flag, value, def string) {
		if value != "" && value != def {
			add(flag, value)
		}
	}
	add("--name", c.Name)
	if c.EndpointCount() > 1 {
		add("--endpoints", strconv.Itoa(c.EndpointCount()))
	}
	addIf("--compute-resource", c.Placement.ComputeResource, "")
	addIf("--image-store", c.Placement.ImageStore, "")
	if c.Placement.UseVApp {
		args = append(args, "--use-vapp")
	}
	addIf("--appliance-iso", c.Placement.ApplianceISO, "")
	if c.Placement.CPUs != 0 {
		add("--endpoint-cpu", strconv.Itoa(c.Placement.CPUs))
	}
	if c.Placement.MemoryMB != 0 {
		add("--endpoint-memory", strconv.Itoa(c.Placement.MemoryMB))
	}

	addIf("--public-network", c.Public.PortGroup, DefaultPublicNetwork)
	addRole(&args, "public", c.Public)
	addIf("--client-network", c.Client.PortGroup, c.Public.PortGroup)
	addRole(&args, "client", c.Client)
	addIf("--management-network", c.Management.PortGroup, c.Client.PortGroup)
	addRole(&args, "management", c.Management)

	addIf("--bridge-network", c.Bridge.PortGroup, c.Name)
	if c.Bridge.Range.IsValid() && c.Bridge.Range.String() != DefaultBridgeRange {
		add("--bridge-network-range", c.Bridge.Range.String())
	}
	if c.Bridge.Width != 0 && c.Bridge.Width != DefaultBridgeWidth {
		add("--bridge-network-width", strconv.Itoa(c.Bridge.Width))
	}

	for _, n := range c.ContainerNetworks {
		if n.Alias != "" && n.Alias != n.PortGroup {
			add("--container-network", n.PortGroup+":"+n.Alias)
		} else {
			add("--container-network", n.PortGroup)
		}
		if n.Gateway.IsValid() {
			add("--container-network-gateway", n.PortGroup+":"+n.Gateway.String())
		}
		for _, r := range n.Ranges {
			add("--container-network-ip-range", n.PortGroup+":"+r.String())
		}
		for _, d := range n.DNS {
			add("--container-network-dns", n.PortGroup+":"+d.String())
		}
		if n.Firewall != "" && n.Firewall != DefaultFirewall {
			add("--container-network-firewall", n.PortGroup+":"+string(n.Firewall))
		}
	}
	for _, d := range c.DNS {
		add("--dns-server", d.String())
	}
	if c.NoContainerVMs {
		args = append(args, "--container-vms=false")
	}
	return args
}

func addRole(args *[]string, role string, n RoleNetwork) {
	if n.IP.IsValid() {
		*args = append(*args, "--"+role+"-network-ip", joinPrefixes(n.Addresses()))
	}
	if !n.Gateway.IsZero() {
		*args = append(*args, "--"+role+"-network-gateway", n.Gateway.String())
	}
}

// ShellQuote joins args for a shell, quoting what needs it.
func ShellQuote(args []string) string {
	out := make([]string, len(args))
	for i, a := range args {
		if a != "" && strings.IndexFunc(a, func(r rune) bool {
			return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("-_./:,=@+", r))
		}) < 0 {
			out[i] = a
			continue
		}
		out[i] = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
	}
	return strings.Join(out, " ")
}

// Addrs formats addresses for display, comma separated.
func Addrs(as []netip.Addr) string {
	s := make([]string, len(as))
	for i, a := range as {
		s[i] = a.String()
	}
	return strings.Join(s, ",")
}
