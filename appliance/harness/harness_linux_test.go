package harness

import (
	"context"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
	"github.com/vmware/govmomi/find"
	"github.com/vmware/govmomi/object"
	"github.com/vmware/govmomi/vim25"
	"github.com/vmware/govmomi/vim25/mo"
	"github.com/vmware/govmomi/vim25/types"
	"gotest.tools/v3/assert"
	"gotest.tools/v3/poll"

	"github.com/docker-vic/docker-vic/api/guestinfo"
	"github.com/docker-vic/docker-vic/appliance/qemu/qemutest"
	"github.com/docker-vic/docker-vic/endpoint/testns"
	"github.com/docker-vic/docker-vic/vsphere"
	"github.com/docker-vic/docker-vic/vsphere/extraconfig"
	"github.com/docker-vic/docker-vic/vsphere/sim"
)

// TestHarnessBootsAVMThatPowersOnAndFollowsItsPower powers a vcsim VM with an ISO on its
// CD-ROM on and off: the harness boots it with its NIC on the wire and its console in the
// serial port's file on the datastore, the guest's status lands in the VM's extraConfig, a
// power-off in vSphere stops the guest, and a guest that powers itself off powers the VM off.
func TestHarnessBootsAVMThatPowersOnAndFollowsItsPower(t *testing.T) {
	kernel, modules := qemutest.Require(t)
	iso := qemutest.ISO(t, kernel, qemutest.Initrd(t, modules), "console=ttyS0 quiet panic=-1 vic.addr=198.51.100.50/24")
	wire := testns.New(t, "vicharn")
	wire.Bridge(t, "br0", "198.51.100.1/24")

	m := sim.Model()
	defer m.Remove()
	assert.NilError(t, m.Run(func(ctx context.Context, c *vim25.Client) error {
		ctx, cancel := context.WithCancel(ctx)
		defer cancel()
		vm, dsDir := prepareVM(ctx, t, c, iso)
		store := extraconfig.Store{Client: c, VM: vm.Reference()}
		assert.NilError(t, store.Set(ctx, guestinfo.KeyConfig, `{"name":"vch-harness"}`))

		h := New(Options{
			Client: c, Dir: t.TempDir(), StopTimeout: time.Minute,
			Log:  slog.New(slog.NewTextHandler(t.Output(), nil)),
			Wire: func(string) (string, string, error) { return wire.Path(), "br0", nil },
		})
		done := make(chan error, 1)
		go func() { done <- h.Run(ctx) }()
		defer func() {
			cancel()
			assert.NilError(t, <-done)
		}()

		start := time.Now()
		powerOn(ctx, t, vm)
		console := filepath.Join(dsDir, "harness-test", "console.log")
		poll.WaitOn(t, consoleShows(console, "guest: done"), poll.WithTimeout(3*time.Minute), poll.WithDelay(200*time.Millisecond))
		t.Logf("power-on to the guest's last line: %s", time.Since(start).Round(time.Millisecond))
		assert.DeepEqual(t, h.Booted(), []string{vm.Name()})

		st, err := guestinfo.DecodeStatus(extraConfig(ctx, t, vm)[guestinfo.KeyStatus])
		assert.NilError(t, err)
		assert.Equal(t, st.Message, "test guest")
		log, _ := os.ReadFile(console)
		assert.Assert(t, strings.Contains(string(log), `config "{\"name\":\"vch-harness\"}"`), string(log))

		out, err := exec.Command("ip", "netns", "exec", wire.Name, "busybox", "ping", "-c", "1", "-W", "5", "198.51.100.50").CombinedOutput()
		assert.NilError(t, err, string(out))
		assert.Equal(t, neighbourMAC(t, wire, "198.51.100.50"), firstMAC(ctx, t, vm))

		assert.NilError(t, vsphere.PowerOff(ctx, vm))
		poll.WaitOn(t, consoleShows(console, "power button: powering off"), poll.WithTimeout(time.Minute))
		poll.WaitOn(t, func(poll.LogT) poll.Result {
			if len(h.Booted()) == 0 {
				return poll.Success()
			}
			return poll.Continue("qemu still runs")
		}, poll.WithTimeout(time.Minute))

		assert.NilError(t, store.Set(ctx, guestinfo.KeyConfig, `poweroff`))
		powerOn(ctx, t, vm)
		poll.WaitOn(t, func(poll.LogT) poll.Result {
			if s, _ := vm.PowerState(ctx); s == types.VirtualMachinePowerStatePoweredOff {
				return poll.Success()
			}
			return poll.Continue("the VM is still on in vSphere")
		}, poll.WithTimeout(3*time.Minute), poll.WithDelay(200*time.Millisecond))
		log, _ = os.ReadFile(console)
		assert.Assert(t, strings.Contains(string(log), "the configuration says: powering off"), string(log))
		return nil
	}))
}

