package vch

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strconv"

	"github.com/vmware/govmomi/object"
	"github.com/vmware/govmomi/property"
	"github.com/vmware/govmomi/vim25/mo"
	"github.com/vmware/govmomi/vim25/types"

	"github.com/docker-vic/docker-vic/config"
	"github.com/docker-vic/docker-vic/vsphere"
)

// The endpoint VMs of a VCH of several endpoints run on different hosts of its cluster: a DRS
// VM anti-affinity rule, vsphere.EndpointRuleName(VCH), names them all. The rule is not
// mandatory: DRS keeps the endpoints apart, and moves them apart again after a host comes back,
// but HA may still restart an endpoint on a host that already runs another, and a host may
// enter maintenance mode: a VCH whose endpoints share a host for a while keeps serving, one
// whose endpoint cannot power on does not.

// host is a host of the cluster that can run an endpoint VM.
type host struct {
	ref  types.ManagedObjectReference
	name string
}

// usableHosts returns the hosts of refs that are connected, not in maintenance mode and
// connected to every port group of portGroups, by name. A host has a port group when one of its
// networks is named after it, or, for a standard port group, when its virtual switches hold it.
func (m *Manager) usableHosts(ctx context.Context, refs []types.ManagedObjectReference, portGroups []string) ([]host, error) {
	if len(refs) == 0 {
		return nil, nil
	}
	var hs []mo.HostSystem
	props := []string{"name", "runtime.connectionState", "runtime.inMaintenanceMode", "network", "config.network.portgroup"}
	if err := property.DefaultCollector(m.Client).Retrieve(ctx, refs, props, &hs); err != nil {
		return nil, fmt.Errorf("reading the hosts of the cluster: %w", err)
	}
	names, err := m.networkNames(ctx, hs)
	if err != nil {
		return nil, err
	}
	var out []host
	for _, h := range hs {
		if h.Runtime.ConnectionState != types.HostSystemConnectionStateConnected || h.Runtime.InMaintenanceMode {
			continue
		}
		has := map[string]bool{}
		for _, n := range h.Network {
			has[names[n]] = true
		}
		if h.Config != nil && h.Config.Network != nil {
			for _, pg := range h.Config.Network.Portgroup {
				has[pg.Spec.Name] = true
			}
		}
		if !slices.ContainsFunc(portGroups, func(pg string) bool { return !has[pg] }) {
			out = append(out, host{ref: h.Self, name: h.Name})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].name < out[j].name })
	return out, nil
}

// networkNames reads the names of the networks of hosts hs.
func (m *Manager) networkNames(ctx context.Context, hs []mo.HostSystem) (map[types.ManagedObjectReference]string, error) {
	var refs []types.ManagedObjectReference
	for _, h := range hs {
		refs = append(refs, h.Network...)
	}
	out := map[types.ManagedObjectReference]string{}
	if len(refs) == 0 {
		return out, nil
	}
	var nets []mo.Network
	if err := property.DefaultCollector(m.Client).Retrieve(ctx, refs, []string{"name"}, &nets); err != nil {
		return nil, fmt.Errorf("reading the networks of the cluster's hosts: %w", err)
	}
	for _, n := range nets {
		out[n.Self] = n.Name
	}
	return out, nil
}

// checkEndpointHosts refuses the n endpoints of a VCH on port groups portGroups where they
// cannot run on n different hosts: on a standalone host (cluster nil) or a cluster with fewer
// usable hosts. It returns the usable hosts of the cluster.
func (m *Manager) checkEndpointHosts(ctx context.Context, n int, portGroups []string, computePath string, cluster *types.ManagedObjectReference, hosts []types.ManagedObjectReference) ([]host, error) {
	if n <= 1 {
		return nil, nil
	}
	if cluster == nil {
		return nil, &config.Error{Flag: "--endpoints", Value: strconv.Itoa(n),
			Rule: fmt.Sprintf("%q is a standalone host, and the endpoints of a VCH run on different hosts of a cluster", computePath)}
	}
	usable, err := m.usableHosts(ctx, hosts, portGroups)
	if err != nil {
		return nil, err
	}
	if len(usable) < n {
		return nil, &config.Error{Flag: "--endpoints", Value: strconv.Itoa(n),
			Rule: fmt.Sprintf("cluster %q has %d usable hosts (connected, not in maintenance mode, on every port group of the VCH), and each endpoint of a VCH runs on a host of its own", computePath, len(usable))}
	}
	return usable, nil
}

// hostsFor picks a host for each of count new endpoint VMs: first the usable hosts that run
// none of the VCH's endpoint VMs (busy), then the others, in name order.
func hostsFor(usable []host, busy map[types.ManagedObjectReference]bool, count int) []*types.ManagedObjectReference {
	var free, rest []host
	for _, h := range usable {
		if busy[h.ref] {
			rest = append(rest, h)
		} else {
			free = append(free, h)
		}
	}
	order := append(free, rest...)
	out := make([]*types.ManagedObjectReference, count)
	for i := range out {
		if len(order) > 0 {
			ref := order[i%len(order)].ref
			out[i] = &ref
		}
	}
	return out
}

