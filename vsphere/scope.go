package vsphere

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/vmware/govmomi/fault"
	"github.com/vmware/govmomi/find"
	"github.com/vmware/govmomi/object"
	"github.com/vmware/govmomi/vim25"
	"github.com/vmware/govmomi/vim25/types"
)

// ErrScopeGone says that an object a Scope names (the endpoint VM, its pool or its folder) is no
// longer in vSphere, or that the endpoint VM moved out of them: scan the datacenter again.
var ErrScopeGone = errors.New("the VCH's endpoint VM, pool or folder moved or is gone")

// Scope is where the VMs of one VCH live: its endpoint VM, the resource pool or vApp and the VM
// folder it and its container VMs are in, and the datacenter whose networks their NIC backings
// name. ScanVCH reads only these, so that what the rest of the datacenter holds costs nothing.
type Scope struct {
	// Datacenter is the datacenter and DatacenterPath its inventory path ("/DC0").
	Datacenter     types.ManagedObjectReference
	DatacenterPath string
	// Endpoint is the endpoint VM (the first, named after the VCH), Others are endpoint VMs 2
	// to N as the scan found them.
	Endpoint types.ManagedObjectReference
	Others   []types.ManagedObjectReference
	// Pool is the resource pool or vApp, Folder the VM folder (a vApp is its VMs' parent: then
	// Folder is the vApp too).
	Pool, Folder types.ManagedObjectReference
}

// ScopeOf returns the scope of VCH name as the scan saw it, or an error wrapping ErrNotFound.
func (s *Inventory) ScopeOf(name string) (*Scope, error) {
	v, err := s.EndpointVM(name)
	if err != nil {
		return nil, err
	}
	if v.pool == nil || v.parent == nil {
		return nil, fmt.Errorf("endpoint VM %q has no resource pool or folder", name)
	}
	scope := &Scope{
		Datacenter: s.dc.Reference(), DatacenterPath: s.dc.InventoryPath,
		Endpoint: v.ref, Pool: *v.pool, Folder: *v.parent,
	}
	for _, o := range s.EndpointVMsOf(name)[1:] {
		scope.Others = append(scope.Others, o.ref)
	}
	return scope, nil
}

// ScanVCH reads, in one property retrieval, the endpoint VM of scope, every VM in its pool or
// vApp (child pools and vApps included) and in its folder, and every network of its datacenter.
// The Inventory holds only these VMs: VCH, EndpointVM, ContainerVMs, NetworkBacking and
// PortGroupOf answer as after a scan of the datacenter, for this VCH. When an object of scope
// is gone, or the endpoint VM is no longer in its pool and folder, the error wraps ErrScopeGone.
func ScanVCH(ctx context.Context, c *vim25.Client, scope *Scope) (*Inventory, error) {
	dc := object.NewDatacenter(c, scope.Datacenter)
	dc.InventoryPath = scope.DatacenterPath
	s := &Inventory{dc: dc, dcName: dc.Name()}
	req := types.RetrieveProperties{SpecSet: []types.PropertyFilterSpec{{
		ObjectSet: scopeObjects(scope),
		PropSet:   inventoryProperties,
	}}}
	if err := s.retrieve(ctx, c, req); err != nil {
		if fault.Is(err, &types.ManagedObjectNotFound{}) {
			return nil, fmt.Errorf("reading the VMs of VCH %s: %w: %w", scope.Endpoint.Value, ErrScopeGone, err)
		}
		return nil, fmt.Errorf("reading the VMs of VCH %s in datacenter %q: %w", scope.Endpoint.Value, s.dcName, err)
	}
	for _, v := range s.vms {
		if v.ref != scope.Endpoint {
			continue
		}
		if v.pool == nil || *v.pool != scope.Pool || v.parent == nil || *v.parent != scope.Folder {
			return nil, fmt.Errorf("reading the VMs of VCH %s: %w", scope.Endpoint.Value, ErrScopeGone)
		}
		return s, nil
	}
	return nil, fmt.Errorf("reading the VMs of VCH %s: %w", scope.Endpoint.Value, ErrScopeGone)
}

