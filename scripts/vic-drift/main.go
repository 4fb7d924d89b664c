// vic-drift makes the container VMs of a VCH drift from its containers behind vic-endpoint's
// back, as an admin or a restore could, for the end-to-end checks that the endpoint puts them
// right. It reaches vSphere as `docker vic` does (VIC_TARGET, VIC_THUMBPRINT):
//
//	vic-drift extra VM       clone container VM VM as VM-extra, recorded for a container that does not exist
//	vic-drift remove VM      destroy container VM VM
//	vic-drift mac VM MAC     give the first card of container VM VM the MAC address MAC
package main

import (
	"context"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/vmware/govmomi/object"
	"github.com/vmware/govmomi/vim25"
	"github.com/vmware/govmomi/vim25/types"

	"github.com/docker-vic/docker-vic/config"
	"github.com/docker-vic/docker-vic/vsphere"
)

const usage = "usage: vic-drift extra VM | vic-drift remove VM | vic-drift mac VM MAC"

// ghostID is the container ID recorded on the extra VM: no container has it.
const ghostID = "0000000000000000000000000000000000000000000000000000000000d81f7000"

func main() {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := run(ctx, os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "vic-drift:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string) error {
	if len(args) < 2 || (args[0] == "mac") != (len(args) == 3) || len(args) > 3 {
		return fmt.Errorf("%s", usage)
	}
	t, err := vsphere.Options{}.Resolve(os.Getenv)
	if err != nil {
		return err
	}
	s, err := vsphere.Connect(ctx, t)
	if err != nil {
		return err
	}
	defer s.Logout(context.WithoutCancel(ctx))
	vm, err := findVM(ctx, s.Client, args[1])
	if err != nil {
		return err
	}
	switch args[0] {
	case "extra":
		return extra(ctx, s.Client, vm)
	case "remove":
		return vsphere.RemoveVM(ctx, s.Client, vm.Ref(), vm.Name(), vm.PowerState() != types.VirtualMachinePowerStatePoweredOff)
	case "mac":
		return setMAC(ctx, s.Client, vm, args[2])
	}
	return fmt.Errorf("%s", usage)
}

// findVM returns the container VM named name.
func findVM(ctx context.Context, c *vim25.Client, name string) (*vsphere.VMRecord, error) {
	inv, err := vsphere.ScanInventory(ctx, c, "")
	if err != nil {
		return nil, err
	}
	for _, v := range inv.VMs() {
		if v.Name() == name && v.ContainerOf() != "" {
			return v, nil
		}
	}
	return nil, fmt.Errorf("no container VM named %q", name)
}

// extra clones vm, powered off, into its folder and pool as a container VM of the same VCH for
// a container that does not exist.
func extra(ctx context.Context, c *vim25.Client, vm *vsphere.VMRecord) error {
	if vm.Parent() == nil || vm.Pool() == nil {
		return fmt.Errorf("container VM %q has no folder or pool to clone into", vm.Name())
	}
	name := vm.Name() + "-extra"
	pool := *vm.Pool()
	spec := types.VirtualMachineCloneSpec{
		Location: types.VirtualMachineRelocateSpec{Pool: &pool},
		Config: &types.VirtualMachineConfigSpec{ExtraConfig: vsphere.OptionValues(map[string]string{
			config.KeyContainerVCH: vm.ContainerOf(),
			config.KeyContainerID:  ghostID,
		})},
	}
	task, err := object.NewVirtualMachine(c, vm.Ref()).Clone(ctx, object.NewFolder(c, *vm.Parent()), name, spec)
	if err = vsphere.Wait(ctx, task, err); err != nil {
		return fmt.Errorf("cloning VM %q as %q: %w", vm.Name(), name, err)
	}
	return nil
}

// setMAC gives the first network card of vm the manual MAC address mac.
func setMAC(ctx context.Context, c *vim25.Client, vm *vsphere.VMRecord, mac string) error {
	cards := vm.Devices().SelectByType((*types.VirtualEthernetCard)(nil))
	if len(cards) == 0 {
		return fmt.Errorf("container VM %q has no network card", vm.Name())
	}
	card := cards[0].(types.BaseVirtualEthernetCard).GetVirtualEthernetCard()
	card.AddressType = string(types.VirtualEthernetCardMacTypeManual)
	card.MacAddress = strings.ToLower(mac)
	spec := types.VirtualMachineConfigSpec{DeviceChange: []types.BaseVirtualDeviceConfigSpec{
		&types.VirtualDeviceConfigSpec{Operation: types.VirtualDeviceConfigSpecOperationEdit, Device: cards[0]},
	}}
	task, err := object.NewVirtualMachine(c, vm.Ref()).Reconfigure(ctx, spec)
	if err = vsphere.Wait(ctx, task, err); err != nil {
		return fmt.Errorf("setting the MAC of VM %q to %s: %w", vm.Name(), mac, err)
	}
	return nil
}
