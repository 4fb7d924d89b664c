package vsphere_test

import (
	"context"
	"errors"
	"reflect"
	"testing"

	"github.com/vmware/govmomi/find"
	"github.com/vmware/govmomi/object"
	"github.com/vmware/govmomi/vim25"
	"github.com/vmware/govmomi/vim25/types"
	"gotest.tools/v3/assert"
	is "gotest.tools/v3/assert/cmp"

	"github.com/docker-vic/docker-vic/config"
	"github.com/docker-vic/docker-vic/vsphere"
	"github.com/docker-vic/docker-vic/vsphere/sim"
)

// placeVCH adds VCH name with its bridge port group, and count container VMs beside its
// endpoint VM.
func placeVCH(t *testing.T, ctx context.Context, c *vim25.Client, name string, vapp bool, count int) {
	t.Helper()
	assert.NilError(t, sim.AddPortGroups(ctx, c, sim.MACLearning(), name))
	cfg := config.New(name)
	cfg.Placement.UseVApp = vapp
	cfg.ApplyDefaults()
	ep, err := sim.AddVCH(ctx, c, cfg)
	assert.NilError(t, err)
	pool, err := ep.ResourcePool(ctx)
	assert.NilError(t, err)
	for i := range count {
		spec := types.VirtualMachineConfigSpec{
			Name: name + "-c" + string(rune('a'+i)), GuestId: "otherLinux64Guest",
			Files:       &types.VirtualMachineFileInfo{VmPathName: "[LocalDS_0]"},
			ExtraConfig: vsphere.OptionValues(map[string]string{config.KeyContainerVCH: name, config.KeyContainerID: string(rune('a' + i))}),
		}
		var task *object.Task
		if vapp {
			task, err = object.NewVirtualApp(c, pool.Reference()).CreateChildVM(ctx, spec, nil)
		} else {
			folder, ferr := find.NewFinder(c).Folder(ctx, "/DC0/vm/"+name)
			assert.NilError(t, ferr)
			task, err = folder.CreateVM(ctx, spec, pool, nil)
		}
		assert.NilError(t, vsphere.Wait(ctx, task, err))
	}
}

// withTwoVCHs places VCH vch1 (in a vApp with vapp) with n1 container VMs and vch2 with n2 in
// a fresh simulated vCenter, and runs f with a scan of the datacenter and vch1's scope.
func withTwoVCHs(t *testing.T, vapp bool, n1, n2 int, f func(ctx context.Context, c *vim25.Client, all *vsphere.Inventory, scope *vsphere.Scope)) {
	t.Helper()
	m := sim.Model()
	defer m.Remove()
	assert.NilError(t, m.Run(func(ctx context.Context, c *vim25.Client) error {
		placeVCH(t, ctx, c, "vch1", vapp, n1)
		placeVCH(t, ctx, c, "vch2", false, n2)
		all, err := vsphere.ScanInventory(ctx, c, "")
		assert.NilError(t, err)
		scope, err := all.ScopeOf("vch1")
		assert.NilError(t, err)
		f(ctx, c, all, scope)
		return nil
	}))
}

