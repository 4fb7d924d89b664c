package main

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"

	"github.com/spf13/pflag"

	"github.com/docker-vic/docker-vic/config"
)

// Flag names shared by create and configure.
const (
	flagContainerNetwork  = "container-network"
	flagContainerGateway  = "container-network-gateway"
	flagContainerIPRange  = "container-network-ip-range"
	flagContainerDNS      = "container-network-dns"
	flagContainerFirewall = "container-network-firewall"
	flagDNSServer         = "dns-server"
	flagContainerVMs      = "container-vms"
	flagEndpoints         = "endpoints"
)

// networkFlags are the container-network and DNS flags of create and configure, as typed.
type networkFlags struct {
	networks   []string // PG[:alias]
	gateways   []string // PG:GW/MASK
	ranges     []string // PG:CIDR or PG:A-B
	dns        []string // PG:IP
	firewalls  []string // PG:LEVEL
	dnsServers []string // IP
}

func (f *networkFlags) register(flags *pflag.FlagSet) {
	flags.StringArrayVar(&f.networks, flagContainerNetwork, nil, "Port group that containers attach to directly, `PG[:alias]` (repeatable)")
	flags.StringArrayVar(&f.gateways, flagContainerGateway, nil, "Gateway of a container network, `PG:GW/MASK` (without one, the port group's DHCP server hands out addresses)")
	flags.StringArrayVar(&f.ranges, flagContainerIPRange, nil, "Addresses of a container network, `PG:CIDR|A-B` (repeatable)")
	flags.StringArrayVar(&f.dns, flagContainerDNS, nil, "DNS server of a container network, `PG:IP` (repeatable)")
	flags.StringArrayVar(&f.firewalls, flagContainerFirewall, nil, "Firewall level of a container network, `PG:closed|outbound|published|peers|open`")
	flags.StringArrayVar(&f.dnsServers, flagDNSServer, nil, "DNS server of the endpoint and bridge-network containers, `IP` (repeatable, at most 3)")
}

// empty reports whether no flag of f was given.
func (f *networkFlags) empty() bool {
	return len(f.networks)+len(f.gateways)+len(f.ranges)+len(f.dns)+len(f.firewalls)+len(f.dnsServers) == 0
}

