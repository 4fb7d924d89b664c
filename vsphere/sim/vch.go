package sim

import (
	"cmp"
	"context"
	"fmt"

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
// its extraConfig. Like create, it fills in cfg's empty placement (DC0, DC0_C0, LocalDS_0).
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
	extra, err := cfg.Encode()
	if err != nil {
		return nil, err
	}
	spec := types.VirtualMachineConfigSpec{
		Name:        cfg.Name,
		GuestId:     "otherLinux64Guest",
		Files:       &types.VirtualMachineFileInfo{VmPathName: "[" + p.ImageStore + "]"},
		ExtraConfig: vsphere.OptionValues(extra),
	}
	for i, pg := range cfg.PortGroups() {
		backing, err := inv.NetworkBacking(pg)
		if err != nil {
			return nil, err
		}
		spec.DeviceChange = append(spec.DeviceChange, &types.VirtualDeviceConfigSpec{
			Operation: types.VirtualDeviceConfigSpecOperationAdd,
			Device: &types.VirtualVmxnet3{VirtualVmxnet: types.VirtualVmxnet{VirtualEthernetCard: types.VirtualEthernetCard{
				VirtualDevice: types.VirtualDevice{Key: -100 - int32(i), Backing: backing},
				AddressType:   string(types.VirtualEthernetCardMacTypeGenerated),
			}}},
		})
	}
	var task *object.Task
	if app != nil {
		task, err = app.CreateChildVM(ctx, spec, nil)
	} else {
		task, err = folder.CreateVM(ctx, spec, pool, nil)
	}
	var info *types.TaskInfo
	if err == nil {
		info, err = task.WaitForResult(ctx)
	}
	if err != nil {
		return nil, fmt.Errorf("creating endpoint VM %q: %w", cfg.Name, err)
	}
	vm := object.NewVirtualMachine(c, info.Result.(types.ManagedObjectReference))
	task, err = vm.PowerOn(ctx)
	if err = vsphere.Wait(ctx, task, err); err != nil {
		return nil, fmt.Errorf("powering on endpoint VM %q: %w", cfg.Name, err)
	}
	return vm, nil
}
