package vsphere_test

import (
	"context"
	"errors"
	"net/netip"
	"reflect"
	"testing"

	"github.com/vmware/govmomi/find"
	"github.com/vmware/govmomi/object"
	"github.com/vmware/govmomi/vim25"
	"github.com/vmware/govmomi/vim25/types"
	"gotest.tools/v3/assert"

	"github.com/docker-vic/docker-vic/config"
	"github.com/docker-vic/docker-vic/vsphere"
	"github.com/docker-vic/docker-vic/vsphere/sim"
)

// TestVCHOfSeveralEndpoints: a VCH of two endpoint VMs lists once, with both endpoint VMs in
// order, each on its host with its own NICs (one per port group, own MACs) and its own static
// public address; endpoint VM 2 is neither a VCH nor a container VM.
func TestVCHOfSeveralEndpoints(t *testing.T) {
	m := sim.Model()
	defer m.Remove()
	assert.NilError(t, m.Run(func(ctx context.Context, c *vim25.Client) error {
		assert.NilError(t, sim.AddPortGroups(ctx, c, sim.MACLearning(), "vch1"))
		cfg := config.New("vch1")
		cfg.Endpoints = 2
		cfg.Public.SetAddresses([]netip.Prefix{netip.MustParsePrefix("198.51.100.20/24"), netip.MustParsePrefix("198.51.100.21/24")})
		cfg.Public.Gateway = config.Gateway{IP: netip.MustParseAddr("198.51.100.1")}
		cfg.ApplyDefaults()
		assert.NilError(t, cfg.Validate())
		_, err := sim.AddVCH(ctx, c, cfg)
		assert.NilError(t, err)

		all, err := vsphere.ScanInventory(ctx, c, "")
		assert.NilError(t, err)
		vchs := all.VCHs()
		assert.Equal(t, len(vchs), 1, "VCHs listed: %d", len(vchs))
		assert.Equal(t, len(all.ContainerVMs("vch1")), 0)
		v := vchs[0]
		assert.Equal(t, len(v.Endpoints), 2)
		e1, e2 := v.Endpoints[0], v.Endpoints[1]
		assert.Equal(t, e1.Number, 1)
		assert.Equal(t, e1.Name, "vch1")
		assert.Equal(t, e2.Number, 2)
		assert.Equal(t, e2.Name, "vch1-2")
		assert.Assert(t, e1.Host != "" && e2.Host != "" && e1.Host != e2.Host, "hosts %q and %q", e1.Host, e2.Host)
		assert.Equal(t, e1.ID, v.ID)
		assert.Assert(t, reflect.DeepEqual(e1.NICs, v.NICs), "endpoint 1's NICs stay the VCH's")
		assert.Equal(t, len(e2.NICs), len(cfg.PortGroups()))
		for i := range e2.NICs {
			assert.Equal(t, e2.NICs[i].PortGroup, e1.NICs[i].PortGroup)
			assert.Assert(t, e2.NICs[i].MAC != e1.NICs[i].MAC, "endpoint 2 shares MAC %s", e1.NICs[i].MAC)
		}
		assert.Equal(t, e1.PublicAddress.String(), "198.51.100.20")
		assert.Equal(t, e2.PublicAddress.String(), "198.51.100.21")
		assert.Equal(t, e2.NICs[0].Address.String(), "198.51.100.21")
		assert.Equal(t, v.PublicAddress.String(), "198.51.100.20")

		// A container VM records the endpoint VM that runs it.
		pool, err := object.NewVirtualMachine(c, all.EndpointVMsOf("vch1")[0].Ref()).ResourcePool(ctx)
		assert.NilError(t, err)
		folder, err := find.NewFinder(c).Folder(ctx, "/DC0/vm/vch1")
		assert.NilError(t, err)
		task, err := folder.CreateVM(ctx, types.VirtualMachineConfigSpec{
			Name: "web-1", GuestId: "otherLinux64Guest", Files: &types.VirtualMachineFileInfo{VmPathName: "[LocalDS_0]"},
			ExtraConfig: vsphere.OptionValues(map[string]string{config.KeyContainerVCH: "vch1", config.KeyContainerID: "c1", config.KeyContainerEndpoint: "vch1-2"}),
		}, pool, nil)
		assert.NilError(t, vsphere.Wait(ctx, task, err))
		rescan, err := vsphere.ScanInventory(ctx, c, "")
		assert.NilError(t, err)
		cvms, err := rescan.ContainerVMsOf("vch1")
		assert.NilError(t, err)
		assert.Equal(t, len(cvms), 1)
		assert.Equal(t, cvms[0].Endpoint, "vch1-2")

		// The endpoint's own reading finds every endpoint VM from the scope of a scan...
		scope, err := all.ScopeOf("vch1")
		assert.NilError(t, err)
		assert.Equal(t, len(scope.Others), 1)
		inv, err := vsphere.ScanEndpoint(ctx, c, scope)
		assert.NilError(t, err)
		got, err := inv.VCH("vch1")
		assert.NilError(t, err)
		assert.Assert(t, reflect.DeepEqual(got.Endpoints, v.Endpoints), "ScanEndpoint: %+v\nwant %+v", got.Endpoints, v.Endpoints)
		// ...and tells a scope that lacks some (a stored document's hint, or a scale-up) to scan again.
		hinted, err := vsphere.EndpointScope(ctx, c, "", v.ID)
		assert.NilError(t, err)
		_, err = vsphere.ScanEndpoint(ctx, c, hinted)
		assert.Assert(t, errors.Is(err, vsphere.ErrScopeGone), "a scope without endpoint 2: %v", err)

		// A scale-down that removed endpoint 2: the scope naming it is gone.
		ep2 := object.NewVirtualMachine(c, all.EndpointVMsOf("vch1")[1].Ref())
		assert.NilError(t, vsphere.RemoveVM(ctx, c, ep2.Reference(), "vch1-2", true))
		_, err = vsphere.ScanEndpoint(ctx, c, scope)
		assert.Assert(t, errors.Is(err, vsphere.ErrScopeGone), "a scope naming a removed endpoint: %v", err)
		return nil
	}))
}
