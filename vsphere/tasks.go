package vsphere

import (
	"context"
	"errors"
	"fmt"
	"sort"

	"github.com/vmware/govmomi/fault"
	"github.com/vmware/govmomi/find"
	"github.com/vmware/govmomi/object"
	"github.com/vmware/govmomi/vim25"
	"github.com/vmware/govmomi/vim25/types"
)

// IsNotFound reports whether err says an inventory object does not exist.
func IsNotFound(err error) bool {
	if err == nil {
		return false
	}
	var nf *find.NotFoundError
	var dnf *find.DefaultNotFoundError
	return errors.As(err, &nf) || errors.As(err, &dnf) || fault.Is(err, &types.ManagedObjectNotFound{}) || fault.Is(err, &types.NotFound{})
}

// Wait runs a task-returning call's result through: it waits for the task unless the call failed.
func Wait(ctx context.Context, task *object.Task, err error) error {
	if err != nil {
		return err
	}
	return task.Wait(ctx)
}

// PowerOff powers a VM off; a VM already off, or gone, is fine.
func PowerOff(ctx context.Context, vm *object.VirtualMachine) error {
	task, err := vm.PowerOff(ctx)
	err = Wait(ctx, task, err)
	if err == nil || IsNotFound(err) || fault.Is(err, &types.InvalidPowerState{}) {
		return nil
	}
	return fmt.Errorf("powering off VM %q: %w", vm.Name(), err)
}

// Destroy destroys an inventory object; one already gone is fine.
func Destroy(ctx context.Context, c *vim25.Client, ref types.ManagedObjectReference) error {
	task, err := object.NewCommon(c, ref).Destroy(ctx)
	err = Wait(ctx, task, err)
	if err == nil || IsNotFound(err) {
		return nil
	}
	return err
}

// RemoveVM powers a VM off and destroys it; a VM already gone is fine. A VM found powered on
// at destruction (its state changed since it was read) is powered off and destroyed again.
func RemoveVM(ctx context.Context, c *vim25.Client, ref types.ManagedObjectReference, name string, poweredOn bool) error {
	vm := object.NewVirtualMachine(c, ref)
	vm.InventoryPath = name
	if poweredOn {
		if err := PowerOff(ctx, vm); err != nil {
			return err
		}
	}
	err := Destroy(ctx, c, ref)
	if err != nil && !poweredOn && fault.Is(err, &types.InvalidPowerState{}) {
		if err := PowerOff(ctx, vm); err != nil {
			return err
		}
		err = Destroy(ctx, c, ref)
	}
	if err != nil {
		return fmt.Errorf("destroying VM %q: %w", name, err)
	}
	return nil
}

// OptionValues turns extraConfig entries into the option values of a VM config spec, sorted
// by key so that a spec reads the same every time. An empty value removes its key from the VM.
func OptionValues(entries map[string]string) []types.BaseOptionValue {
	keys := make([]string, 0, len(entries))
	for k := range entries {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	out := make([]types.BaseOptionValue, len(keys))
	for i, k := range keys {
		out[i] = &types.OptionValue{Key: k, Value: entries[k]}
	}
	return out
}
