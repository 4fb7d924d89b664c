package vch

import (
	"context"
	"fmt"
	"slices"
	"sort"

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
	nets   *networks
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
	dc, err := newFinder(c).DatacenterOrDefault(ctx, datacenter)
	if err != nil {
		return nil, fmt.Errorf("finding datacenter %q: %w", datacenter, err)
	}
	return scanDatacenter(ctx, c, dc)
}

// Datacenter returns the name of the datacenter scanned.
func (s *Inventory) Datacenter() string { return s.dcName }

// VMs returns every VM of the datacenter, sorted by name.
func (s *Inventory) VMs() []*VMRecord { return slices.Clone(s.vms) }

// scan reads the Manager's datacenter.
func (m *Manager) scan(ctx context.Context) (*Inventory, error) {
	dc, err := m.datacenter(ctx)
	if err != nil {
		return nil, err
	}
	return scanDatacenter(ctx, m.Client, dc)
}

// scanDatacenter retrieves every VM and network of dc through one container view and one
// property collector call.
func scanDatacenter(ctx context.Context, c *vim25.Client, dc *object.Datacenter) (*Inventory, error) {
	s := &Inventory{dc: dc, dcName: dc.Name()}

	kinds := []string{"VirtualMachine", "Network", "DistributedVirtualSwitch"}
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
		PropSet: []types.PropertySpec{
			{Type: "VirtualMachine", PathSet: vmProperties},
			{Type: "Network", PathSet: []string{"name"}},
			{Type: "DistributedVirtualPortgroup", PathSet: []string{"config"}},
			{Type: "OpaqueNetwork", PathSet: []string{"summary"}},
			{Type: "DistributedVirtualSwitch", PathSet: []string{"name", "uuid"}},
		},
	}}}
	res, err := property.DefaultCollector(c).RetrieveProperties(ctx, req)
	if err != nil {
		return nil, fmt.Errorf("listing the inventory of datacenter %q: %w", s.dcName, err)
	}

	s.nets = newNetworks()
	for _, oc := range res.Returnval {
		oc.MissingSet = nil // a VM being created may lack some properties: keep what is there
		obj, err := mo.ObjectContentToType(oc)
		if err != nil {
			return nil, fmt.Errorf("reading %s: %w", oc.Obj, err)
		}
		switch o := obj.(type) {
		case mo.VirtualMachine:
			s.vms = append(s.vms, newVMRecord(o))
		case mo.Network:
			s.nets.addStandard(o)
		case mo.DistributedVirtualPortgroup:
			s.nets.addPortgroup(o)
		case mo.OpaqueNetwork:
			s.nets.addOpaque(o)
		case mo.DistributedVirtualSwitch:
			s.nets.addSwitch(o.Self, o.Uuid)
		case mo.VmwareDistributedVirtualSwitch:
			s.nets.addSwitch(o.Self, o.Uuid)
		}
	}
	sort.Slice(s.vms, func(i, j int) bool { return s.vms[i].name < s.vms[j].name })
	return s, nil
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
	if _, ok := v.extra[config.KeyConfig]; ok {
		cfg, err := config.DecodeVCH(v.name, v.extra)
		switch {
		case err == nil:
			v.cfg = cfg
		case err != config.ErrNotVCH:
			v.decodeErr = err
		}
	}
	return v
}

// vchs returns the VCHs of the inventory, by name.
func (s *Inventory) vchs() []*VMRecord {
	var out []*VMRecord
	for _, v := range s.vms {
		if v.cfg != nil {
			out = append(out, v)
		}
	}
	return out
}

// vch returns the endpoint VM of VCH name, or an error wrapping ErrNotFound.
func (s *Inventory) vch(name string) (*VMRecord, error) {
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

// containers returns the container VMs of VCH name.
func (s *Inventory) containers(name string) []*VMRecord {
	var out []*VMRecord
	for _, v := range s.vms {
		if v.cfg == nil && v.containerOf() == name {
			out = append(out, v)
		}
	}
	return out
}

// datacenter finds the Manager's datacenter, or the only one.
func (m *Manager) datacenter(ctx context.Context) (*object.Datacenter, error) {
	f := newFinder(m.Client)
	dc, err := f.DatacenterOrDefault(ctx, m.Datacenter)
	if err == nil {
		return dc, nil
	}
	all, lerr := f.DatacenterList(ctx, "*")
	var names []string
	if lerr == nil {
		for _, d := range all {
			names = append(names, d.Name())
		}
	}
	if m.Datacenter == "" {
		if len(names) > 1 {
			return nil, &config.Error{Flag: "--datacenter", Rule: "the target has several datacenters, name one of " + quoteList(names)}
		}
		return nil, fmt.Errorf("finding the datacenter: %w", err)
	}
	if isNotFound(err) {
		return nil, &config.Error{Flag: "--datacenter", Value: m.Datacenter, Rule: "no datacenter of that name" + suggest(m.Datacenter, names)}
	}
	return nil, fmt.Errorf("finding datacenter %q: %w", m.Datacenter, err)
}
