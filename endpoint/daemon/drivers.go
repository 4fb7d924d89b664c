//go:build linux

package daemon

import (
	"context"
	"log/slog"
	"time"

	"github.com/vishvananda/netlink"
	bolt "go.etcd.io/bbolt"

	"github.com/docker-vic/docker-vic/endpoint/cfw"
	"github.com/docker-vic/docker-vic/endpoint/dhcp"
	"github.com/docker-vic/docker-vic/endpoint/dockerwatch"
	"github.com/docker-vic/docker-vic/endpoint/driverapi"
	"github.com/docker-vic/docker-vic/endpoint/hostnets"
	"github.com/docker-vic/docker-vic/endpoint/hostports"
	"github.com/docker-vic/docker-vic/endpoint/link"
	"github.com/docker-vic/docker-vic/endpoint/liveconfig"
	"github.com/docker-vic/docker-vic/endpoint/nat"
	"github.com/docker-vic/docker-vic/endpoint/span"
	"github.com/docker-vic/docker-vic/endpoint/uplink"
	"github.com/docker-vic/docker-vic/ipamdriver"
	"github.com/docker-vic/docker-vic/netdriver"
)

// The drivers must satisfy what the socket serves, and the kernel layers what the driver uses.
var (
	_ driverapi.IPAMDriver      = (*ipamdriver.Driver)(nil)
	_ driverapi.NetworkDriver   = (*netdriver.Driver)(nil)
	_ driverapi.NetworkDriver   = loggedDriver{}
	_ netdriver.Links           = (*link.Links)(nil)
	_ netdriver.Firewall        = (*nat.Applier)(nil)
	_ netdriver.PortHolder      = (*hostports.Holder)(nil)
	_ netdriver.SandboxFirewall = (*cfw.Firewalls)(nil)
	_ dockerwatch.Snapshotter   = (*netdriver.Driver)(nil)
	_ snapshotter               = (*netdriver.Driver)(nil)
)

// drivers are the IPAM and network drivers over one database, and what the network driver
// works through.
type drivers struct {
	ipd       *ipamdriver.Driver
	nd        *netdriver.Driver
	firewall  *nat.Applier
	holder    *hostports.Holder
	names     *dockerwatch.Names
	sandboxes *cfw.Firewalls
}

// buildDrivers builds both drivers over db, the network driver with its kernel layers: links
// through nl, rules through iptables and nftables in this namespace, ports held by this
// process, container firewalls inside the containers' namespaces.
func buildDrivers(db *bolt.DB, live *liveconfig.Live, nl *netlink.Handle, leases *dhcp.Client, swarm bool, log *slog.Logger) (*drivers, error) {
	cfg, up := live.Get()
	ipamStore, err := ipamdriver.NewBoltStore(db)
	if err != nil {
		return nil, err
	}
	ipd, err := ipamdriver.New(cfg, ipamStore, leases)
	if err != nil {
		return nil, err
	}
	hostSubnets := readHostSubnets(nl, up, log)
	ipd.SetHostSubnets(hostSubnets)
	netStore, err := netdriver.NewBoltStore(db)
	if err != nil {
		return nil, err
	}
	firewall, err := nat.NewApplier(up.Address, nil, nil)
	if err != nil {
		return nil, err
	}
	d := &drivers{ipd: ipd, firewall: firewall, holder: hostports.NewHolder(), names: &dockerwatch.Names{}, sandboxes: cfw.NewFirewalls(log)}
	d.nd, err = netdriver.New(netdriver.Options{
		Store:       netStore,
		Links:       link.New(nl),
		Firewall:    timedFirewall{firewall, log},
		Holder:      d.holder,
		Public:      up.Address,
		HostSubnets: hostSubnets,
		Names:       d.names,
		Log:         log,
		Swarm:       swarm,
		Uplink:      up.Bridge.Link.Name,
		Spans:       span.New(""),

		ContainerNetworks: containerNetworks(live),
		Sandboxes:         d.sandboxes,
		DHCPRouter:        dhcpRouter(leases),
	})
	if err != nil {
		d.holder.Close()
		return nil, err
	}
	return d, nil
}

// restore programs the kernel again from the state, and the firewalls of the running
// containers from the configuration, which may have changed while the daemon was down. With
// prune, links the state does not know go. It only warns: Docker without its plugin cannot
// even remove containers.
func (d *drivers) restore(ctx context.Context, prune bool, log *slog.Logger) {
	if err := d.nd.Restore(ctx, prune); err != nil {
		log.Warn("the kernel state was restored only in part", "error", err)
	}
	if err := d.nd.RefreshContainerFirewalls(ctx); err != nil {
		log.Warn("the firewalls of running containers were set again only in part", "error", err)
	}
}

// readHostSubnets reads the endpoint VM's own subnets, which no bridge network may take: its
// connected routes but those of its own bridges. When the routes cannot be read, the role
// networks' subnets stand in.
func readHostSubnets(nl *netlink.Handle, up *uplink.Set, log *slog.Logger) func() []hostnets.Subnet {
	return func() []hostnets.Subnet {
		subnets, err := hostnets.List(nl, link.BridgePrefix)
		if err == nil {
			return subnets
		}
		log.Warn("cannot read the endpoint VM's routes: only its role networks are kept off bridge networks", "error", err)
		var out []hostnets.Subnet
		for _, p := range up.LocalSubnets() {
			out = append(out, hostnets.Subnet{Prefix: p, Link: "a role network"})
		}
		return out
	}
}

// containerNetworks answers the network driver about a configured container network.
func containerNetworks(live *liveconfig.Live) netdriver.ContainerNetworks {
	return func(pg string) (netdriver.ContainerNetwork, bool) {
		cfg, up := live.Get()
		for _, cn := range cfg.ContainerNetworks {
			if cn.PortGroup == pg {
				return netdriver.ContainerNetwork{Config: cn, Uplink: up.Containers[pg].Link.Name}, true
			}
		}
		return netdriver.ContainerNetwork{}, false
	}
}

// timedFirewall logs, at debug level, how long each change of published ports takes to
// program: the NAT programming time that `make bench` compares at 10 and 1000 mappings.
type timedFirewall struct {
	*nat.Applier
	log *slog.Logger
}

// ChangePorts implements netdriver.Firewall.
func (f timedFirewall) ChangePorts(ctx context.Context, add, del []nat.Mapping) error {
	start := time.Now()
	err := f.Applier.ChangePorts(ctx, add, del)
	f.log.Debug("nat ports changed", "added", len(add), "removed", len(del), "duration", time.Since(start), "error", err)
	return err
}
