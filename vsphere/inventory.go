package vsphere

import (
	"context"
	"fmt"
	"slices"
	"sort"

	"github.com/vmware/govmomi/find"
	"github.com/vmware/govmomi/object"
	"github.com/vmware/govmomi/property"
	"github.com/vmware/govmomi/view"
	"github.com/vmware/govmomi/vim25"
	"github.com/vmware/govmomi/vim25/mo"
	"github.com/vmware/govmomi/vim25/types"

	"github.com/docker-vic/docker-vic/config"
)

// Inventory is what one scan of a datacenter holds: every VM, with what listing, removing,
// validating and reconfiguring need, and every network, with what NIC backings and MAC checks
// need. It does not follow later changes in vSphere.
type Inventory struct {
	dc     *object.Datacenter
	dcName string
	vms    []*VMRecord
	nets   *portGroups
	// hosts are the names of the hosts the scan read (a datacenter scan reads them all).
	hosts map[types.ManagedObjectReference]string
	// rules are the clusters' VM anti-affinity rules by name (a datacenter scan reads them).
	rules map[string][]ruleOf
}

// vmProperties are the VM properties of the one retrieval.
var vmProperties = []string{
	"name", "config.extraConfig", "config.hardware.device", "config.files.vmPathName",
	"config.changeVersion", "runtime.powerState", "runtime.host", "resourcePool", "parent",
	"guest.net",
}

// ScanInventory reads every VM and network of datacenter (a name or path; empty means the
// only one) through one container view and one property collector call.
func ScanInventory(ctx context.Context, c *vim25.Client, datacenter string) (*Inventory, error) {
	dc, err := find.NewFinder(c, false).DatacenterOrDefault(ctx, datacenter)
	if err != nil {
		return nil, fmt.Errorf("finding datacenter %q: %w", datacenter, err)
	}
	return ScanDatacenter(ctx, c, dc)
}

// Datacenter returns the datacenter scanned.
func (s *Inventory) Datacenter() *object.Datacenter { return s.dc }

// DatacenterName returns the name of the datacenter scanned.
func (s *Inventory) DatacenterName() string { return s.dcName }

// VMs returns every VM of the datacenter, sorted by name.
func (s *Inventory) VMs() []*VMRecord { return slices.Clone(s.vms) }

// ScanDatacenter retrieves every VM and network of dc through one container view and one
// property collector call.
func ScanDatacenter(ctx context.Context, c *vim25.Client, dc *object.Datacenter) (*Inventory, error) {
	s := &Inventory{dc: dc, dcName: dc.Name()}

	kinds := []string{"VirtualMachine", "Network", "DistributedVirtualSwitch", "HostSystem", "ClusterComputeResource"}
	v, err := view.NewManager(c).CreateContainerView(ctx, dc.Reference(), kinds, true)
	if err != nil {
		return nil, fmt.Errorf("listing the inventory of datacenter %q: %w", s.dcName, err)
	}
	defer func() { _ = v.Destroy(context.WithoutCancel(ctx)) }()

	req := types.RetrieveProperties{SpecSet: []types.PropertyFilterSpec{{
		ObjectSet: []types.ObjectSpec{{
			Obj:  v.Reference(),
			Skip: types.NewBool(true),
			SelectSet: []types.BaseSelectionSpec{&types.TraversalSpec{
				Type: "ContainerView",
				Path: "view",
			}},
		}},
		PropSet: inventoryProperties,
	}}}
	if err := s.retrieve(ctx, c, req); err != nil {
		return nil, fmt.Errorf("listing the inventory of datacenter %q: %w", s.dcName, err)
	}
	return s, nil
}

// inventoryProperties are the properties of the VMs and networks an Inventory holds.
var inventoryProperties = []types.PropertySpec{
	{Type: "VirtualMachine", PathSet: vmProperties},
	{Type: "Network", PathSet: []string{"name"}},
	{Type: "DistributedVirtualPortgroup", PathSet: []string{"config"}},
	{Type: "OpaqueNetwork", PathSet: []string{"summary"}},
	{Type: "DistributedVirtualSwitch", PathSet: []string{"name", "uuid"}},
	{Type: "HostSystem", PathSet: []string{"name"}},
	{Type: "ClusterComputeResource", PathSet: []string{"name", "configurationEx"}},
}

