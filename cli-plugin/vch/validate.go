package vch

import (
	"context"
	"fmt"

	"github.com/vmware/govmomi/vim25/types"

	"github.com/docker-vic/docker-vic/config"
	"github.com/docker-vic/docker-vic/vsphere"
)

// use is one port group a VCH configuration names, with the flag that named it.
type use struct {
	flag      string
	portGroup string
	role      config.Role
}

// uses lists the port groups of cfg in flag order, each with the first flag that names it.
func uses(cfg *config.Config) []use {
	var out []use
	add := func(flag, pg string, role config.Role) {
		if pg != "" {
			out = append(out, use{flag, pg, role})
		}
	}
	add("--public-network", cfg.Public.PortGroup, config.RolePublic)
	add("--client-network", cfg.Client.PortGroup, config.RoleClient)
	add("--management-network", cfg.Management.PortGroup, config.RoleManagement)
	add("--bridge-network", cfg.Bridge.PortGroup, config.RoleBridge)
	for _, n := range cfg.ContainerNetworks {
		add("--container-network", n.PortGroup, config.RoleContainer)
	}
	return out
}

// checker validates a configuration against what a scan of the inventory holds.
type checker struct {
	m    *Manager
	snap *vsphere.Inventory
	// vCenter is set on vCenter, where bridge and container networks must be distributed.
	vCenter bool
	// hosts are the hosts the VCH runs on, whose standard port groups are checked.
	hosts []types.ManagedObjectReference
}

// checkPortGroups applies the inventory rules to the port groups of cfg named in only (all of
// them when only is nil): each exists, bridge and container networks are distributed on vCenter,
// the bridge port group belongs to no other VCH and no other VCH's bridge is used here, and
// container networks (and with several endpoints, the bridge port group) let the endpoint send
// frames with the containers' MACs.
func (k *checker) checkPortGroups(ctx context.Context, cfg *config.Config, only map[string]bool) error {
	for _, u := range uses(cfg) {
		if only != nil && !only[u.portGroup] {
			continue
		}
		pg := k.snap.PortGroup(u.portGroup)
		if pg == nil {
			return &config.Error{Flag: u.flag, Value: u.portGroup,
				Rule: fmt.Sprintf("no port group of that name in datacenter %q", k.snap.DatacenterName()) + suggest(u.portGroup, k.snap.PortGroupNames())}
		}
		distributedRole := u.role == config.RoleBridge || u.role == config.RoleContainer
		if k.vCenter && distributedRole && pg.Kind() == vsphere.StandardPortGroup {
			return &config.Error{Flag: u.flag, Value: u.portGroup,
				Rule: fmt.Sprintf("on vCenter the %s network must be a distributed port group or an NSX network, and this is a standard port group of a host", u.role)}
		}
		if err := k.checkNotShared(cfg, u); err != nil {
			return err
		}
	}
	for _, n := range cfg.ContainerNetworks {
		if only != nil && !only[n.PortGroup] {
			continue
		}
		if err := k.checkMACPolicy(ctx, "--container-network", k.snap.PortGroup(n.PortGroup)); err != nil {
			return err
		}
	}
	// Several endpoints run one swarm whose bridge networks span them over the bridge port
	// group: the containers' MACs cross it, as on a container network.
	if bridge := cfg.Bridge.PortGroup; cfg.Endpoints > 1 && (only == nil || only[bridge]) {
		if err := k.checkMACPolicy(ctx, "--bridge-network", k.snap.PortGroup(bridge)); err != nil {
			return err
		}
	}
	return nil
}

// checkNotShared enforces that a bridge port group is dedicated to one VCH.
func (k *checker) checkNotShared(cfg *config.Config, u use) error {
	for _, other := range k.snap.EndpointVMs() {
		o := other.Config()
		if o.Name == cfg.Name {
			continue
		}
		if u.role == config.RoleBridge {
			if roles := o.RolesOf(u.portGroup); len(roles) > 0 {
				return &config.Error{Flag: u.flag, Value: u.portGroup,
					Rule: fmt.Sprintf("the port group is already the %s network of VCH %q, and a bridge port group is dedicated to one VCH", roles[0], o.Name)}
			}
			continue
		}
		if o.Bridge.PortGroup == u.portGroup {
			return &config.Error{Flag: u.flag, Value: u.portGroup,
				Rule: fmt.Sprintf("the port group is the bridge network of VCH %q, and a bridge port group is dedicated to one VCH", o.Name)}
		}
	}
	return nil
}

// checkName refuses the name of a VCH of the datacenter.
func (k *checker) checkName(name string) error {
	for _, v := range k.snap.EndpointVMs() {
		if v.Name() == name {
			return &config.Error{Flag: "--name", Value: name, Rule: fmt.Sprintf("a VCH of that name already exists in datacenter %q", k.snap.DatacenterName())}
		}
	}
	return nil
}