// clusterOf returns the cluster that owns pool (a resource pool or vApp), or nil when its owner
// is a standalone host.
func (m *Manager) clusterOf(ctx context.Context, pool types.ManagedObjectReference) (*types.ManagedObjectReference, []types.ManagedObjectReference, error) {
	var rp mo.ResourcePool
	if err := property.DefaultCollector(m.Client).RetrieveOne(ctx, pool, []string{"owner"}, &rp); err != nil {
		return nil, nil, fmt.Errorf("reading the owner of resource pool %s: %w", pool.Value, err)
	}
	var cr mo.ComputeResource
	if err := property.DefaultCollector(m.Client).RetrieveOne(ctx, rp.Owner, []string{"host"}, &cr); err != nil {
		return nil, nil, fmt.Errorf("reading compute resource %s: %w", rp.Owner.Value, err)
	}
	if rp.Owner.Type != "ClusterComputeResource" {
		return nil, cr.Host, nil
	}
	return &rp.Owner, cr.Host, nil
}

// endpointRule returns the anti-affinity rule of VCH name in cluster, or nil.
func (m *Manager) endpointRule(ctx context.Context, cluster types.ManagedObjectReference, name string) (*types.ClusterAntiAffinityRuleSpec, error) {
	var cc mo.ClusterComputeResource
	if err := property.DefaultCollector(m.Client).RetrieveOne(ctx, cluster, []string{"configurationEx"}, &cc); err != nil {
		return nil, fmt.Errorf("reading the rules of cluster %s: %w", cluster.Value, err)
	}
	ex, ok := cc.ConfigurationEx.(*types.ClusterConfigInfoEx)
	if !ok {
		return nil, nil
	}
	want := vsphere.EndpointRuleName(name)
	for _, r := range ex.Rule {
		if rule, ok := r.(*types.ClusterAntiAffinityRuleSpec); ok && rule.Name == want {
			return rule, nil
		}
	}
	return nil, nil
}

// setEndpointRule makes the anti-affinity rule of VCH name in cluster name exactly vms: it adds
// the rule, edits it, or removes it when fewer than two VMs remain. The undo it pushes puts the
// rule back as it was.
func (m *Manager) setEndpointRule(ctx context.Context, cluster types.ManagedObjectReference, name string, vms []types.ManagedObjectReference, undo *[]func(context.Context) error) error {
	old, err := m.endpointRule(ctx, cluster, name)
	if err != nil {
		return err
	}
	if err := m.writeEndpointRule(ctx, cluster, name, old, vms); err != nil {
		return err
	}
	if undo != nil {
		*undo = append(*undo, func(ctx context.Context) error {
			now, err := m.endpointRule(ctx, cluster, name)
			if err != nil {
				return err
			}
			var was []types.ManagedObjectReference
			if old != nil {
				was = old.Vm
			}
			m.progress("putting anti-affinity rule %q back", vsphere.EndpointRuleName(name))
			return m.writeEndpointRule(ctx, cluster, name, now, was)
		})
	}
	return nil
}

// writeEndpointRule turns rule old (nil: none) into the rule of vms (fewer than two: none).
func (m *Manager) writeEndpointRule(ctx context.Context, cluster types.ManagedObjectReference, name string, old *types.ClusterAntiAffinityRuleSpec, vms []types.ManagedObjectReference) error {
	ruleName := vsphere.EndpointRuleName(name)
	var spec types.ClusterRuleSpec
	switch {
	case len(vms) < 2 && old == nil:
		return nil
	case len(vms) >= 2 && old != nil && sameVMs(old.Vm, vms) && old.Enabled != nil && *old.Enabled:
		return nil
	case len(vms) < 2:
		m.progress("removing anti-affinity rule %q", ruleName)
		spec = types.ClusterRuleSpec{ArrayUpdateSpec: types.ArrayUpdateSpec{Operation: types.ArrayUpdateOperationRemove, RemoveKey: old.Key}}
	default:
		rule := &types.ClusterAntiAffinityRuleSpec{
			ClusterRuleInfo: types.ClusterRuleInfo{
				Name:        ruleName,
				Enabled:     types.NewBool(true),
				Mandatory:   types.NewBool(false),
				UserCreated: types.NewBool(true),
			},
			Vm: vms,
		}
		op := types.ArrayUpdateOperationAdd
		if old != nil {
			op = types.ArrayUpdateOperationEdit
			rule.Key = old.Key
		}
		m.progress("keeping the %d endpoint VMs of VCH %q on different hosts: anti-affinity rule %q", len(vms), name, ruleName)
		spec = types.ClusterRuleSpec{ArrayUpdateSpec: types.ArrayUpdateSpec{Operation: op}, Info: rule}
	}
	cc := object.NewClusterComputeResource(m.Client, cluster)
	task, err := cc.Reconfigure(ctx, &types.ClusterConfigSpecEx{RulesSpec: []types.ClusterRuleSpec{spec}}, true)
	if err := vsphere.Wait(ctx, task, err); err != nil {
		return fmt.Errorf("writing anti-affinity rule %q: %w", ruleName, err)
	}
	return nil
}

// removeEndpointRule removes the anti-affinity rule of VCH name from cluster; none is fine.
func (m *Manager) removeEndpointRule(ctx context.Context, cluster types.ManagedObjectReference, name string) error {
	old, err := m.endpointRule(ctx, cluster, name)
	if err != nil || old == nil {
		return err
	}
	return m.writeEndpointRule(ctx, cluster, name, old, nil)
}
