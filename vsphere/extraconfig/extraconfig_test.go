package extraconfig_test

import (
	"bufio"
	"context"
	"io"
	"net"
	"strings"
	"testing"

	"github.com/vmware/govmomi/find"
	"github.com/vmware/govmomi/object"
	"github.com/vmware/govmomi/vim25"
	"github.com/vmware/govmomi/vim25/mo"
	"gotest.tools/v3/assert"

	"github.com/docker-vic/docker-vic/api/guestinfo"
	"github.com/docker-vic/docker-vic/vsphere/extraconfig"
	"github.com/docker-vic/docker-vic/vsphere/sim"
)

// TestStoreServesTheGuestFromTheVM runs the guestinfo wire over a vcsim VM's extraConfig: the
// guest reads what the CLI wrote, its status lands in the VM, and a CLI key stays the CLI's.
func TestStoreServesTheGuestFromTheVM(t *testing.T) {
	m := sim.Model()
	defer m.Remove()
	assert.NilError(t, m.Run(func(ctx context.Context, c *vim25.Client) error {
		vms, err := find.NewFinder(c).VirtualMachineList(ctx, "*")
		assert.NilError(t, err)
		vm := vms[0]
		store := extraconfig.Store{Client: c, VM: vm.Reference()}

		v, err := store.Get(ctx, guestinfo.KeyConfig)
		assert.NilError(t, err)
		assert.Equal(t, v, "", "an unset key reads empty")
		assert.NilError(t, store.Set(ctx, guestinfo.KeyConfig, `{"name":"vch1"}`))

		host, guestEnd := net.Pipe()
		go guestinfo.ServeWire(ctx, host, store) //nolint:errcheck // ends with the pipe
		guest := guestinfo.NewWireChannel(guestEnd)
		defer guest.Close()

		got, err := guest.Get(ctx, guestinfo.KeyConfig)
		assert.NilError(t, err)
		assert.Equal(t, got, `{"name":"vch1"}`)
		st := guestinfo.Status{Phase: guestinfo.PhaseNetwork, Boot: 1, Message: "two\nlines"}
		assert.NilError(t, guest.Set(ctx, guestinfo.KeyStatus, st.Encode()))

		assert.Equal(t, extraConfig(ctx, t, vm)[guestinfo.KeyStatus], st.Encode())
		// Straight on the wire, past WireChannel's own check.
		_, err = io.WriteString(guestEnd, "set "+guestinfo.KeyCert+" QUJD\n")
		assert.NilError(t, err)
		answer, err := bufio.NewReader(guestEnd).ReadString('\n')
		assert.NilError(t, err)
		assert.Assert(t, strings.HasPrefix(answer, "err readonly"), answer)
		_, has := extraConfig(ctx, t, vm)[guestinfo.KeyCert]
		assert.Assert(t, !has, "the guest's wire set a CLI key")
		return nil
	}))
}

// extraConfig is what vSphere shows of the VM's extraConfig.
func extraConfig(ctx context.Context, t *testing.T, vm *object.VirtualMachine) map[string]string {
	t.Helper()
	var o mo.VirtualMachine
	assert.NilError(t, vm.Properties(ctx, vm.Reference(), []string{"config.extraConfig"}, &o))
	return object.OptionValueList(o.Config.ExtraConfig).StringMap()
}
