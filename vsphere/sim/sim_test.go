package sim_test

import (
	"context"
	"testing"

	"github.com/vmware/govmomi/find"
	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25"
	"github.com/vmware/govmomi/vim25/types"
	"gotest.tools/v3/assert"

	"github.com/docker-vic/docker-vic/config"
	"github.com/docker-vic/docker-vic/vsphere"
	"github.com/docker-vic/docker-vic/vsphere/sim"
)

func run(t *testing.T, f func(ctx context.Context, c *vim25.Client, s *simulator.Service)) {
	t.Helper()
	m := sim.Model()
	defer m.Remove()
	assert.NilError(t, m.Run(func(ctx context.Context, c *vim25.Client) error {
		f(ctx, c, m.Service)
		return nil
	}))
}

// TestAddVCHReadsBack places a VCH and reads it the way the endpoint does: one card per port
// group, the configuration decoded, the VM in its own pool.
func TestAddVCHReadsBack(t *testing.T) {
	run(t, func(ctx context.Context, c *vim25.Client, _ *simulator.Service) {
		assert.NilError(t, sim.AddPortGroups(ctx, c, sim.Permissive(), "vch1", "cn1"))
		cfg := config.New("vch1")
		cfg.ContainerNetworks = []config.ContainerNetwork{{PortGroup: "cn1"}}
		cfg.ApplyDefaults()
		_, err := sim.AddVCH(ctx, c, cfg)
		assert.NilError(t, err)

		v, err := vsphere.ReadVCH(ctx, c, "", "vch1")
		assert.NilError(t, err)
		assert.Equal(t, v.PowerState, "poweredOn")
		assert.Equal(t, v.Path, "/DC0/host/DC0_C0/Resources/vch1")
		var pgs []string
		for _, n := range v.NICs {
			pgs = append(pgs, n.PortGroup)
			assert.Assert(t, n.MAC != "", "NIC on %q has no MAC", n.PortGroup)
		}
		assert.DeepEqual(t, pgs, cfg.PortGroups())
		assert.Equal(t, v.Config.ContainerNetworks[0].Alias, "cn1")
	})
}

// TestConfigureVCHAddsNICs stores a new revision the way configure does: the configuration
// changes, the endpoint VM gains a card on the new port group and keeps its others.
func TestConfigureVCHAddsNICs(t *testing.T) {
	run(t, func(ctx context.Context, c *vim25.Client, _ *simulator.Service) {
		assert.NilError(t, sim.AddPortGroups(ctx, c, sim.Permissive(), "vch1", "cn1"))
		cfg := config.New("vch1")
		cfg.ApplyDefaults()
		_, err := sim.AddVCH(ctx, c, cfg)
		assert.NilError(t, err)
		before, err := vsphere.ReadVCH(ctx, c, "", "vch1")
		assert.NilError(t, err)

		next := cfg.Clone()
		next.Revision = 2
		next.ContainerNetworks = []config.ContainerNetwork{{PortGroup: "cn1"}}
		next.ApplyDefaults()
		assert.NilError(t, sim.ConfigureVCH(ctx, c, next))

		after, err := vsphere.ReadVCH(ctx, c, "", "vch1")
		assert.NilError(t, err)
		assert.Equal(t, after.Config.Revision, 2)
		assert.Equal(t, after.Config.ContainerNetworks[0].Alias, "cn1")
		assert.Equal(t, len(after.NICs), len(before.NICs)+1)
		for i, n := range before.NICs {
			assert.DeepEqual(t, after.NICs[i].MAC, n.MAC)
		}
		added := after.NICs[len(after.NICs)-1]
		assert.Assert(t, added.PortGroup == "cn1" && added.MAC != "", "added NIC %+v", added)
	})
}

// TestPortGroupPolicies checks that each MAC policy reaches the port group as vSphere shows it.
func TestPortGroupPolicies(t *testing.T) {
	run(t, func(ctx context.Context, c *vim25.Client, _ *simulator.Service) {
		assert.NilError(t, sim.AddPortGroups(ctx, c, sim.MACLearning(), "learning"))
		assert.NilError(t, sim.AddPortGroups(ctx, c, sim.LegacySecurity(true, false), "legacy"))
		assert.NilError(t, sim.AddHostPortGroup(ctx, c, "standard", nil))
		inv, err := vsphere.ScanInventory(ctx, c, "")
		assert.NilError(t, err)

		learning := inv.PortGroup("learning").PortSetting().(*types.VMwareDVSPortSetting)
		assert.Assert(t, learning.MacManagementPolicy.MacLearningPolicy.Enabled)
		legacy := inv.PortGroup("legacy").PortSetting().(*types.VMwareDVSPortSetting)
		assert.Assert(t, *legacy.SecurityPolicy.ForgedTransmits.Value && !*legacy.SecurityPolicy.AllowPromiscuous.Value)
		assert.Equal(t, inv.PortGroup("standard").Kind(), vsphere.StandardPortGroup)
	})
}

// TestInjectFault makes one method fail for every caller.
func TestInjectFault(t *testing.T) {
	run(t, func(ctx context.Context, c *vim25.Client, s *simulator.Service) {
		sim.InjectFault(s, "CreateFolder")
		folder, err := find.NewFinder(c).Folder(ctx, "/DC0/vm")
		assert.NilError(t, err)
		_, err = folder.CreateFolder(ctx, "x")
		assert.ErrorContains(t, err, "injected CreateFolder failure")
	})
}
