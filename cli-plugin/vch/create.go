package vch

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"path"

	"github.com/vmware/govmomi/object"
	"github.com/vmware/govmomi/vim25/mo"
	"github.com/vmware/govmomi/vim25/types"

	"github.com/docker-vic/docker-vic/api/vchdoc"
	"github.com/docker-vic/docker-vic/config"
	"github.com/docker-vic/docker-vic/vsphere"
)

// Endpoint VM defaults.
const (
	DefaultCPUs     = 2
	DefaultMemoryMB = 2048
	// GuestID is the guest OS the endpoint VM is declared with.
	GuestID = string(types.VirtualMachineGuestOsIdentifierOther3xLinux64Guest)
)

// Create validates cfg against the inventory and creates the VCH, all or nothing. cfg has
// passed config.Validate; Create fills in the placement it resolved (datacenter, compute
// resource, image store) before storing it.
func (m *Manager) Create(ctx context.Context, cfg *config.Config) (*vchdoc.VCH, error) {
	return m.CreateAppliance(ctx, cfg, nil)
}

// CreateAppliance is Create for an endpoint VM that boots the appliance: app adds its
// datastore folder (with the uploaded image when app.LocalISO is set), serial log, data disk
// and guestinfo keys. A nil app is Create.
func (m *Manager) CreateAppliance(ctx context.Context, cfg *config.Config, app *Appliance) (*vchdoc.VCH, error) {
	cfg.ApplyDefaults()
	if err := config.ValidateNewName(cfg.Name); err != nil {
		return nil, err
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	plan, err := m.plan(ctx, cfg)
	if err != nil {
		return nil, err
	}
	if app != nil {
		if err := m.checkFolderFree(ctx, plan, cfg.Name); err != nil {
			return nil, err
		}
		if app.LocalISO != "" {
			cfg.Placement.ApplianceISO = DatastoreFile(cfg, ISOFile)
		}
		plan.app = app
	}
	if err := m.build(ctx, cfg, plan); err != nil {
		return nil, err
	}
	return m.get(ctx, cfg.Name)
}

// createPlan is what validation resolved and creation uses.
type createPlan struct {
	snap   *vsphere.Inventory
	target *target
	// folder says whether the VCH gets a VM folder of its own (vCenter only).
	folder bool
	// app is set for an endpoint VM that boots the appliance.
	app *Appliance
	// hosts are the hosts of the endpoint VMs, by endpoint number from 1; nil when DRS places
	// them (a VCH of one endpoint).
	hosts []*types.ManagedObjectReference
}

// plan checks everything that needs the inventory, before any change, and fills in the
// resolved placement of cfg.
func (m *Manager) plan(ctx context.Context, cfg *config.Config) (*createPlan, error) {
	snap, err := m.Scan(ctx)
	if err != nil {
		return nil, err
	}
	m.progress("validating VCH %q in datacenter %q", cfg.Name, snap.DatacenterName())
	k := &checker{m: m, snap: snap, vCenter: m.Client.IsVC()}
	if err := k.checkName(cfg.Name); err != nil {
		return nil, err
	}
	t, err := m.resolveTarget(ctx, snap.Datacenter(), cfg.Placement)
	if err != nil {
		return nil, err
	}
	k.hosts = t.hosts
	if err := k.checkPortGroups(ctx, cfg, nil); err != nil {
		return nil, err
	}
	usable, err := m.checkEndpointHosts(ctx, cfg.EndpointCount(), cfg.PortGroups(), t.computePath, t.cluster, t.hosts)
	if err != nil {
		return nil, err
	}
	p := &createPlan{snap: snap, target: t, folder: k.vCenter}
	if cfg.EndpointCount() > 1 {
		p.hosts = hostsFor(usable, nil, cfg.EndpointCount())
	}
	if err := m.checkFreeNames(ctx, cfg.Name, p); err != nil {
		return nil, err
	}
	cfg.Placement.Datacenter = snap.DatacenterName()
	cfg.Placement.ComputeResource = t.computePath
	cfg.Placement.ImageStore = t.datastore
	return p, nil
}

// checkFreeNames refuses a name already taken by a pool under the target pool, or by anything
// in the datacenter's VM folder, where the VCH's folder (vCenter) or endpoint VM (ESXi) goes.
func (m *Manager) checkFreeNames(ctx context.Context, name string, p *createPlan) error {
	var rp mo.ResourcePool
	if err := p.target.pool.Properties(ctx, p.target.pool.Reference(), []string{"resourcePool"}, &rp); err != nil {
		return fmt.Errorf("reading resource pool %q: %w", p.target.pool.InventoryPath, err)
	}
	pools, err := m.entityNames(ctx, rp.ResourcePool)
	if err != nil {
		return err
	}
	for ref, n := range pools {
		if n == name {
			return &config.Error{Flag: "--name", Value: name, Rule: fmt.Sprintf("%s %q already exists", poolKind(ref), path.Join(p.target.pool.InventoryPath, name))}
		}
	}
	var f mo.Folder
	if err := p.target.vmFolder.Properties(ctx, p.target.vmFolder.Reference(), []string{"childEntity"}, &f); err != nil {
		return fmt.Errorf("reading the VM folder of datacenter %q: %w", p.snap.DatacenterName(), err)
	}
	children, err := m.entityNames(ctx, f.ChildEntity)
	if err != nil {
		return err
	}
	for ref, n := range children {
		if n == name {
			return &config.Error{Flag: "--name", Value: name, Rule: fmt.Sprintf("the VM folder of datacenter %q already holds %s of that name", p.snap.DatacenterName(), kindName(ref))}
		}
	}
	return nil
}

// kindName names the kind of an inventory object for messages ("a VM").
func kindName(ref types.ManagedObjectReference) string {
	switch ref.Type {
	case "VirtualMachine":
		return "a VM"
	case "Folder":
		return "a folder"
	case "VirtualApp":
		return "a vApp"
	}
	return "an object"
}

// build creates the folder, pool and endpoint VMs, keeps the endpoint VMs on different hosts
// and powers them on. Each step that changes the inventory pushes its undo; any failure runs
// them, newest first.
func (m *Manager) build(ctx context.Context, cfg *config.Config, p *createPlan) (err error) {
	name := cfg.Name
	var undo []func(context.Context) error
	success := false
	defer m.rollback(ctx, &success, &undo, &err, "cleaning up")

	folder := p.target.vmFolder
	if p.folder {
		if folder, err = m.createFolder(ctx, p.target.vmFolder, name, &undo); err != nil {
			return err
		}
	}
	pool, err := m.createPool(ctx, p.target.pool, name, cfg.Placement.UseVApp, folder, &undo)
	if err != nil {
		return err
	}
	if p.app != nil {
		if err := m.makeFolder(ctx, cfg, p.app, &undo); err != nil {
			return err
		}
	}
	vms, err := m.createEndpointVMs(ctx, cfg, p, 1, folder, pool, &undo)
	if err != nil {
		return err
	}
	if p.app != nil {
		if err := m.writeNICs(ctx, name, vms, 1); err != nil {
			return err
		}
	}
	if len(vms) > 1 {
		if err := m.setEndpointRule(ctx, *p.target.cluster, name, refsOf(vms), &undo); err != nil {
			return err
		}
	}
	names := make([]string, len(vms))
	for i := range vms {
		names[i] = config.EndpointVMName(name, i+1)
	}
	if err := m.powerOn(ctx, vms, names); err != nil {
		return err
	}
	success = true
	return nil
}

// createEndpointVMs creates the endpoint VMs numbered from first to the count of cfg, in
// folder and pool, each on its planned host.
func (m *Manager) createEndpointVMs(ctx context.Context, cfg *config.Config, p *createPlan, first int, folder *object.Folder, pool *object.ResourcePool, undo *[]func(context.Context) error) ([]*object.VirtualMachine, error) {
	var vms []*object.VirtualMachine
	for i := first; i <= cfg.EndpointCount(); i++ {
		spec, err := endpointVMSpec(cfg, p, i)
		if err != nil {
			return nil, err
		}
		var host *types.ManagedObjectReference
		if i <= len(p.hosts) {
			host = p.hosts[i-1]
		}
		vm, err := m.createVM(ctx, spec, folder, pool, host, undo)
		if err != nil {
			return nil, err
		}
		vms = append(vms, vm)
	}
	return vms, nil
}

// powerOn powers on endpoint VMs vms, called names.
func (m *Manager) powerOn(ctx context.Context, vms []*object.VirtualMachine, names []string) error {
	for i, vm := range vms {
		vmName := names[i]
		m.progress("powering on endpoint VM %q", vmName)
		task, err := vm.PowerOn(ctx)
		if err = vsphere.Wait(ctx, task, err); err != nil {
			return fmt.Errorf("powering on endpoint VM %q: %w", vmName, err)
		}
	}
	return nil
}

func refsOf(vms []*object.VirtualMachine) []types.ManagedObjectReference {
	out := make([]types.ManagedObjectReference, len(vms))
	for i, vm := range vms {
		out[i] = vm.Reference()
	}
	return out
}

// endpointVMSpec describes endpoint VM i of cfg (from 1): CPUs, memory, one NIC per port group,
// the appliance CD-ROM, the stored configuration and, from the second, the endpoint's number.
func endpointVMSpec(cfg *config.Config, p *createPlan, i int) (types.VirtualMachineConfigSpec, error) {
	var spec types.VirtualMachineConfigSpec
	name := config.EndpointVMName(cfg.Name, i)
	extra, err := cfg.Encode()
	if err != nil {
		return spec, err
	}
	maps.Copy(extra, config.EndpointKeys(i))
	devices, err := nicSpecs(p.snap, cfg.PortGroups(), -100)
	if err != nil {
		return spec, fmt.Errorf("creating endpoint VM %q: %w", name, err)
	}
	if iso := cfg.Placement.ApplianceISO; iso != "" {
		cd, err := cdromSpecs(iso)
		if err != nil {
			return spec, fmt.Errorf("creating the CD-ROM of endpoint VM %q: %w", name, err)
		}
		devices = append(devices, cd...)
	}
	vmPath := fmt.Sprintf("[%s]", p.target.datastore)
	if p.app != nil {
		// The VM's files go in the folder made for the appliance's, not in a new one.
		vmPath = EndpointFile(cfg, i, name+".vmx")
		devices = append(devices, applianceDevices(cfg, p.app, i, -200)...)
		for k, v := range p.app.Keys {
			extra[k] = v
		}
	}
	annotation := "docker-vic endpoint of VCH " + cfg.Name
	if cfg.EndpointCount() > 1 {
		annotation = fmt.Sprintf("docker-vic endpoint %d of VCH %s", i, cfg.Name)
	}
	return types.VirtualMachineConfigSpec{
		Name:         name,
		GuestId:      GuestID,
		Annotation:   annotation,
		NumCPUs:      int32(orDefault(cfg.Placement.CPUs, DefaultCPUs)),
		MemoryMB:     int64(orDefault(cfg.Placement.MemoryMB, DefaultMemoryMB)),
		Files:        &types.VirtualMachineFileInfo{VmPathName: vmPath},
		ExtraConfig:  vsphere.OptionValues(extra),
		DeviceChange: devices,
	}, nil
}

// createFolder creates the VCH's VM folder.
func (m *Manager) createFolder(ctx context.Context, parent *object.Folder, name string, undo *[]func(context.Context) error) (*object.Folder, error) {
	m.progress("creating VM folder %q", name)
	folder, err := parent.CreateFolder(ctx, name)
	if err != nil {
		return nil, fmt.Errorf("creating VM folder %q: %w", name, err)
	}
	ref := folder.Reference()
	*undo = append(*undo, func(ctx context.Context) error {
		m.progress("removing VM folder %q", name)
		return vsphere.Destroy(ctx, m.Client, ref)
	})
	return folder, nil
}

// createPool creates the VCH's resource pool, or vApp, under parent.
func (m *Manager) createPool(ctx context.Context, parent *object.ResourcePool, name string, vApp bool, folder *object.Folder, undo *[]func(context.Context) error) (*object.ResourcePool, error) {
	var ref types.ManagedObjectReference
	if vApp {
		m.progress("creating vApp %q under %q", name, parent.InventoryPath)
		app, err := parent.CreateVApp(ctx, name, types.DefaultResourceConfigSpec(), types.VAppConfigSpec{}, folder)
		if err != nil {
			return nil, fmt.Errorf("creating vApp %q: %w", name, err)
		}
		ref = app.Reference()
	} else {
		m.progress("creating resource pool %q under %q", name, parent.InventoryPath)
		pool, err := parent.Create(ctx, name, types.DefaultResourceConfigSpec())
		if err != nil {
			return nil, fmt.Errorf("creating resource pool %q: %w", name, err)
		}
		ref = pool.Reference()
	}
	*undo = append(*undo, func(ctx context.Context) error {
		m.progress("removing %s %q", poolKind(ref), name)
		return vsphere.Destroy(ctx, m.Client, ref)
	})
	return object.NewResourcePool(m.Client, ref), nil
}

// createVM creates an endpoint VM in folder and pool, on host unless it is nil (DRS places it);
// a vApp creates its own child VMs.
func (m *Manager) createVM(ctx context.Context, spec types.VirtualMachineConfigSpec, folder *object.Folder, pool *object.ResourcePool, host *types.ManagedObjectReference, undo *[]func(context.Context) error) (*object.VirtualMachine, error) {
	name := spec.Name
	var dsPath object.DatastorePath
	dsPath.FromString(spec.Files.VmPathName)
	m.progress("creating endpoint VM %q with %d NICs on datastore %q", name, countNICs(spec), dsPath.Datastore)
	var on *object.HostSystem
	if host != nil {
		on = object.NewHostSystem(m.Client, *host)
	}
	var task *object.Task
	var err error
	if pool.Reference().Type == "VirtualApp" {
		task, err = object.NewVirtualApp(m.Client, pool.Reference()).CreateChildVM(ctx, spec, on)
	} else {
		task, err = folder.CreateVM(ctx, spec, pool, on)
	}
	var info *types.TaskInfo
	if err == nil {
		info, err = task.WaitForResult(ctx)
	}
	if err != nil {
		return nil, fmt.Errorf("creating endpoint VM %q: %w", name, err)
	}
	ref, ok := info.Result.(types.ManagedObjectReference)
	if !ok {
		return nil, fmt.Errorf("creating endpoint VM %q: the task returned no VM", name)
	}
	*undo = append(*undo, func(ctx context.Context) error {
		m.progress("removing endpoint VM %q", name)
		// A failed power-on may still have started the VM: power it off first.
		return vsphere.RemoveVM(ctx, m.Client, ref, name, true)
	})
	return object.NewVirtualMachine(m.Client, ref), nil
}

func countNICs(spec types.VirtualMachineConfigSpec) int {
	n := 0
	for _, d := range spec.DeviceChange {
		if _, ok := d.GetVirtualDeviceConfigSpec().Device.(types.BaseVirtualEthernetCard); ok {
			n++
		}
	}
	return n
}

// rollback runs the undo steps unless success, adding their failure to *err as what failed
// too. Deferred right after a change starts, it undoes what was done when a step fails.
func (m *Manager) rollback(ctx context.Context, success *bool, undo *[]func(context.Context) error, err *error, what string) {
	if *success {
		return
	}
	if uerr := m.undo(ctx, *undo); uerr != nil {
		*err = fmt.Errorf("%w; %s also failed: %v", *err, what, uerr)
	}
}

// undo runs clean-up steps newest first, on a context that outlives a cancelled ctx.
func (m *Manager) undo(ctx context.Context, steps []func(context.Context) error) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), undoTimeout)
	defer cancel()
	var errs []error
	for i := len(steps) - 1; i >= 0; i-- {
		if err := steps[i](ctx); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

func (m *Manager) progress(format string, args ...any) {
	if m.Progress != nil {
		m.Progress(fmt.Sprintf(format, args...))
	}
}

func orDefault(v, def int) int {
	if v > 0 {
		return v
	}
	return def
}
