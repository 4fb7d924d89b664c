package dockerwatch

import (
	"context"
	"fmt"
	"strings"

	"github.com/docker-vic/docker-vic/endpoint/link"

	"github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/network"
	"github.com/moby/moby/client"

	"github.com/docker-vic/docker-vic/config"
	"github.com/docker-vic/docker-vic/ipamdriver"
)

// check keeps a network of our driver with the expected name, and reports it when it belongs to
// another port group (false).
func (e *Ensurer) check(n network.Summary, cn config.ContainerNetwork) bool {
	if pg := n.Labels[optionPortGroup]; pg != cn.PortGroup {
		e.warnings.warn("conflict/"+n.Name, "a docker network has the name of a container network but not its port group: left alone",
			"network", n.Name, "id", link.ShortID(n.ID), "driver", n.Driver, "portgroup", pg, "expected", cn.PortGroup)
		return false
	}
	e.log.Debug("the docker network of a container network is in place", "network", n.Name, "id", link.ShortID(n.ID), "portgroup", cn.PortGroup)
	return true
}

// hasPool reports whether pools hold the pool of network n of container network cn: one of its
// port group, on the subnet Docker shows for n.
func hasPool(pools []ipamdriver.Pool, n network.Summary, cn config.ContainerNetwork) bool {
	for _, p := range pools {
		if p.PortGroup != cn.PortGroup {
			continue
		}
		if len(n.IPAM.Config) == 0 {
			return true
		}
		for _, c := range n.IPAM.Config {
			if c.Subnet == p.Subnet {
				return true
			}
		}
	}
	return false
}

// recreate removes network n of container network cn, whose pool the vic IPAM driver lost (its
// state was lost, or rebuilt without it, while Docker kept the network): no container can get an
// address on it. It creates it again at once, with a new pool. It does so only when no container
// is on it, running or stopped: Docker refuses to remove a network under running containers,
// and stopped ones would name a network that no longer exists; it says what to do instead.
func (e *Ensurer) recreate(ctx context.Context, n network.Summary, cn config.ContainerNetwork) {
	on, err := e.containersOn(ctx, n)
	if err != nil {
		e.warnings.warn("lost/"+n.Name, "checking the containers on a docker network whose address pool was lost failed: retrying later",
			"network", n.Name, "id", link.ShortID(n.ID), "error", err)
		return
	}
	if len(on) > 0 {
		e.warnings.warn("lost/"+n.Name, "the docker network of a container network lost its address pool in the vic IPAM driver and containers are on it: "+
			"no container can start on it; disconnect them (docker network disconnect -f NETWORK CONTAINER), the endpoint then creates the network again, and connect them again",
			"network", n.Name, "id", link.ShortID(n.ID), "portgroup", cn.PortGroup, "containers", strings.Join(on, ","))
		return
	}
	rmCtx, cancel := context.WithTimeout(ctx, dockerCallTimeout)
	defer cancel()
	if _, err := e.api.NetworkRemove(rmCtx, n.ID, client.NetworkRemoveOptions{}); err != nil && !errdefs.IsNotFound(err) {
		e.warnings.warn("lost/"+n.Name, "removing a docker network whose address pool was lost failed: retrying later",
			"network", n.Name, "id", link.ShortID(n.ID), "error", err)
		return
	}
	e.log.Warn("the docker network of a container network lost its address pool in the vic IPAM driver, and no container is on it: creating it again",
		"network", n.Name, "id", link.ShortID(n.ID), "portgroup", cn.PortGroup)
	e.createMissing(ctx, cn)
}

// containersOn names the containers on network n, running or not.
func (e *Ensurer) containersOn(ctx context.Context, n network.Summary) ([]string, error) {
	ctx, cancel := context.WithTimeout(ctx, dockerCallTimeout)
	defer cancel()
	res, err := e.api.ContainerList(ctx, client.ContainerListOptions{All: true, Filters: make(client.Filters).Add("network", n.ID)})
	if err != nil {
		return nil, fmt.Errorf("listing the containers on docker network %q: %w", n.Name, err)
	}
	var names []string
	for _, c := range res.Items {
		name := link.ShortID(c.ID)
		if len(c.Names) > 0 {
			name = strings.TrimPrefix(c.Names[0], "/")
		}
		names = append(names, name)
	}
	return names, nil
}

