package vch

import (
	"context"
	"fmt"
	"path"
	"sort"
	"strings"

	"github.com/vmware/govmomi/find"
	"github.com/vmware/govmomi/object"
	"github.com/vmware/govmomi/property"
	"github.com/vmware/govmomi/vim25/mo"
	"github.com/vmware/govmomi/vim25/types"

	"github.com/docker-vic/docker-vic/config"
	"github.com/docker-vic/docker-vic/vsphere"
)

// target is where a new VCH goes: the pool its own pool is created under, the folder its VM
// folder is created in, the hosts that will run it and the datastore of its files.
type target struct {
	// computePath is the inventory path stored as the VCH's compute resource.
	computePath string
	// isPool is set when the admin named a resource pool rather than a cluster or host.
	isPool    bool
	pool      *object.ResourcePool
	vmFolder  *object.Folder
	hosts     []types.ManagedObjectReference
	datastore string
	// cluster is the cluster that owns the target, or nil for a standalone host.
	cluster *types.ManagedObjectReference
}

// resolveTarget finds the compute resource, pool and image store of cfg in the datacenter.
func (m *Manager) resolveTarget(ctx context.Context, dc *object.Datacenter, p config.Placement) (*target, error) {
	f := newFinder(m.Client)
	f.SetDatacenter(dc)
	t, owner, err := m.resolveCompute(ctx, f, dc, p.ComputeResource)
	if err != nil {
		return nil, err
	}

	var cr mo.ComputeResource
	if err := property.DefaultCollector(m.Client).RetrieveOne(ctx, owner, []string{"host", "datastore"}, &cr); err != nil {
		return nil, fmt.Errorf("reading compute resource %q: %w", t.computePath, err)
	}
	t.hosts = cr.Host
	if owner.Type == "ClusterComputeResource" {
		t.cluster = &owner
	}

	stores, err := m.names(ctx, cr.Datastore)
	if err != nil {
		return nil, fmt.Errorf("reading the datastores of %q: %w", t.computePath, err)
	}
	if t.datastore, err = resolveDatastore(stores, p.ImageStore, t.computePath); err != nil {
		return nil, err
	}
	if err := checkISO(stores, p.ApplianceISO, t.computePath); err != nil {
		return nil, err
	}

	folders, err := dc.Folders(ctx)
	if err != nil {
		return nil, fmt.Errorf("reading the folders of datacenter %q: %w", dc.Name(), err)
	}
	t.vmFolder = folders.VmFolder
	return t, nil
}

// resolveCompute finds the cluster, host or pool named by spec (a path or a name), or the only
// cluster or host of the datacenter. It returns the target and the owning compute resource.
func (m *Manager) resolveCompute(ctx context.Context, f *find.Finder, dc *object.Datacenter, spec string) (*target, types.ManagedObjectReference, error) {
	const flag = "--compute-resource"
	var none types.ManagedObjectReference

	if spec == "" {
		all, err := f.ComputeResourceList(ctx, "*")
		if err != nil && !vsphere.IsNotFound(err) {
			return nil, none, fmt.Errorf("listing the compute resources of datacenter %q: %w", dc.Name(), err)
		}
		switch len(all) {
		case 0:
			return nil, none, &config.Error{Flag: flag, Rule: fmt.Sprintf("datacenter %q has no cluster or host", dc.Name())}
		case 1:
			return m.computeTarget(ctx, all[0])
		}
		return nil, none, &config.Error{Flag: flag, Rule: fmt.Sprintf("datacenter %q has several clusters and hosts, name one of %s", dc.Name(), quoteList(inventoryPaths(all)))}
	}

	if cr, err := f.ComputeResource(ctx, spec); err == nil {
		return m.computeTarget(ctx, cr)
	} else if !vsphere.IsNotFound(err) {
		return nil, none, computeError(spec, err)
	}

	if host, err := f.HostSystem(ctx, spec); err == nil {
		return m.hostTarget(ctx, f, host)
	} else if !vsphere.IsNotFound(err) {
		return nil, none, computeError(spec, err)
	}

	pool, err := f.ResourcePool(ctx, spec)
	if err != nil {
		if !vsphere.IsNotFound(err) {
			return nil, none, computeError(spec, err)
		}
		return nil, none, &config.Error{Flag: flag, Value: spec, Rule: fmt.Sprintf("no cluster, host or resource pool of that name in datacenter %q", dc.Name()) + m.computeSuggestion(ctx, f, spec)}
	}
	var rp mo.ResourcePool
	if err := pool.Properties(ctx, pool.Reference(), []string{"owner"}, &rp); err != nil {
		return nil, none, fmt.Errorf("reading resource pool %q: %w", pool.InventoryPath, err)
	}
	return &target{computePath: pool.InventoryPath, isPool: true, pool: pool}, rp.Owner, nil
}

