package harness

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/vmware/govmomi/vim25"
	"github.com/vmware/govmomi/vim25/mo"
	"github.com/vmware/govmomi/vim25/types"
	"gotest.tools/v3/assert"

	"github.com/docker-vic/docker-vic/vsphere/sim"
)

// TestReadMachineMapsTheVMToLocalFilesAndWires reads what the harness boots for a vcsim VM as
// `docker vic create` makes it: the ISO and the console in the datastore's directory, the NIC's
// MAC and port group, the disk's flat file grown to its capacity.
func TestReadMachineMapsTheVMToLocalFilesAndWires(t *testing.T) {
	iso := filepath.Join(t.TempDir(), "test.iso")
	assert.NilError(t, os.WriteFile(iso, []byte("iso"), 0o644))
	m := sim.Model()
	defer m.Remove()
	assert.NilError(t, m.Run(func(ctx context.Context, c *vim25.Client) error {
		vm, dsDir := prepareVM(ctx, t, c, iso)
		var o mo.VirtualMachine
		assert.NilError(t, vm.Properties(ctx, vm.Reference(), []string{"config.hardware.device"}, &o))
		got, err := readMachine(ctx, c, o.Config.Hardware.Device)
		assert.NilError(t, err)

		assert.Equal(t, got.iso, filepath.Join(dsDir, "harness-test", "appliance.iso"))
		assert.Equal(t, got.console, filepath.Join(dsDir, "harness-test", "console.log"))
		assert.Equal(t, len(got.nics), 1)
		assert.Equal(t, got.nics[0].mac.String(), firstMAC(ctx, t, vm))
		assert.Assert(t, got.nics[0].portGroup != "")
		assert.Equal(t, len(got.disks), 1)
		var capacity int64
		for _, d := range o.Config.Hardware.Device {
			if disk, ok := d.(*types.VirtualDisk); ok {
				capacity = disk.CapacityInBytes
			}
		}
		fi, err := os.Stat(got.disks[0].Path)
		assert.NilError(t, err)
		assert.Equal(t, fi.Size(), capacity)
		assert.Equal(t, filepath.Dir(got.disks[0].Path), filepath.Join(dsDir, vm.Name()))
		return nil
	}))
}
