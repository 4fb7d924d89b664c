package sim

import (
	"cmp"
	"context"
	"fmt"
	"maps"

	"github.com/vmware/govmomi/find"
	"github.com/vmware/govmomi/object"
	"github.com/vmware/govmomi/vim25"
	"github.com/vmware/govmomi/vim25/types"

	"github.com/docker-vic/docker-vic/config"
	"github.com/docker-vic/docker-vic/vsphere"
)

// AddVCH places VCH cfg in datacenter DC0 as `docker vic create` places it, for the tests of
// what reads VCHs (the endpoint's side): a resource pool named after it under cluster DC0_C0, a
// VM folder (a vApp instead of both with cfg.Placement.UseVApp), and a powered-on endpoint VM with one card per port group of cfg and cfg stored in
// its extraConfig (and endpoint VMs 2 to N beside it for a cfg of several endpoints, on the
// cluster's hosts in turn). Like create, it fills in cfg's empty placement (DC0, DC0_C0, LocalDS_0).
// It validates nothing: the CLI's tests cover create itself.
func AddVCH(ctx context.Context, c *vim25.Client, cfg *config.Config) (*object.VirtualMachine, error) {
	p := &cfg.Placement
	p.Datacenter = cmp.Or(p.Datacenter, "DC0")
	p.ComputeResource = cmp.Or(p.ComputeResource, "/DC0/host/DC0_C0")
	p.ImageStore = cmp.Or(p.ImageStore, "LocalDS_0")
	f := find.NewFinder(c)
	dc, err := f.Datacenter(ctx, "DC0")
	if err != nil {
		return nil, err
	}
	f.SetDatacenter(dc)
	root, err := f.ResourcePool(ctx, "/DC0/host/DC0_C0/Resources")
	if err != nil {
		return nil, err
	}
	folders, err := dc.Folders(ctx)
	if err != nil {
		return nil, err
	}
	folder, err := folders.VmFolder.CreateFolder(ctx, cfg.Name)
	if err != nil {
		return nil, fmt.Errorf("creating the folder of VCH %q: %w", cfg.Name, err)
	}
	var pool *object.ResourcePool
	var app *object.VirtualApp
	if cfg.Placement.UseVApp {
		app, err = root.CreateVApp(ctx, cfg.Name, types.DefaultResourceConfigSpec(), types.VAppConfigSpec{}, folder)
	} else {
		pool, err = root.Create(ctx, cfg.Name, types.DefaultResourceConfigSpec())
	}
	if err != nil {
		return nil, fmt.Errorf("creating the pool of VCH %q: %w", cfg.Name, err)
	}
	inv, err := vsphere.ScanDatacenter(ctx, c, dc)
	if err != nil {
		return nil, err
	}
	hosts, err := f.HostSystemList(ctx, "/DC0/host/DC0_C0/*")
	if err != nil {
		return nil, err
	}
	var first *object.VirtualMachine
	for i := 1; i <= cfg.EndpointCount(); i++ {
		vm, err := addEndpointVM(ctx, inv, cfg, i, folder, pool, app, hosts[(i-1)%len(hosts)])
		if err != nil {
			return nil, err
		}
		if i == 1 {
			first = vm
		}
	}
	return first, nil
}

// addEndpointVM creates and powers on endpoint VM i of cfg on host: the VCH's configuration and
// the endpoint's number in its extraConfig, one card per port group.
func addEndpointVM(ctx context.Context, inv *vsphere.Inventory, cfg *config.Config, i int, folder *object.Folder, pool *object.ResourcePool, app *object.VirtualApp, host *object.HostSystem) (*object.VirtualMachine, error) {
	name := config.EndpointVMName(cfg.Name, i)
	extra, err := cfg.Encode()
	if err != nil {
		return nil, err
	}
	maps.Copy(extra, config.EndpointKeys(i))
	spec := types.VirtualMachineConfigSpec{
		Name:        name,
		GuestId:     "otherLinux64Guest",
		Files:       &types.VirtualMachineFileInfo{VmPathName: "[" + cfg.Placement.ImageStore + "]"},
		ExtraConfig: vsphere.OptionValues(extra),
	}
	if spec.DeviceChange, err = addNICs(inv, cfg.PortGroups()); err != nil {
		return nil, err
	}
	var task *object.Task
	if app != nil {
		task, err = app.CreateChildVM(ctx, spec, host)
	} else {
		task, err = folder.CreateVM(ctx, spec, pool, host)
	}
	var info *types.TaskInfo
	if err == nil {
		info, err = task.WaitForResult(ctx)
	}
	if err != nil {
		return nil, fmt.Errorf("creating endpoint VM %q: %w", name, err)
	}
	vm := object.NewVirtualMachine(inv.Datacenter().Client(), info.Result.(types.ManagedObjectReference))
	task, err = vm.PowerOn(ctx)
	if err = vsphere.Wait(ctx, task, err); err != nil {
		return nil, fmt.Errorf("powering on endpoint VM %q: %w", name, err)
	}
	return vm, nil
}

// ConfigureVCH stores cfg as the configuration of VCH cfg.Name, as `docker vic configure`
// stores it: in the endpoint VM's extraConfig, with a NIC added on each port group of cfg the
// endpoint VM has none on yet.
func ConfigureVCH(ctx context.Context, c *vim25.Client, cfg *config.Config) error {
	inv, err := vsphere.ScanInventory(ctx, c, cfg.Placement.Datacenter)
	if err != nil {
		return err
	}
	rec, err := inv.EndpointVM(cfg.Name)
	if err != nil {
		return err
	}
	v, err := inv.VCH(cfg.Name)
	if err != nil {
		return err
	}
	have := map[string]bool{}
	for _, n := range v.NICs {
		have[n.PortGroup] = true
	}
	var added []string
	for _, pg := range cfg.PortGroups() {
		if !have[pg] {
			added = append(added, pg)
		}
	}
	extra, err := cfg.Encode()
	if err != nil {
		return err
	}
	spec := types.VirtualMachineConfigSpec{ExtraConfig: vsphere.OptionValues(extra)}
	if spec.DeviceChange, err = addNICs(inv, added); err != nil {
		return err
	}
	task, err := object.NewVirtualMachine(c, rec.Ref()).Reconfigure(ctx, spec)
	if err = vsphere.Wait(ctx, task, err); err != nil {
		return fmt.Errorf("reconfiguring endpoint VM %q: %w", cfg.Name, err)
	}
	return nil
}

// addNICs are the device changes that add a NIC with a generated MAC on each port group.
func addNICs(inv *vsphere.Inventory, portGroups []string) ([]types.BaseVirtualDeviceConfigSpec, error) {
	var out []types.BaseVirtualDeviceConfigSpec
	for i, pg := range portGroups {
		backing, err := inv.NetworkBacking(pg)
		if err != nil {
			return nil, err
		}
		out = append(out, &types.VirtualDeviceConfigSpec{
			Operation: types.VirtualDeviceConfigSpecOperationAdd,
			Device: &types.VirtualVmxnet3{VirtualVmxnet: types.VirtualVmxnet{VirtualEthernetCard: types.VirtualEthernetCard{
				VirtualDevice: types.VirtualDevice{Key: -100 - int32(i), Backing: backing},
				AddressType:   string(types.VirtualEthernetCardMacTypeGenerated),
			}}},
		})
	}
	return out, nil
}