// prepareVM powers off the simulator's first VM and gives it a CD-ROM with a copy of iso and a
// file-backed serial port in folder harness-test of its datastore, as `docker vic create`
// does; it returns the VM and the datastore's directory.
func prepareVM(ctx context.Context, t *testing.T, c *vim25.Client, iso string) (*object.VirtualMachine, string) {
	t.Helper()
	vms, err := find.NewFinder(c).VirtualMachineList(ctx, "*")
	assert.NilError(t, err)
	vm := vms[0]
	assert.NilError(t, vsphere.PowerOff(ctx, vm))
	var o mo.VirtualMachine
	assert.NilError(t, vm.Properties(ctx, vm.Reference(), []string{"datastore", "config.hardware.device"}, &o))
	var ds mo.Datastore
	assert.NilError(t, vm.Properties(ctx, o.Datastore[0], []string{"name", "summary.url"}, &ds))
	dir := filepath.Join(ds.Summary.Url, "harness-test")
	assert.NilError(t, os.MkdirAll(dir, 0o755))
	b, err := os.ReadFile(iso)
	assert.NilError(t, err)
	assert.NilError(t, os.WriteFile(filepath.Join(dir, "appliance.iso"), b, 0o644))

	devices := object.VirtualDeviceList(o.Config.Hardware.Device)
	ide, err := devices.FindIDEController("")
	assert.NilError(t, err)
	cd, err := devices.CreateCdrom(ide)
	assert.NilError(t, err)
	cd = devices.InsertIso(cd, "["+ds.Name+"] harness-test/appliance.iso")
	serial, err := devices.CreateSerialPort()
	assert.NilError(t, err)
	serial.Backing = &types.VirtualSerialPortFileBackingInfo{VirtualDeviceFileBackingInfo: types.VirtualDeviceFileBackingInfo{
		FileName: "[" + ds.Name + "] harness-test/console.log"}}
	assert.NilError(t, vm.AddDevice(ctx, cd, serial))
	return vm, ds.Summary.Url
}

func powerOn(ctx context.Context, t *testing.T, vm *object.VirtualMachine) {
	t.Helper()
	task, err := vm.PowerOn(ctx)
	assert.NilError(t, vsphere.Wait(ctx, task, err))
}

func consoleShows(path, want string) poll.Check {
	return func(poll.LogT) poll.Result {
		b, _ := os.ReadFile(path)
		if strings.Contains(string(b), want) {
			return poll.Success()
		}
		return poll.Continue("the console does not show %q yet", want)
	}
}

func extraConfig(ctx context.Context, t *testing.T, vm *object.VirtualMachine) map[string]string {
	t.Helper()
	var o mo.VirtualMachine
	assert.NilError(t, vm.Properties(ctx, vm.Reference(), []string{"config.extraConfig"}, &o))
	return object.OptionValueList(o.Config.ExtraConfig).StringMap()
}

// firstMAC is the MAC vSphere gave the VM's first NIC.
func firstMAC(ctx context.Context, t *testing.T, vm *object.VirtualMachine) string {
	t.Helper()
	devices, err := vm.Device(ctx)
	assert.NilError(t, err)
	nics := devices.SelectByType((*types.VirtualEthernetCard)(nil))
	assert.Assert(t, len(nics) > 0)
	return nics[0].(types.BaseVirtualEthernetCard).GetVirtualEthernetCard().MacAddress
}

func neighbourMAC(t *testing.T, ns *testns.NS, ip string) string {
	t.Helper()
	neighs, err := ns.Link.NeighList(0, netlink.FAMILY_V4)
	assert.NilError(t, err)
	i := slices.IndexFunc(neighs, func(n netlink.Neigh) bool { return n.IP.Equal(net.ParseIP(ip)) })
	assert.Assert(t, i >= 0, "no neighbour entry for %s", ip)
	return neighs[i].HardwareAddr.String()
}
