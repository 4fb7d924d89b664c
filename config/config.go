// Package config owns the VCH configuration: the schema that `docker vic create` writes into
// the endpoint VM's extraConfig and that vic-endpoint reads back, its validation (every rule
// that needs no vSphere inventory), and its rendering as the flags of `docker vic create`.
//
// It builds on every platform: the CLI plugin uses it on macOS and Windows too.
package config

import (
	"net/netip"
	"sort"
)

// SchemaVersion is the version of the stored configuration. A VCH whose stored version is
// newer than this one is refused rather than misread.
const SchemaVersion = 1

// Defaults of `docker vic create`.
const (
	DefaultPublicNetwork = "VM Network"
	DefaultBridgeRange   = "172.16.0.0/12"
	DefaultBridgeWidth   = 16
	DefaultFirewall      = FirewallPublished
	MaxNameLength        = 31
	MaxDNSServers        = 3
	DockerTLSPort        = 2376
)

// Config is the whole configuration of one Virtual Container Host.
type Config struct {
	// Version is the schema version the configuration was written with.
	Version int `json:"version"`
	// Revision counts the changes made by `docker vic configure`; create writes 1.
	Revision int `json:"revision"`
	// Name is the VCH's name: the endpoint VM, its resource pool and its folder carry it.
	Name string `json:"name"`
	// Endpoints counts the VCH's endpoint VMs (--endpoints): the first carries Name, the others
	// EndpointVMName's derived names. A configuration stored before the field existed reads as 1.
	Endpoints int `json:"endpoints"`

	// Server is the vSphere server the endpoint VM reaches. It never holds a credential.
	Server Server `json:"target"`
	// Placement says where in the inventory the VCH lives.
	Placement Placement `json:"placement"`

	Public     RoleNetwork `json:"public"`
	Client     RoleNetwork `json:"client"`
	Management RoleNetwork `json:"management"`
	Bridge     Bridge      `json:"bridge"`
	// ContainerNetworks are the port groups containers attach to directly, in flag order.
	ContainerNetworks []ContainerNetwork `json:"containerNetworks,omitempty"`
	// DNS servers of the endpoint and of bridge-network containers.
	DNS []netip.Addr `json:"dns,omitempty"`

	// NoContainerVMs turns container VMs off (--container-vms=false): the VCH maps networks
	// only, and vSphere shows no VM per container.
	NoContainerVMs bool `json:"noContainerVMs,omitempty"`

	// TLS holds the public half of the Docker API's certificates. Private keys are never stored.
	TLS TLS `json:"tls"`
}

// Server is the vCenter or ESXi server the VCH was created on, as stored with the VCH. The
// session's resolved target, with its credentials, is vsphere.Target.
type Server struct {
	// URL is the SDK URL, without user or password (https://vc.example.com/sdk).
	URL string `json:"url"`
	// Thumbprint is the SHA-1 or SHA-256 certificate thumbprint the admin accepted, if any.
	Thumbprint string `json:"thumbprint,omitempty"`
	Insecure   bool   `json:"insecure,omitempty"`
}

// Placement says where the VCH's objects live in the vSphere inventory.
type Placement struct {
	Datacenter string `json:"datacenter"`
	// ComputeResource is the inventory path of the cluster, host or pool the VCH was created under.
	ComputeResource string `json:"computeResource"`
	// ImageStore is the datastore of the endpoint VM and of container VMs.
	ImageStore string `json:"imageStore"`
	UseVApp    bool   `json:"useVApp,omitempty"`
	// ApplianceISO is the datastore path of the endpoint's boot image, if any.
	ApplianceISO string `json:"applianceISO,omitempty"`
	CPUs         int    `json:"cpus,omitempty"`
	MemoryMB     int    `json:"memoryMB,omitempty"`
}