func computeError(spec string, err error) error {
	if _, ok := err.(*find.MultipleFoundError); ok {
		return &config.Error{Flag: "--compute-resource", Value: spec, Rule: "the name matches several objects, give the inventory path"}
	}
	return fmt.Errorf("finding compute resource %q: %w", spec, err)
}

func (m *Manager) computeTarget(ctx context.Context, cr *object.ComputeResource) (*target, types.ManagedObjectReference, error) {
	pool, err := cr.ResourcePool(ctx)
	if err != nil {
		return nil, types.ManagedObjectReference{}, fmt.Errorf("finding the resource pool of %q: %w", cr.InventoryPath, err)
	}
	pool.InventoryPath = path.Join(cr.InventoryPath, "Resources")
	return &target{computePath: cr.InventoryPath, pool: pool}, cr.Reference(), nil
}

// hostTarget accepts a standalone host, which vCenter shows inside a compute resource of its own
// name. A host in a cluster is refused: DRS places the VMs of a cluster.
func (m *Manager) hostTarget(ctx context.Context, f *find.Finder, host *object.HostSystem) (*target, types.ManagedObjectReference, error) {
	var h mo.HostSystem
	if err := host.Properties(ctx, host.Reference(), []string{"parent"}, &h); err != nil || h.Parent == nil {
		return nil, types.ManagedObjectReference{}, fmt.Errorf("reading host %q: %w", host.InventoryPath, err)
	}
	if h.Parent.Type == "ClusterComputeResource" {
		return nil, types.ManagedObjectReference{}, &config.Error{Flag: "--compute-resource", Value: host.InventoryPath,
			Rule: fmt.Sprintf("the host is in cluster %q: name the cluster or one of its resource pools", path.Dir(host.InventoryPath))}
	}
	cr := object.NewComputeResource(m.Client, *h.Parent)
	cr.InventoryPath = path.Dir(host.InventoryPath)
	return m.computeTarget(ctx, cr)
}

// computeSuggestion names clusters, hosts and pools close to a name that matched none.
func (m *Manager) computeSuggestion(ctx context.Context, f *find.Finder, spec string) string {
	var names []string
	if crs, err := f.ComputeResourceList(ctx, "*"); err == nil {
		names = append(names, inventoryPaths(crs)...)
	}
	if pools, err := f.ResourcePoolList(ctx, "*"); err == nil {
		for _, p := range pools {
			names = append(names, p.InventoryPath)
		}
	}
	base := path.Base(spec)
	var close []string
	for _, n := range names {
		if len(closeNames(base, []string{path.Base(n)})) > 0 {
			close = append(close, n)
		}
	}
	if len(close) > 0 {
		return "; did you mean " + quoteListOr(close) + "?"
	}
	return ""
}

func inventoryPaths(crs []*object.ComputeResource) []string {
	out := make([]string, len(crs))
	for i, cr := range crs {
		out[i] = cr.InventoryPath
	}
	sort.Strings(out)
	return out
}

// resolveDatastore checks the image store, or picks the only datastore the compute resource
// reaches.
func resolveDatastore(reachable map[string]bool, want, computePath string) (string, error) {
	const flag = "--image-store"
	names := sortedKeys(reachable)
	if want != "" {
		want = strings.TrimSuffix(strings.TrimPrefix(want, "["), "]")
		if reachable[want] {
			return want, nil
		}
		return "", &config.Error{Flag: flag, Value: want, Rule: fmt.Sprintf("no datastore of that name is reachable from %q", computePath) + suggest(want, names)}
	}
	switch len(names) {
	case 0:
		return "", &config.Error{Flag: flag, Rule: fmt.Sprintf("%q reaches no datastore", computePath)}
	case 1:
		return names[0], nil
	}
	return "", &config.Error{Flag: flag, Rule: fmt.Sprintf("%q reaches several datastores, name one of %s", computePath, quoteList(names))}
}

// checkISO checks that the appliance ISO is a datastore path on a reachable datastore.
func checkISO(reachable map[string]bool, iso, computePath string) error {
	if iso == "" {
		return nil
	}
	var p object.DatastorePath
	if !p.FromString(iso) || p.Path == "" {
		return &config.Error{Flag: "--appliance-iso", Value: iso, Rule: "give a datastore path such as \"[datastore1] vic/appliance.iso\""}
	}
	if !reachable[p.Datastore] {
		return &config.Error{Flag: "--appliance-iso", Value: iso, Rule: fmt.Sprintf("datastore %q is not reachable from %q", p.Datastore, computePath) + suggest(p.Datastore, sortedKeys(reachable))}
	}
	return nil
}

func sortedKeys(set map[string]bool) []string {
	out := make([]string, 0, len(set))
	for k := range set {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
