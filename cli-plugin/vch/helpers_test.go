package vch

import (
	"context"
	"errors"
	"net/netip"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/vmware/govmomi/find"
	"github.com/vmware/govmomi/object"
	"github.com/vmware/govmomi/property"
	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/view"
	"github.com/vmware/govmomi/vim25"
	"github.com/vmware/govmomi/vim25/mo"
	"github.com/vmware/govmomi/vim25/types"

	"github.com/docker-vic/docker-vic/api/vchdoc"
	"github.com/docker-vic/docker-vic/config"
	"github.com/docker-vic/docker-vic/vsphere"
	"github.com/docker-vic/docker-vic/vsphere/sim"
)

// vcenter runs f against an in-process vCenter with one datacenter DC0, one cluster DC0_C0
// (no standalone host, so the cluster is the default compute resource), datastore LocalDS_0,
// the standard "VM Network" and switch DVS0 with DC0_DVPG0.
func vcenter(t *testing.T, f func(ctx context.Context, c *vim25.Client)) {
	t.Helper()
	runModel(t, vcModel(), f)
}

func vcModel() *simulator.Model { return sim.Model() }

func runModel(t *testing.T, m *simulator.Model, f func(ctx context.Context, c *vim25.Client)) {
	t.Helper()
	defer m.Remove()
	if err := m.Run(func(ctx context.Context, c *vim25.Client) error {
		f(ctx, c)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
}

// recorder collects Progress lines.
type recorder struct {
	mu    sync.Mutex
	lines []string
}

func (r *recorder) add(s string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.lines = append(r.lines, s)
}

func (r *recorder) text() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return strings.Join(r.lines, "\n")
}

func newManager(c *vim25.Client) (*Manager, *recorder) {
	r := &recorder{}
	return &Manager{Client: c, Progress: r.add}, r
}

// addPortgroup adds a distributed port group to DVS0 with the given default port setting (nil:
// the simulator's default, which sets no security policy).
func addPortgroup(t *testing.T, ctx context.Context, c *vim25.Client, name string, setting *types.VMwareDVSPortSetting) {
	t.Helper()
	if err := sim.AddPortGroups(ctx, c, setting, name); err != nil {
		t.Fatal(err)
	}
}

// newConfig returns a valid configuration of VCH name with its bridge on port group name.
func newConfig(name string, containerNetworks ...string) *config.Config {
	cfg := config.New(name)
	for _, pg := range containerNetworks {
		cfg.ContainerNetworks = append(cfg.ContainerNetworks, config.ContainerNetwork{PortGroup: pg})
	}
	cfg.DNS = []netip.Addr{netip.MustParseAddr("198.51.100.53")}
	cfg.ApplyDefaults()
	return cfg
}

// mustCreate creates a VCH whose bridge port group, named after it, it adds first.
func mustCreate(t *testing.T, ctx context.Context, m *Manager, cfg *config.Config) *vchdoc.VCH {
	t.Helper()
	h, err := m.Create(ctx, cfg)
	if err != nil {
		t.Fatalf("creating VCH %q: %v", cfg.Name, err)
	}
	return h
}

// inventory is what an admin sees: every VM, resource pool, vApp and folder path.
type inventory struct {
	vms, pools, folders []string
}

func readInventory(t *testing.T, ctx context.Context, c *vim25.Client) inventory {
	t.Helper()
	f := find.NewFinder(c)
	var inv inventory
	vms, _ := f.VirtualMachineList(ctx, "/...")
	for _, v := range vms {
		inv.vms = append(inv.vms, v.InventoryPath)
	}
	pools, _ := f.ResourcePoolListAll(ctx, "/...")
	for _, p := range pools {
		inv.pools = append(inv.pools, p.InventoryPath)
	}
	apps, _ := f.VirtualAppList(ctx, "/...")
	for _, a := range apps {
		inv.pools = append(inv.pools, a.InventoryPath)
	}
	folders, _ := f.FolderList(ctx, "/DC0/vm/*")
	for _, fo := range folders {
		inv.folders = append(inv.folders, fo.InventoryPath)
	}
	sort.Strings(inv.vms)
	sort.Strings(inv.pools)
	sort.Strings(inv.folders)
	return inv
}

func (i inventory) String() string {
	return "VMs " + strings.Join(i.vms, ", ") + "; pools " + strings.Join(i.pools, ", ") + "; folders " + strings.Join(i.folders, ", ")
}

func (i inventory) equal(o inventory) bool { return i.String() == o.String() }

// vmByName reads a VM's name, power state, NICs and extraConfig as the admin's tools would.
func vmByName(t *testing.T, ctx context.Context, c *vim25.Client, name string) (mo.VirtualMachine, bool) {
	t.Helper()
	v, err := view.NewManager(c).CreateContainerView(ctx, c.ServiceContent.RootFolder, []string{"VirtualMachine"}, true)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = v.Destroy(ctx) }()
	var vms []mo.VirtualMachine
	if err := v.Retrieve(ctx, []string{"VirtualMachine"}, []string{"name", "config", "runtime.powerState", "resourcePool", "parent"}, &vms); err != nil {
		t.Fatal(err)
	}
	for _, vm := range vms {
		if vm.Name == name {
			return vm, true
		}
	}
	return mo.VirtualMachine{}, false
}

