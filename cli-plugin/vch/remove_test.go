package vch

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/vmware/govmomi/find"
	"github.com/vmware/govmomi/object"
	"github.com/vmware/govmomi/vim25"

	"github.com/docker-vic/docker-vic/vsphere"
)

func TestRemoveRefusesRunningContainers(t *testing.T) {
	vcenter(t, func(ctx context.Context, c *vim25.Client) {
		addPortgroup(t, ctx, c, "vch1", nil)
		addPortgroup(t, ctx, c, "vch2", nil)
		m, progress := newManager(c)
		mustCreate(t, ctx, m, newConfig("vch1"))
		mustCreate(t, ctx, m, newConfig("vch2"))
		addContainerVM(t, ctx, c, "vch1", "web-0123456789ab", true)
		addContainerVM(t, ctx, c, "vch1", "api-0123456789ab", true)
		addContainerVM(t, ctx, c, "vch1", "old-0123456789ab", false)
		addContainerVM(t, ctx, c, "vch2", "keep-0123456789ab", true)
		before := readInventory(t, ctx, c)

		err := m.Remove(ctx, "vch1", false)
		var running *ContainersRunningError
		if !errors.Is(err, ErrContainersRunning) || !errors.As(err, &running) {
			t.Fatalf("Remove = %v, want ErrContainersRunning", err)
		}
		if want := []string{"api-0123456789ab", "web-0123456789ab"}; !reflect.DeepEqual(running.Names, want) {
			t.Errorf("running containers %q, want %q", running.Names, want)
		}
		if want := `VCH "vch1" has powered-on container VMs "api-0123456789ab", "web-0123456789ab": stop them or remove with --force`; err.Error() != want {
			t.Errorf("error %q\nwant  %q", err, want)
		}
		if after := readInventory(t, ctx, c); !after.equal(before) {
			t.Errorf("refused remove changed the inventory:\nbefore %s\nafter  %s", before, after)
		}

		if err := m.Remove(ctx, "vch1", true); err != nil {
			t.Fatal(err)
		}
		inv := readInventory(t, ctx, c).String()
		for _, gone := range []string{"vch1", "web-", "api-", "old-"} {
			if strings.Contains(inv, gone) {
				t.Errorf("%q left after remove --force: %s", gone, inv)
			}
		}
		for _, kept := range []string{"/DC0/vm/vch2/vch2", "/DC0/vm/vch2/keep-0123456789ab", "/DC0/host/DC0_C0/Resources/vch2"} {
			if !strings.Contains(inv, kept) {
				t.Errorf("%q removed with vch1: %s", kept, inv)
			}
		}
		for _, step := range []string{`removing container VM "web-0123456789ab"`, `removing endpoint VM "vch1"`, `removing VM folder "vch1"`, `removing resource pool "vch1"`} {
			if !strings.Contains(progress.text(), step) {
				t.Errorf("progress lacks %q", step)
			}
		}
	})
}

func TestRemoveWithoutRunningContainers(t *testing.T) {
	vcenter(t, func(ctx context.Context, c *vim25.Client) {
		addPortgroup(t, ctx, c, "vch1", nil)
		m, _ := newManager(c)
		mustCreate(t, ctx, m, newConfig("vch1"))
		addContainerVM(t, ctx, c, "vch1", "old-0123456789ab", false)
		if err := m.Remove(ctx, "vch1", false); err != nil {
			t.Fatal(err)
		}
		if inv := readInventory(t, ctx, c).String(); strings.Contains(inv, "vch1") || strings.Contains(inv, "old-") {
			t.Errorf("left after remove: %s", inv)
		}
	})
}

// TestRemoveKeepsForeignObjects checks that a folder holding something else survives, and that
// parts already gone do not stop the removal.
func TestRemoveKeepsForeignObjects(t *testing.T) {
	vcenter(t, func(ctx context.Context, c *vim25.Client) {
		addPortgroup(t, ctx, c, "vch1", nil)
		m, progress := newManager(c)
		mustCreate(t, ctx, m, newConfig("vch1"))
		f := find.NewFinder(c)
		folder, err := f.Folder(ctx, "/DC0/vm/vch1")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := folder.CreateFolder(ctx, "notes"); err != nil {
			t.Fatal(err)
		}
		// The pool is already gone: destroying it moves the endpoint to the parent pool.
		pool, err := f.ResourcePool(ctx, "/DC0/host/DC0_C0/Resources/vch1")
		if err != nil {
			t.Fatal(err)
		}
		task, err := pool.Destroy(ctx)
		if err == nil {
			err = task.Wait(ctx)
		}
		if err != nil {
			t.Fatal(err)
		}

		if err := m.Remove(ctx, "vch1", false); err != nil {
			t.Fatal(err)
		}
		if _, err := f.Folder(ctx, "/DC0/vm/vch1/notes"); err != nil {
			t.Errorf("foreign folder removed: %v", err)
		}
		if _, ok := vmByName(t, ctx, c, "vch1"); ok {
			t.Error("endpoint VM left")
		}
		if !strings.Contains(progress.text(), `keeping VM folder "vch1": it holds 1 other objects`) {
			t.Errorf("progress %q", progress.text())
		}
	})
}

func TestRemoveTwice(t *testing.T) {
	vcenter(t, func(ctx context.Context, c *vim25.Client) {
		addPortgroup(t, ctx, c, "vch1", nil)
		m, _ := newManager(c)
		h := mustCreate(t, ctx, m, newConfig("vch1"))
		if err := m.Remove(ctx, "vch1", false); err != nil {
			t.Fatal(err)
		}
		if err := m.Remove(ctx, "vch1", false); !errors.Is(err, vsphere.ErrNotFound) {
			t.Errorf("second Remove = %v, want ErrNotFound", err)
		}
		// The steps themselves accept objects already gone.
		vm := object.NewVirtualMachine(c, vmRef(h.ID))
		if err := vsphere.RemoveVM(ctx, c, vm.Reference(), "vch1", true); err != nil {
			t.Errorf("removing a VM already gone: %v", err)
		}
	})
}
