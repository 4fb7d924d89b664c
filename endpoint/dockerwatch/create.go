package dockerwatch

import (
	"context"

	"github.com/moby/moby/api/types/network"
	"github.com/moby/moby/client"

	"github.com/docker-vic/docker-vic/config"
)

// check keeps a network of our driver with the expected name, and reports it when it belongs to
// another port group.
func (e *Ensurer) check(n network.Summary, cn config.ContainerNetwork) {
	if pg := n.Labels[optionPortGroup]; pg != cn.PortGroup {
		e.warnings.warn("conflict/"+n.Name, "a docker network has the name of a container network but not its port group: left alone",
			"network", n.Name, "id", shortID(n.ID), "driver", n.Driver, "portgroup", pg, "expected", cn.PortGroup)
		return
	}
	e.log.Debug("the docker network of a container network is in place", "network", n.Name, "id", shortID(n.ID), "portgroup", cn.PortGroup)
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
			"network", name, "id", shortID(n.ID), "driver", n.Driver, "portgroup", n.Labels[optionPortGroup],
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
	e.log.Info("created the docker network of a container network", "network", name, "id", shortID(res.ID), "portgroup", cn.PortGroup)
	for _, w := range res.Warning {
		e.log.Warn("docker warned while creating a container network", "network", name, "warning", w)
	}
}

// createOptions are those of `docker network create -d DRIVER --ipam-driver IPAM
// --ipam-opt K=PG -o K=PG --label K=PG [--subnet S --gateway G] ALIAS`, the subnet and
// gateway for static networks only.
func (e *Ensurer) createOptions(cn config.ContainerNetwork) client.NetworkCreateOptions {
	ipam := &network.IPAM{
		Driver:  e.ipamDriver,
		Options: map[string]string{optionPortGroup: cn.PortGroup},
	}
	if !cn.DHCP() {
		ipam.Config = []network.IPAMConfig{{Subnet: cn.Gateway.Masked(), Gateway: cn.Gateway.Addr()}}
	}
	return client.NetworkCreateOptions{
		Driver:  e.driver,
		IPAM:    ipam,
		Options: map[string]string{optionPortGroup: cn.PortGroup},
		Labels:  map[string]string{optionPortGroup: cn.PortGroup},
	}
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
				"network", n.Name, "id", shortID(n.ID), "portgroup", pg)
		case alias != n.Name:
			e.warnings.warn("left/"+n.Name, "a docker network belongs to a container network now named otherwise: left in place, remove it once no container uses it",
				"network", n.Name, "id", shortID(n.ID), "portgroup", pg, "now", alias)
		}
	}
}