// scopeObjects are the starting points of ScanVCH and the ways from them to the VMs, networks
// and hosts: pools to their VMs and child pools (vApps are pools), folders to their children,
// the datacenter to its network folder and to the hosts of its host folder.
func scopeObjects(scope *Scope) []types.ObjectSpec {
	walk := func(name, kind, path string, then ...string) *types.TraversalSpec {
		ts := &types.TraversalSpec{SelectionSpec: types.SelectionSpec{Name: name}, Type: kind, Path: path, Skip: types.NewBool(false)}
		for _, n := range then {
			ts.SelectSet = append(ts.SelectSet, &types.SelectionSpec{Name: n})
		}
		return ts
	}
	pools := []types.BaseSelectionSpec{
		walk("poolVMs", "ResourcePool", "vm"),
		walk("poolPools", "ResourcePool", "resourcePool", "poolVMs", "poolPools", "appVMs", "appPools"),
		walk("appVMs", "VirtualApp", "vm"),
		walk("appPools", "VirtualApp", "resourcePool", "poolVMs", "poolPools", "appVMs", "appPools"),
	}
	folderTree := walk("folderTree", "Folder", "childEntity", "folderTree")
	out := []types.ObjectSpec{
		{Obj: scope.Endpoint},
		{Obj: scope.Pool, Skip: types.NewBool(true), SelectSet: pools},
		{Obj: scope.Datacenter, Skip: types.NewBool(true), SelectSet: []types.BaseSelectionSpec{
			walk("networks", "Datacenter", "networkFolder", "networkTree"),
			walk("networkTree", "Folder", "childEntity", "networkTree"),
			// The hosts, for their names: a few objects, however many VMs there are.
			walk("hosts", "Datacenter", "hostFolder", "hostTree"),
			walk("hostTree", "Folder", "childEntity", "hostTree", "clusterHosts", "computeHosts"),
			walk("clusterHosts", "ClusterComputeResource", "host"),
			walk("computeHosts", "ComputeResource", "host"),
		}},
	}
	if scope.Folder.Type == "Folder" {
		out = append(out, types.ObjectSpec{Obj: scope.Folder, Skip: types.NewBool(true), SelectSet: []types.BaseSelectionSpec{folderTree}})
	}
	return out
}

// EndpointScope is the scope of the endpoint VM whose managed object ID is id ("vm-42") in
// datacenter (a name or path; empty means the only one), as a document stored earlier names
// it. Only Datacenter and Endpoint are set: enough for ScanEndpoint, which reads no pool.
func EndpointScope(ctx context.Context, c *vim25.Client, datacenter, id string) (*Scope, error) {
	dc, err := find.NewFinder(c, false).DatacenterOrDefault(ctx, datacenter)
	if err != nil {
		return nil, fmt.Errorf("finding datacenter %q: %w", datacenter, err)
	}
	return &Scope{
		Datacenter: dc.Reference(), DatacenterPath: dc.InventoryPath,
		Endpoint: types.ManagedObjectReference{Type: "VirtualMachine", Value: id},
	}, nil
}

// ScanEndpoint reads, in one property retrieval, only the endpoint VMs of scope and the networks
// of its datacenter: what the endpoint needs to describe its own VCH (VCH answers with no
// container counts), at a cost that does not grow with the VCH's containers. A gone endpoint
// VM, or a count of endpoints the configuration no longer has (configure scaled the VCH),
// gives an error wrapping ErrScopeGone: scan the datacenter again.
func ScanEndpoint(ctx context.Context, c *vim25.Client, scope *Scope) (*Inventory, error) {
	dc := object.NewDatacenter(c, scope.Datacenter)
	dc.InventoryPath = scope.DatacenterPath
	s := &Inventory{dc: dc, dcName: dc.Name()}
	objects := scopeObjects(scope)
	objects = slices.DeleteFunc(objects, func(o types.ObjectSpec) bool {
		return o.Obj != scope.Endpoint && o.Obj != scope.Datacenter
	})
	for _, o := range scope.Others {
		objects = append(objects, types.ObjectSpec{Obj: o})
	}
	req := types.RetrieveProperties{SpecSet: []types.PropertyFilterSpec{{ObjectSet: objects, PropSet: inventoryProperties}}}
	if err := s.retrieve(ctx, c, req); err != nil {
		if fault.Is(err, &types.ManagedObjectNotFound{}) {
			return nil, fmt.Errorf("reading endpoint VM %s: %w: %w", scope.Endpoint.Value, ErrScopeGone, err)
		}
		return nil, fmt.Errorf("reading endpoint VM %s in datacenter %q: %w", scope.Endpoint.Value, s.dcName, err)
	}
	for _, v := range s.vms {
		if v.ref == scope.Endpoint && v.cfg != nil && len(s.EndpointVMsOf(v.name)) != v.cfg.EndpointCount() {
			return nil, fmt.Errorf("reading the endpoint VMs of VCH %q: %d of %d found: %w", v.name, len(s.EndpointVMsOf(v.name)), v.cfg.EndpointCount(), ErrScopeGone)
		}
	}
	return s, nil
}