// TestScanVCHReadsOnlyItsVCH: a scan rooted at a VCH sees its endpoint VM, its container VMs and
// the datacenter's port groups, and describes the VCH as a scan of the whole datacenter does,
// while the VMs of another VCH and the datacenter's other VMs stay unread.
func TestScanVCHReadsOnlyItsVCH(t *testing.T) {
	for _, vapp := range []bool{false, true} {
		name := map[bool]string{false: "Pool", true: "VApp"}[vapp]
		t.Run(name, func(t *testing.T) {
			withTwoVCHs(t, vapp, 3, 5, func(ctx context.Context, c *vim25.Client, all *vsphere.Inventory, scope *vsphere.Scope) {
				inv, err := vsphere.ScanVCH(ctx, c, scope)
				assert.NilError(t, err)
				var names []string
				for _, v := range inv.VMs() {
					names = append(names, v.Name())
				}
				assert.DeepEqual(t, names, []string{"vch1", "vch1-ca", "vch1-cb", "vch1-cc"})
				want, err := all.VCH("vch1")
				assert.NilError(t, err)
				got, err := inv.VCH("vch1")
				assert.NilError(t, err)
				assert.Assert(t, reflect.DeepEqual(got, want), "scoped %+v\nwhole %+v", got, want)
				assert.Equal(t, inv.DatacenterName(), "DC0")
				assert.DeepEqual(t, inv.PortGroupNames(), all.PortGroupNames())
				_, err = inv.VCH("vch2")
				assert.Assert(t, errors.Is(err, vsphere.ErrNotFound))
			})
		})
	}
}

// TestScanVCHNoticesAMovedOrGoneEndpoint: once the endpoint VM is destroyed, or moved to
// another pool, a scan of its old scope says so, and the caller scans the datacenter again.
func TestScanVCHNoticesAMovedOrGoneEndpoint(t *testing.T) {
	withTwoVCHs(t, false, 1, 0, func(ctx context.Context, c *vim25.Client, _ *vsphere.Inventory, scope *vsphere.Scope) {
		other, err := find.NewFinder(c).Folder(ctx, "/DC0/vm/vch2")
		assert.NilError(t, err)
		ep := object.NewVirtualMachine(c, scope.Endpoint)
		task, err := other.MoveInto(ctx, []types.ManagedObjectReference{scope.Endpoint})
		assert.NilError(t, vsphere.Wait(ctx, task, err))
		_, err = vsphere.ScanVCH(ctx, c, scope)
		assert.Assert(t, errors.Is(err, vsphere.ErrScopeGone), "after a move: %v", err)

		task, err = ep.PowerOff(ctx)
		assert.NilError(t, vsphere.Wait(ctx, task, err))
		task, err = ep.Destroy(ctx)
		assert.NilError(t, vsphere.Wait(ctx, task, err))
		_, err = vsphere.ScanVCH(ctx, c, scope)
		assert.Assert(t, errors.Is(err, vsphere.ErrScopeGone), "after a destroy: %v", err)
		assert.Check(t, is.ErrorContains(err, scope.Endpoint.Value))
	})
}

// TestScanEndpointReadsOnlyTheEndpointVM: a reading of the endpoint VM alone describes its VCH as
// a scan of the datacenter does (NICs on their port groups), with no container VM read; a scope
// naming a VM that is gone says ErrScopeGone.
func TestScanEndpointReadsOnlyTheEndpointVM(t *testing.T) {
	withTwoVCHs(t, false, 3, 5, func(ctx context.Context, c *vim25.Client, all *vsphere.Inventory, scope *vsphere.Scope) {
		want, err := all.VCH("vch1")
		assert.NilError(t, err)
		hinted, err := vsphere.EndpointScope(ctx, c, "", want.ID)
		assert.NilError(t, err)
		inv, err := vsphere.ScanEndpoint(ctx, c, hinted)
		assert.NilError(t, err)
		assert.Equal(t, len(inv.VMs()), 1, "VMs read besides the endpoint VM")
		got, err := inv.VCH("vch1")
		assert.NilError(t, err)
		assert.Assert(t, reflect.DeepEqual(got.NICs, want.NICs), "NICs = %+v, want %+v", got.NICs, want.NICs)
		assert.Equal(t, got.Config.Revision, want.Config.Revision)
		assert.Equal(t, got.Containers, 0)

		gone, err := vsphere.EndpointScope(ctx, c, "", "vm-999999")
		assert.NilError(t, err)
		_, err = vsphere.ScanEndpoint(ctx, c, gone)
		assert.Assert(t, errors.Is(err, vsphere.ErrScopeGone), "err = %v", err)
	})
}