// retrieve runs one property retrieval of inventoryProperties and fills s with its answer.
func (s *Inventory) retrieve(ctx context.Context, c *vim25.Client, req types.RetrieveProperties) error {
	res, err := property.DefaultCollector(c).RetrieveProperties(ctx, req)
	if err != nil {
		return err
	}
	s.nets = newPortGroups()
	s.hosts = map[types.ManagedObjectReference]string{}
	s.rules = map[string][]ruleOf{}
	seen := map[types.ManagedObjectReference]bool{}
	for _, oc := range res.Returnval {
		if seen[oc.Obj] {
			continue // reached twice, through its pool and its folder
		}
		seen[oc.Obj] = true
		oc.MissingSet = nil // a VM being created may lack some properties: keep what is there
		obj, err := mo.ObjectContentToType(oc)
		if err != nil {
			return fmt.Errorf("reading %s: %w", oc.Obj, err)
		}
		switch o := obj.(type) {
		case mo.VirtualMachine:
			s.vms = append(s.vms, newVMRecord(o))
		case mo.Network:
			s.nets.addStandard(o)
		case mo.DistributedVirtualPortgroup:
			s.nets.addDistributed(o)
		case mo.OpaqueNetwork:
			s.nets.addOpaque(o)
		case mo.DistributedVirtualSwitch:
			s.nets.addSwitch(o.Self, o.Uuid)
		case mo.VmwareDistributedVirtualSwitch:
			s.nets.addSwitch(o.Self, o.Uuid)
		case mo.HostSystem:
			s.hosts[o.Self] = o.Name
		case mo.ClusterComputeResource:
			s.addRules(o)
		}
	}
	sort.Slice(s.vms, func(i, j int) bool { return s.vms[i].name < s.vms[j].name })
	return nil
}

func newVMRecord(o mo.VirtualMachine) *VMRecord {
	v := &VMRecord{
		ref:        o.Self,
		name:       o.Name,
		extra:      map[string]string{},
		powerState: string(o.Runtime.PowerState),
		pool:       o.ResourcePool,
		parent:     o.Parent,
		host:       o.Runtime.Host,
	}
	if o.Config != nil {
		for _, b := range o.Config.ExtraConfig {
			if ov := b.GetOptionValue(); ov != nil {
				if s, ok := ov.Value.(string); ok {
					v.extra[ov.Key] = s
				}
			}
		}
		v.devices = object.VirtualDeviceList(o.Config.Hardware.Device)
		v.vmPath = o.Config.Files.VmPathName
		v.changeVersion = o.Config.ChangeVersion
	}
	if o.Guest != nil {
		v.guestNet = o.Guest.Net
	}
	if config.Stored(v.extra) {
		cfg, err := config.Decode(v.extra)
		switch {
		case err != nil:
			v.decodeErr = err
		case cfg.Name == v.name:
			v.cfg = cfg
		default:
			// Endpoints 2 to N carry the VCH's configuration, their number and a derived name.
			if i := config.EndpointOf(v.extra); i > 1 && v.name == config.EndpointVMName(cfg.Name, i) {
				v.endpointOf, v.endpoint = cfg.Name, i
			}
		}
	}
	return v
}

// EndpointVMs returns the endpoint VMs of the inventory's VCHs, by name.
func (s *Inventory) EndpointVMs() []*VMRecord {
	var out []*VMRecord
	for _, v := range s.vms {
		if v.cfg != nil {
			out = append(out, v)
		}
	}
	return out
}

// EndpointVM returns the endpoint VM of VCH name, or an error wrapping ErrNotFound.
func (s *Inventory) EndpointVM(name string) (*VMRecord, error) {
	for _, v := range s.vms {
		if v.cfg != nil && v.name == name {
			return v, nil
		}
	}
	for _, v := range s.vms {
		if v.name == name && v.decodeErr != nil {
			return nil, fmt.Errorf("reading the configuration of VCH %q: %w", name, v.decodeErr)
		}
	}
	return nil, &NotFoundError{Name: name, Datacenter: s.dcName}
}

// EndpointVMsOf returns the endpoint VMs of VCH name that the scan holds, in endpoint order:
// the one named after the VCH first, then endpoints 2 to N. It is empty for no such VCH.
func (s *Inventory) EndpointVMsOf(name string) []*VMRecord {
	var out []*VMRecord
	for _, v := range s.vms {
		if (v.cfg != nil && v.name == name) || v.endpointOf == name {
			out = append(out, v)
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Endpoint() < out[j].Endpoint() })
	return out
}

// ContainerVMs returns the container VMs of VCH name, by name: never a VM that carries a VCH
// configuration, even one that cannot be read.
func (s *Inventory) ContainerVMs(name string) []*VMRecord {
	var out []*VMRecord
	for _, v := range s.vms {
		if !config.Stored(v.extra) && v.ContainerOf() == name {
			out = append(out, v)
		}
	}
	return out
}
