package config

import (
	"net/netip"
	"strconv"
	"strings"
)

// MaxEndpoints bounds --endpoints: a VCH's endpoints are kept on different hosts, and a
// cluster has at most a few dozen.
const MaxEndpoints = 32

// Keys of the endpoint number in an endpoint VM's extraConfig: every endpoint VM carries the
// VCH's configuration, and endpoints 2 to N carry their number beside it, hidden for the CLI
// and the daemon, and under guestinfo for the guest's boot. A VM without it is endpoint 1.
const (
	HiddenKeyEndpoint = HiddenPrefix + "endpoint"
	KeyEndpoint       = KeyPrefix + "endpoint"
)

// EndpointCount returns the number of endpoint VMs, one for a configuration stored before
// there could be several.
func (c *Config) EndpointCount() int { return max(c.Endpoints, 1) }

// EndpointVMName returns the name of endpoint VM i (from 1) of VCH name: the VCH's own name for
// the first, NAME-i for the others.
func EndpointVMName(name string, i int) string {
	if i <= 1 {
		return name
	}
	return name + "-" + strconv.Itoa(i)
}

// EndpointKeys returns the extraConfig entries that number endpoint VM i, beside the
// configuration's (Encode): none for the first.
func EndpointKeys(i int) map[string]string {
	if i <= 1 {
		return map[string]string{}
	}
	n := strconv.Itoa(i)
	return map[string]string{HiddenKeyEndpoint: n, KeyEndpoint: n}
}

// EndpointOf reads the endpoint number of a VM from its extraConfig (the hidden key): 1 when
// there is none, 0 when it is not a number from 2 to MaxEndpoints.
func EndpointOf(extraConfig map[string]string) int {
	raw, ok := extraConfig[HiddenKeyEndpoint]
	if !ok {
		return 1
	}
	i, err := strconv.Atoi(raw)
	if err != nil || i < 2 || i > MaxEndpoints {
		return 0
	}
	return i
}

// Addresses returns the static addresses of the role in endpoint order, or none for DHCP.
func (r RoleNetwork) Addresses() []netip.Prefix {
	if !r.IP.IsValid() {
		return nil
	}
	return append([]netip.Prefix{r.IP}, r.MoreIPs...)
}

// AddressOf returns the static address of endpoint i (from 1), or an invalid one.
func (r RoleNetwork) AddressOf(i int) netip.Prefix {
	if as := r.Addresses(); i >= 1 && i <= len(as) {
		return as[i-1]
	}
	return netip.Prefix{}
}

// SetAddresses stores the static addresses of the role in endpoint order; none means DHCP.
func (r *RoleNetwork) SetAddresses(as []netip.Prefix) {
	r.IP, r.MoreIPs = netip.Prefix{}, nil
	if len(as) > 0 {
		r.IP = as[0]
	}
	if len(as) > 1 {
		r.MoreIPs = append([]netip.Prefix(nil), as[1:]...)
	}
}

// Endpoint returns the configuration as endpoint i (from 1) sees itself: the role networks
// carry that endpoint's static addresses in IP, and no others.
func (c *Config) Endpoint(i int) *Config {
	out := c.Clone()
	for _, r := range []*RoleNetwork{&out.Public, &out.Client, &out.Management} {
		r.IP, r.MoreIPs = r.AddressOf(i), nil
	}
	return out
}

// ParseAddresses reads the value of a --X-network-ip flag, given once per endpoint or as a
// comma-separated list in endpoint order.
func ParseAddresses(flag string, values []string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, v := range values {
		for _, s := range strings.Split(v, ",") {
			p, err := netip.ParsePrefix(strings.TrimSpace(s))
			if err != nil {
				return nil, invalid(flag, s, "write each address with its prefix length, such as 198.51.100.10/24, one per endpoint")
			}
			out = append(out, p)
		}
	}
	return out, nil
}

// validateEndpoints checks the count of endpoints and that each static role has one address
// per endpoint, all different.
func (c *Config) validateEndpoints() error {
	n := c.Endpoints
	if n < 1 || n > MaxEndpoints {
		return invalid("--endpoints", strconv.Itoa(n), "a VCH has from 1 to %d endpoints", MaxEndpoints)
	}
	for _, r := range []struct {
		name string
		net  RoleNetwork
	}{{"public", c.Public}, {"client", c.Client}, {"management", c.Management}} {
		flag := "--" + r.name + "-network-ip"
		as := r.net.Addresses()
		if len(as) == 0 {
			if len(r.net.MoreIPs) > 0 {
				return invalid(flag, r.net.MoreIPs[0].String(), "the addresses of endpoints 2 and up need the first endpoint's")
			}
			continue
		}
		if len(as) != n {
			return invalid(flag, joinPrefixes(as), "a VCH of %d endpoints needs %d static %s addresses, one per endpoint in endpoint order, or none for DHCP", n, n, r.name)
		}
		seen := map[netip.Addr]bool{}
		for _, a := range as {
			if seen[a.Addr()] {
				return invalid(flag, joinPrefixes(as), "each endpoint needs its own address, and %s is given twice", a.Addr())
			}
			seen[a.Addr()] = true
		}
	}
	return nil
}

func joinPrefixes(ps []netip.Prefix) string {
	s := make([]string, len(ps))
	for i, p := range ps {
		s[i] = p.String()
	}
	return strings.Join(s, ",")
}
