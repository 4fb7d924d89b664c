package vch

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/vmware/govmomi/fault"
	"github.com/vmware/govmomi/find"
	"github.com/vmware/govmomi/object"
	"github.com/vmware/govmomi/property"
	"github.com/vmware/govmomi/vim25"
	"github.com/vmware/govmomi/vim25/types"
)

// undoTimeout bounds the clean-up after a failure, which runs even when ctx has expired.
const undoTimeout = 2 * time.Minute

func newFinder(c *vim25.Client) *find.Finder { return find.NewFinder(c, false) }

// isNotFound reports whether err says an inventory object does not exist.
func isNotFound(err error) bool {
	if err == nil {
		return false
	}
	var nf *find.NotFoundError
	var dnf *find.DefaultNotFoundError
	return errors.As(err, &nf) || errors.As(err, &dnf) || fault.Is(err, &types.ManagedObjectNotFound{}) || fault.Is(err, &types.NotFound{})
}

// wait runs a task-returning call and waits for the task.
func wait(ctx context.Context, task *object.Task, err error) error {
	if err != nil {
		return err
	}
	return task.Wait(ctx)
}

// powerOff powers a VM off; a VM already off, or gone, is fine.
func powerOff(ctx context.Context, vm *object.VirtualMachine) error {
	task, err := vm.PowerOff(ctx)
	err = wait(ctx, task, err)
	if err == nil || isNotFound(err) || fault.Is(err, &types.InvalidPowerState{}) {
		return nil
	}
	return fmt.Errorf("powering off VM %q: %w", vm.Name(), err)
}

// destroy destroys an inventory object; one already gone is fine.
func destroy(ctx context.Context, c *vim25.Client, ref types.ManagedObjectReference) error {
	task, err := object.NewCommon(c, ref).Destroy(ctx)
	err = wait(ctx, task, err)
	if err == nil || isNotFound(err) {
		return nil
	}
	return err
}

// removeVM powers a VM off and destroys it; a VM already gone is fine. A VM found powered on
// at destruction (its state changed since it was read) is powered off and destroyed again.
func removeVM(ctx context.Context, c *vim25.Client, ref types.ManagedObjectReference, name string, poweredOn bool) error {
	vm := object.NewVirtualMachine(c, ref)
	vm.InventoryPath = name
	if poweredOn {
		if err := powerOff(ctx, vm); err != nil {
			return err
		}
	}
	err := destroy(ctx, c, ref)
	if err != nil && !poweredOn && fault.Is(err, &types.InvalidPowerState{}) {
		if err := powerOff(ctx, vm); err != nil {
			return err
		}
		err = destroy(ctx, c, ref)
	}
	if err != nil {
		return fmt.Errorf("destroying VM %q: %w", name, err)
	}
	return nil
}

func collector(m *Manager) *property.Collector { return property.DefaultCollector(m.Client) }

func newCommon(m *Manager, ref types.ManagedObjectReference) object.Common {
	return object.NewCommon(m.Client, ref)
}

// names returns the set of names of refs, read in one retrieval.
func (m *Manager) names(ctx context.Context, refs []types.ManagedObjectReference) (map[string]bool, error) {
	byRef, err := m.entityNames(ctx, refs)
	if err != nil {
		return nil, err
	}
	out := map[string]bool{}
	for _, n := range byRef {
		out[n] = true
	}
	return out, nil
}

// entityNames reads the names of refs in one retrieval.
func (m *Manager) entityNames(ctx context.Context, refs []types.ManagedObjectReference) (map[types.ManagedObjectReference]string, error) {
	out := map[types.ManagedObjectReference]string{}
	if len(refs) == 0 {
		return out, nil
	}
	var spec types.PropertyFilterSpec
	kinds := map[string]bool{}
	for _, r := range refs {
		spec.ObjectSet = append(spec.ObjectSet, types.ObjectSpec{Obj: r})
		if !kinds[r.Type] {
			kinds[r.Type] = true
			spec.PropSet = append(spec.PropSet, types.PropertySpec{Type: r.Type, PathSet: []string{"name"}})
		}
	}
	res, err := collector(m).RetrieveProperties(ctx, types.RetrieveProperties{SpecSet: []types.PropertyFilterSpec{spec}})
	if err != nil {
		if isNotFound(err) {
			return out, nil
		}
		return nil, fmt.Errorf("reading inventory names: %w", err)
	}
	for _, oc := range res.Returnval {
		for _, p := range oc.PropSet {
			if s, ok := p.Val.(string); ok {
				out[oc.Obj] = s
			}
		}
	}
	return out, nil
}

// poolKind names a pool reference for messages.
func poolKind(ref types.ManagedObjectReference) string {
	if strings.EqualFold(ref.Type, "VirtualApp") {
		return "vApp"
	}
	return "resource pool"
}