// RoleNetwork is the public, client or management network of a VCH.
type RoleNetwork struct {
	PortGroup string `json:"portGroup"`
	// IP is the static address with its prefix length; invalid (zero) means DHCP. With several
	// endpoints it is the first endpoint's.
	IP netip.Prefix `json:"ip,omitzero"`
	// MoreIPs are the static addresses of endpoints 2 to N, in endpoint order: a static role
	// of a VCH of N endpoints has N addresses, IP and N-1 here.
	MoreIPs []netip.Prefix `json:"moreIPs,omitempty"`
	// Gateway is the static gateway, possibly for some destinations only.
	Gateway Gateway `json:"gateway,omitzero"`
}

// Static reports whether the role has a static address.
func (r RoleNetwork) Static() bool { return r.IP.IsValid() }

// Gateway is a next hop, optionally limited to some destinations (`CIDR,CIDR:IP`).
type Gateway struct {
	Destinations []netip.Prefix `json:"destinations,omitempty"`
	IP           netip.Addr     `json:"ip,omitzero"`
}

// IsZero reports whether no gateway was set.
func (g Gateway) IsZero() bool { return !g.IP.IsValid() && len(g.Destinations) == 0 }

// Bridge is the port group and address space of the VCH's bridge networks.
type Bridge struct {
	PortGroup string       `json:"portGroup"`
	Range     netip.Prefix `json:"range"`
	Width     int          `json:"width"`
}

// ContainerNetwork is a port group that containers attach to directly, with their own MAC.
type ContainerNetwork struct {
	PortGroup string `json:"portGroup"`
	// Alias is the Docker network name; it defaults to the port group name.
	Alias string `json:"alias"`
	// Gateway is the gateway address with the network's prefix length; zero means DHCP.
	Gateway netip.Prefix `json:"gateway,omitzero"`
	// Ranges are the addresses docker-vic hands out; empty with a gateway means the whole subnet.
	Ranges   []IPRange    `json:"ranges,omitempty"`
	DNS      []netip.Addr `json:"dns,omitempty"`
	Firewall Firewall     `json:"firewall"`
}

// DHCP reports whether addresses come from the port group's own DHCP server.
func (n ContainerNetwork) DHCP() bool { return !n.Gateway.IsValid() }

// Firewall is the trust level of a container network, enforced inside each container.
type Firewall string

// The firewall levels, from the most closed to the most open.
const (
	FirewallClosed    Firewall = "closed"
	FirewallOutbound  Firewall = "outbound"
	FirewallPublished Firewall = "published"
	FirewallPeers     Firewall = "peers"
	FirewallOpen      Firewall = "open"
)

// FirewallLevels lists the valid levels in order.
var FirewallLevels = []Firewall{FirewallClosed, FirewallOutbound, FirewallPublished, FirewallPeers, FirewallOpen}

// TLS is the public part of the VCH's Docker API certificates.
type TLS struct {
	CACert     string `json:"caCert,omitempty"`
	ServerCert string `json:"serverCert,omitempty"`
}

// Role names a network role of a VCH.
type Role string

// The roles of a VCH's networks.
const (
	RolePublic     Role = "public"
	RoleClient     Role = "client"
	RoleManagement Role = "management"
	RoleBridge     Role = "bridge"
	RoleContainer  Role = "container"
)

// New returns a configuration with the defaults of `docker vic create` for a VCH called name.
func New(name string) *Config {
	return &Config{
		Version:   SchemaVersion,
		Revision:  1,
		Name:      name,
		Endpoints: 1,
		Public:    RoleNetwork{PortGroup: DefaultPublicNetwork},
		Bridge: Bridge{
			PortGroup: name,
			Range:     netip.MustParsePrefix(DefaultBridgeRange),
			Width:     DefaultBridgeWidth,
		},
	}
}