// nicNetworks returns the network names of a VM's NICs, in device order.
func nicNetworks(t *testing.T, ctx context.Context, c *vim25.Client, vm mo.VirtualMachine) []string {
	t.Helper()
	var out []string
	for _, d := range object.VirtualDeviceList(vm.Config.Hardware.Device).SelectByType((*types.VirtualEthernetCard)(nil)) {
		card := d.(types.BaseVirtualEthernetCard).GetVirtualEthernetCard()
		switch b := card.Backing.(type) {
		case *types.VirtualEthernetCardNetworkBackingInfo:
			out = append(out, b.DeviceName)
		case *types.VirtualEthernetCardDistributedVirtualPortBackingInfo:
			var pg mo.DistributedVirtualPortgroup
			ref := types.ManagedObjectReference{Type: "DistributedVirtualPortgroup", Value: b.Port.PortgroupKey}
			if err := property.DefaultCollector(c).RetrieveOne(ctx, ref, []string{"name"}, &pg); err != nil {
				t.Fatal(err)
			}
			out = append(out, pg.Name)
		default:
			out = append(out, "?")
		}
	}
	return out
}

func extraConfig(vm mo.VirtualMachine) map[string]string {
	out := map[string]string{}
	for _, b := range vm.Config.ExtraConfig {
		ov := b.GetOptionValue()
		if s, ok := ov.Value.(string); ok {
			out[ov.Key] = s
		}
	}
	return out
}

// addContainerVM creates a container VM of VCH vch in the VCH's pool and folder, powered on
// when on.
func addContainerVM(t *testing.T, ctx context.Context, c *vim25.Client, vch, name string, on bool) {
	t.Helper()
	f := find.NewFinder(c)
	pool, err := f.ResourcePool(ctx, "/DC0/host/DC0_C0/Resources/"+vch)
	if err != nil {
		t.Fatal(err)
	}
	folder, err := f.Folder(ctx, "/DC0/vm/"+vch)
	if err != nil {
		t.Fatal(err)
	}
	spec := types.VirtualMachineConfigSpec{
		Name:    name,
		GuestId: GuestID,
		Files:   &types.VirtualMachineFileInfo{VmPathName: "[LocalDS_0]"},
		ExtraConfig: []types.BaseOptionValue{
			&types.OptionValue{Key: config.KeyContainerVCH, Value: vch},
			&types.OptionValue{Key: config.KeyContainerID, Value: "c0ffee" + name},
		},
	}
	task, err := folder.CreateVM(ctx, spec, pool, nil)
	if err != nil {
		t.Fatal(err)
	}
	info, err := task.WaitForResult(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if on {
		vm := object.NewVirtualMachine(c, info.Result.(types.ManagedObjectReference))
		task, err := vm.PowerOn(ctx)
		if err == nil {
			err = task.Wait(ctx)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
}

// injectFault makes every call of method fail.
func injectFault(ctx context.Context, method string) {
	sim.InjectFault(simulator.ServiceFromContext(ctx), method)
}

// asConfigError returns err as a *config.Error, failing the test when it is not one.
func asConfigError(t *testing.T, err error) *config.Error {
	t.Helper()
	var ce *config.Error
	if !errors.As(err, &ce) {
		t.Fatalf("error %v (%T) is not a *config.Error", err, err)
	}
	return ce
}

// addHostPortgroup adds a standard port group on vSwitch0 of the first host with the given
// security policy (nil: none of its own).
func addHostPortgroup(t *testing.T, ctx context.Context, c *vim25.Client, name string, security *types.HostNetworkSecurityPolicy) {
	t.Helper()
	if err := sim.AddHostPortGroup(ctx, c, name, security); err != nil {
		t.Fatal(err)
	}
}

func vmRef(id string) types.ManagedObjectReference {
	return types.ManagedObjectReference{Type: "VirtualMachine", Value: id}
}

// getVCH describes VCH name as ls and inspect read it.
func getVCH(ctx context.Context, m *Manager, name string) (*vchdoc.VCH, error) {
	inv, err := m.Scan(ctx)
	if err != nil {
		return nil, err
	}
	return inv.VCH(name)
}

// listVCHs describes every VCH as ls reads them.
func listVCHs(ctx context.Context, m *Manager) ([]*vchdoc.VCH, error) {
	inv, err := m.Scan(ctx)
	if err != nil {
		return nil, err
	}
	return inv.VCHs(), nil
}

// containerVMs describes the container VMs of VCH name as `docker vic containers` reads them.
func containerVMs(ctx context.Context, m *Manager, name string) ([]vsphere.ContainerVM, error) {
	inv, err := m.Scan(ctx)
	if err != nil {
		return nil, err
	}
	return inv.ContainerVMsOf(name)
}
