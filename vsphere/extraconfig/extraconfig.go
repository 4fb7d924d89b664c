// Package extraconfig reads and writes one VM's extraConfig keys through vSphere. Its Store is
// the host side of the guestinfo channel (api/guestinfo) for a VM that the tests' harness boots
// under qemu: what the guest gets is what `docker vic create` wrote to the VM, and what the
// guest sets lands in the VM's extraConfig as VMware's backdoor would put it.
package extraconfig

import (
	"context"
	"fmt"

	"github.com/vmware/govmomi/object"
	"github.com/vmware/govmomi/vim25"
	"github.com/vmware/govmomi/vim25/mo"
	"github.com/vmware/govmomi/vim25/types"

	"github.com/docker-vic/docker-vic/vsphere"
)

// Store is the extraConfig of the VM VM, through client. It implements guestinfo.Store.
type Store struct {
	Client *vim25.Client
	VM     types.ManagedObjectReference
}

// Get returns key's value; an unset key is "" without error.
func (s Store) Get(ctx context.Context, key string) (string, error) {
	var vm mo.VirtualMachine
	if err := object.NewVirtualMachine(s.Client, s.VM).Properties(ctx, s.VM, []string{"config.extraConfig"}, &vm); err != nil {
		return "", fmt.Errorf("reading the extraConfig of VM %s: %w", s.VM.Value, err)
	}
	if vm.Config == nil {
		return "", nil
	}
	v, _ := object.OptionValueList(vm.Config.ExtraConfig).GetString(key)
	return v, nil
}

// Set reconfigures the VM with key set to value.
func (s Store) Set(ctx context.Context, key, value string) error {
	spec := types.VirtualMachineConfigSpec{ExtraConfig: []types.BaseOptionValue{&types.OptionValue{Key: key, Value: value}}}
	task, err := object.NewVirtualMachine(s.Client, s.VM).Reconfigure(ctx, spec)
	if err := vsphere.Wait(ctx, task, err); err != nil {
		return fmt.Errorf("setting %s on VM %s: %w", key, s.VM.Value, err)
	}
	return nil
}