// ApplyDefaults fills the roles that default to another role's port group: client defaults to
// public, management to client. A count of endpoints left at zero is one. Container networks without an alias take the port group name,
// and without a firewall level the default one.
func (c *Config) ApplyDefaults() {
	if c.Endpoints == 0 {
		c.Endpoints = 1
	}
	if c.Public.PortGroup == "" {
		c.Public.PortGroup = DefaultPublicNetwork
	}
	if c.Bridge.PortGroup == "" {
		c.Bridge.PortGroup = c.Name
	}
	if c.Client.PortGroup == "" {
		c.Client.PortGroup = c.Public.PortGroup
	}
	if c.Management.PortGroup == "" {
		c.Management.PortGroup = c.Client.PortGroup
	}
	if !c.Bridge.Range.IsValid() {
		c.Bridge.Range = netip.MustParsePrefix(DefaultBridgeRange)
	}
	if c.Bridge.Width == 0 {
		c.Bridge.Width = DefaultBridgeWidth
	}
	for i := range c.ContainerNetworks {
		n := &c.ContainerNetworks[i]
		if n.Alias == "" {
			n.Alias = n.PortGroup
		}
		if n.Firewall == "" {
			n.Firewall = DefaultFirewall
		}
	}
}

// ContainerNetwork returns the container network on port group pg, or nil.
func (c *Config) ContainerNetwork(pg string) *ContainerNetwork {
	for i := range c.ContainerNetworks {
		if c.ContainerNetworks[i].PortGroup == pg {
			return &c.ContainerNetworks[i]
		}
	}
	return nil
}

// ContainerNetworkByAlias returns the container network Docker knows as alias, or nil.
func (c *Config) ContainerNetworkByAlias(alias string) *ContainerNetwork {
	for i := range c.ContainerNetworks {
		if c.ContainerNetworks[i].Alias == alias {
			return &c.ContainerNetworks[i]
		}
	}
	return nil
}

// PortGroups returns the distinct port groups of the VCH in NIC order: public, client,
// management, bridge, then each container network. The endpoint VM has one NIC for each.
func (c *Config) PortGroups() []string {
	var out []string
	seen := map[string]bool{}
	add := func(pg string) {
		if pg != "" && !seen[pg] {
			seen[pg] = true
			out = append(out, pg)
		}
	}
	add(c.Public.PortGroup)
	add(c.Client.PortGroup)
	add(c.Management.PortGroup)
	add(c.Bridge.PortGroup)
	for _, n := range c.ContainerNetworks {
		add(n.PortGroup)
	}
	return out
}

// RolesOf returns the roles carried by port group pg, sorted, for display.
func (c *Config) RolesOf(pg string) []Role {
	var roles []Role
	if c.Public.PortGroup == pg {
		roles = append(roles, RolePublic)
	}
	if c.Client.PortGroup == pg {
		roles = append(roles, RoleClient)
	}
	if c.Management.PortGroup == pg {
		roles = append(roles, RoleManagement)
	}
	if c.Bridge.PortGroup == pg {
		roles = append(roles, RoleBridge)
	}
	if c.ContainerNetwork(pg) != nil {
		roles = append(roles, RoleContainer)
	}
	sort.SliceStable(roles, func(i, j int) bool { return roleOrder(roles[i]) < roleOrder(roles[j]) })
	return roles
}

func roleOrder(r Role) int {
	for i, o := range []Role{RolePublic, RoleClient, RoleManagement, RoleBridge, RoleContainer} {
		if o == r {
			return i
		}
	}
	return 99
}

// Clone returns a deep copy of c.
func (c *Config) Clone() *Config {
	out := *c
	for _, r := range []*RoleNetwork{&out.Public, &out.Client, &out.Management} {
		r.Gateway.Destinations = append([]netip.Prefix(nil), r.Gateway.Destinations...)
		if r.MoreIPs != nil {
			r.MoreIPs = append([]netip.Prefix(nil), r.MoreIPs...)
		}
	}
	out.DNS = append([]netip.Addr(nil), c.DNS...)
	out.ContainerNetworks = make([]ContainerNetwork, len(c.ContainerNetworks))
	for i, n := range c.ContainerNetworks {
		n.Ranges = append([]IPRange(nil), n.Ranges...)
		n.DNS = append([]netip.Addr(nil), n.DNS...)
		out.ContainerNetworks[i] = n
	}
	if len(c.ContainerNetworks) == 0 {
		out.ContainerNetworks = nil
	}
	return &out
}