// createMissing creates the network of cn, unless a network of another driver has its name:
// that one is reported and left alone.
func (e *Ensurer) createMissing(ctx context.Context, cn config.ContainerNetwork) {
	name := networkName(cn)
	same, err := e.list(ctx, "name", name)
	if err != nil {
		e.warnings.warn("create/"+name, "checking the docker network of a container network failed", "network", name, "error", err)
		return
	}
	if len(same) > 0 {
		n := same[0]
		e.warnings.warn("conflict/"+name, "a docker network has the name of a container network but another driver: left alone",
			"network", name, "id", link.ShortID(n.ID), "driver", n.Driver, "portgroup", n.Labels[optionPortGroup],
			"expected", e.driver+" on port group "+cn.PortGroup)
		return
	}
	createCtx, cancel := context.WithTimeout(ctx, dockerCallTimeout)
	defer cancel()
	res, err := e.api.NetworkCreate(createCtx, name, e.createOptions(cn))
	if err != nil {
		e.warnings.warn("create/"+name, "creating the docker network of a container network failed: retrying later",
			"network", name, "portgroup", cn.PortGroup, "error", err)
		return
	}
	e.log.Info("created the docker network of a container network", "network", name, "id", link.ShortID(res.ID), "portgroup", cn.PortGroup)
	for _, w := range res.Warning {
		e.log.Warn("docker warned while creating a container network", "network", name, "warning", w)
	}
}

// createOptions are those of `docker network create -d DRIVER --ipam-driver IPAM
// --ipam-opt K=PG -o K=PG --label K=PG [--subnet S --gateway G] [--scope swarm --attachable]
// ALIAS`, the subnet and gateway for static networks only, the scope in a swarm (InSwarm).
func (e *Ensurer) createOptions(cn config.ContainerNetwork) client.NetworkCreateOptions {
	ipam := &network.IPAM{
		Driver:  e.ipamDriver,
		Options: map[string]string{optionPortGroup: cn.PortGroup},
	}
	if !cn.DHCP() {
		ipam.Config = []network.IPAMConfig{{Subnet: cn.Gateway.Masked(), Gateway: cn.Gateway.Addr()}}
	}
	opts := client.NetworkCreateOptions{
		Driver:  e.driver,
		IPAM:    ipam,
		Options: map[string]string{optionPortGroup: cn.PortGroup},
		Labels:  map[string]string{optionPortGroup: cn.PortGroup},
	}
	if e.swarm != nil {
		opts.Scope, opts.Attachable = "swarm", true
	}
	return opts
}

// reportLeftOver reports the networks labelled by a port group that is no longer a container
// network, or that now goes by another alias. They stay: containers may use them.
func (e *Ensurer) reportLeftOver(nets []network.Summary) {
	aliases := map[string]string{}
	names := map[string]bool{}
	for _, cn := range e.cfg {
		aliases[cn.PortGroup] = networkName(cn)
		names[networkName(cn)] = true
	}
	for _, n := range nets {
		pg, labelled := n.Labels[optionPortGroup]
		if !labelled || names[n.Name] {
			continue // a bridge network, or one check has seen
		}
		alias, configured := aliases[pg]
		switch {
		case !configured:
			e.warnings.warn("left/"+n.Name, "a docker network belongs to a port group that is no longer a container network: left in place, remove it once no container uses it",
				"network", n.Name, "id", link.ShortID(n.ID), "portgroup", pg)
		case alias != n.Name:
			e.warnings.warn("left/"+n.Name, "a docker network belongs to a container network now named otherwise: left in place, remove it once no container uses it",
				"network", n.Name, "id", link.ShortID(n.ID), "portgroup", pg, "now", alias)
		}
	}
}