// apply writes the flags into cfg. Keyed options name a port group that --container-network
// lists in this command, or (configure) one that cfg already has. For a network that existed
// before, ranges and DNS servers given replace the old ones; --dns-server replaces the VCH's list.
func (f *networkFlags) apply(cfg *config.Config) error {
	existing := map[string]bool{}
	for _, n := range cfg.ContainerNetworks {
		existing[n.PortGroup] = true
	}
	listed := map[string]bool{}
	for _, spec := range f.networks {
		pg, alias := config.ParseContainerNetwork(spec)
		if pg == "" {
			return &config.Error{Flag: "--" + flagContainerNetwork, Value: spec, Rule: "a container network needs a port group, written PG[:alias]"}
		}
		if spec != strings.TrimSuffix(spec, ":") {
			return &config.Error{Flag: "--" + flagContainerNetwork, Value: spec, Rule: "the alias after ':' is empty"}
		}
		if listed[pg] {
			return &config.Error{Flag: "--" + flagContainerNetwork, Value: spec, Rule: fmt.Sprintf("port group %q is listed twice", pg)}
		}
		listed[pg] = true
		if existing[pg] {
			old := cfg.ContainerNetwork(pg)
			if alias != "" && alias != old.Alias {
				return &config.Error{Flag: "--" + flagContainerNetwork, Value: spec, Rule: fmt.Sprintf("port group %q is already the container network %q and its alias cannot change", pg, old.Alias)}
			}
			continue
		}
		cfg.ContainerNetworks = append(cfg.ContainerNetworks, config.ContainerNetwork{PortGroup: pg, Alias: alias})
	}

	known := func(pg string) bool { return listed[pg] || existing[pg] }
	// replaced records the lists this command already reset on an existing network.
	replaced := map[string]bool{}
	gatewaySet := map[string]bool{}
	firewallSet := map[string]bool{}

	for _, v := range f.gateways {
		n, value, err := keyed(cfg, known, flagContainerGateway, v, "PG:GW/MASK")
		if err != nil {
			return err
		}
		gw, err := netip.ParsePrefix(value)
		if err != nil {
			return &config.Error{Flag: "--" + flagContainerGateway, Value: v, Rule: fmt.Sprintf("%q is not an address with its mask, such as 198.51.100.1/24", value)}
		}
		if gatewaySet[n.PortGroup] {
			return &config.Error{Flag: "--" + flagContainerGateway, Value: v, Rule: fmt.Sprintf("port group %q already has a gateway in this command", n.PortGroup)}
		}
		gatewaySet[n.PortGroup] = true
		if existing[n.PortGroup] && n.Gateway != gw {
			was := "DHCP"
			if n.Gateway.IsValid() {
				was = n.Gateway.String()
			}
			return &config.Error{Flag: "--" + flagContainerGateway, Value: v, Rule: fmt.Sprintf("the gateway of existing container network %q cannot change (it is %s): remove the VCH's containers on it and recreate the VCH", n.Alias, was)}
		}
		n.Gateway = gw
	}
	for _, v := range f.ranges {
		n, value, err := keyed(cfg, known, flagContainerIPRange, v, "PG:CIDR or PG:A-B")
		if err != nil {
			return err
		}
		r, err := config.ParseIPRange(value)
		if err != nil {
			return &config.Error{Flag: "--" + flagContainerIPRange, Value: v, Rule: err.Error()}
		}
		if key := "range/" + n.PortGroup; existing[n.PortGroup] && !replaced[key] {
			replaced[key] = true
			n.Ranges = nil
		}
		n.Ranges = append(n.Ranges, r)
	}
	for _, v := range f.dns {
		n, value, err := keyed(cfg, known, flagContainerDNS, v, "PG:IP")
		if err != nil {
			return err
		}
		a, err := netip.ParseAddr(value)
		if err != nil {
			return &config.Error{Flag: "--" + flagContainerDNS, Value: v, Rule: fmt.Sprintf("%q is not an IP address", value)}
		}
		if key := "dns/" + n.PortGroup; existing[n.PortGroup] && !replaced[key] {
			replaced[key] = true
			n.DNS = nil
		}
		n.DNS = append(n.DNS, a)
	}
	for _, v := range f.firewalls {
		n, value, err := keyed(cfg, known, flagContainerFirewall, v, "PG:LEVEL")
		if err != nil {
			return err
		}
		level, ok := config.ParseFirewall(value)
		if !ok {
			return &config.Error{Flag: "--" + flagContainerFirewall, Value: v, Rule: "the level must be " + config.FirewallNames()}
		}
		if firewallSet[n.PortGroup] {
			return &config.Error{Flag: "--" + flagContainerFirewall, Value: v, Rule: fmt.Sprintf("port group %q already has a firewall level in this command", n.PortGroup)}
		}
		firewallSet[n.PortGroup] = true
		n.Firewall = level
	}
	if len(f.dnsServers) > 0 {
		cfg.DNS = nil
		for _, v := range f.dnsServers {
			a, err := netip.ParseAddr(strings.TrimSpace(v))
			if err != nil {
				return &config.Error{Flag: "--" + flagDNSServer, Value: v, Rule: "not an IP address"}
			}
			cfg.DNS = append(cfg.DNS, a)
		}
	}
	return nil
}

// keyed splits a `PG:VALUE` option and finds its container network. Port group names may hold
// colons and IPv6 values do too, so the longest prefix naming a known port group wins; the last
// colon splits otherwise.
func keyed(cfg *config.Config, known func(string) bool, flag, v, form string) (*config.ContainerNetwork, string, error) {
	pg, value, ok := "", "", false
	for i := len(v) - 1; i > 0; i-- {
		if v[i] == ':' && known(v[:i]) && i < len(v)-1 {
			pg, value, ok = v[:i], v[i+1:], true
			break
		}
	}
	if !ok {
		pg, value, ok = config.SplitKeyed(v)
	}
	if !ok {
		return nil, "", &config.Error{Flag: "--" + flag, Value: v, Rule: "write " + form}
	}
	if !known(pg) {
		return nil, "", unknownPortGroupError{err: &config.Error{Flag: "--" + flag, Value: v, Rule: fmt.Sprintf("port group %q is not a container network: add --%s %s", pg, flagContainerNetwork, pg)}}
	}
	return cfg.ContainerNetwork(pg), value, nil
}

// unknownPortGroupError is a keyed option naming a port group that is no container network.
type unknownPortGroupError struct{ err *config.Error }

func (e unknownPortGroupError) Error() string { return e.err.Error() }

func (e unknownPortGroupError) Unwrap() error { return e.err }

// isUnknownPortGroup reports whether err is an unknownPortGroupError.
func isUnknownPortGroup(err error) bool {
	var u unknownPortGroupError
	return errors.As(err, &u)
}
