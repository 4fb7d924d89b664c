package vch

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/vmware/govmomi/find"
	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25"
	"github.com/vmware/govmomi/vim25/types"

	"github.com/docker-vic/docker-vic/config"
	"github.com/docker-vic/docker-vic/vsphere"
	"github.com/docker-vic/docker-vic/vsphere/sim"
)

func TestCreateLifecycle(t *testing.T) {
	vcenter(t, func(ctx context.Context, c *vim25.Client) {
		addPortgroup(t, ctx, c, "vch1", nil)
		addPortgroup(t, ctx, c, "cn1", sim.MACLearning())
		m, progress := newManager(c)
		cfg := newConfig("vch1", "cn1")
		cfg.Management.PortGroup = "DC0_DVPG0"

		h := mustCreate(t, ctx, m, cfg)

		// What the admin sees in the inventory.
		f := find.NewFinder(c)
		if _, err := f.ResourcePool(ctx, "/DC0/host/DC0_C0/Resources/vch1"); err != nil {
			t.Errorf("resource pool: %v", err)
		}
		if _, err := f.Folder(ctx, "/DC0/vm/vch1"); err != nil {
			t.Errorf("VM folder: %v", err)
		}
		if _, err := f.VirtualMachine(ctx, "/DC0/vm/vch1/vch1"); err != nil {
			t.Errorf("endpoint VM in its folder: %v", err)
		}
		vm, ok := vmByName(t, ctx, c, "vch1")
		if !ok {
			t.Fatal("endpoint VM not found")
		}
		if vm.Runtime.PowerState != types.VirtualMachinePowerStatePoweredOn {
			t.Errorf("endpoint power state %s, want poweredOn", vm.Runtime.PowerState)
		}
		if vm.Config.Hardware.NumCPU != DefaultCPUs || vm.Config.Hardware.MemoryMB != DefaultMemoryMB {
			t.Errorf("endpoint has %d CPUs and %d MB, want %d and %d", vm.Config.Hardware.NumCPU, vm.Config.Hardware.MemoryMB, DefaultCPUs, DefaultMemoryMB)
		}
		wantNets := []string{"VM Network", "DC0_DVPG0", "vch1", "cn1"}
		if got := nicNetworks(t, ctx, c, vm); !reflect.DeepEqual(got, wantNets) {
			t.Errorf("endpoint NICs on %q, want %q", got, wantNets)
		}
		stored, err := config.DecodeVCH("vch1", extraConfig(vm))
		if err != nil {
			t.Fatalf("stored configuration: %v", err)
		}
		wantPlacement := config.Placement{Datacenter: "DC0", ComputeResource: "/DC0/host/DC0_C0", ImageStore: "LocalDS_0"}
		if stored.Placement != wantPlacement {
			t.Errorf("stored placement %+v, want %+v", stored.Placement, wantPlacement)
		}
		if stored.Revision != 1 || stored.ContainerNetworks[0].Alias != "cn1" {
			t.Errorf("stored configuration %+v", stored)
		}

		// What Create returned, Get and List say.
		got, err := getVCH(ctx, m, "vch1")
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, h) {
			t.Errorf("Get = %+v, Create returned %+v", got, h)
		}
		if h.Path != "/DC0/host/DC0_C0/Resources/vch1" || h.PowerState != "poweredOn" || h.ID != vm.Self.Value {
			t.Errorf("VCH %+v", h)
		}
		if len(h.NICs) != 4 {
			t.Fatalf("VCH NICs %+v, want 4", h.NICs)
		}
		wantRoles := [][]config.Role{
			{config.RolePublic, config.RoleClient},
			{config.RoleManagement},
			{config.RoleBridge},
			{config.RoleContainer},
		}
		for i, n := range h.NICs {
			if n.PortGroup != wantNets[i] || !reflect.DeepEqual(n.Roles, wantRoles[i]) || !strings.HasPrefix(n.MAC, "00:0c:29:") {
				t.Errorf("NIC %d = %+v, want port group %q roles %v and a MAC", i, n, wantNets[i], wantRoles[i])
			}
		}
		if !reflect.DeepEqual(h.NICs[3].Aliases, []string{"cn1"}) {
			t.Errorf("container NIC aliases %v", h.NICs[3].Aliases)
		}
		all, err := listVCHs(ctx, m)
		if err != nil {
			t.Fatal(err)
		}
		if len(all) != 1 || all[0].Name != "vch1" {
			t.Errorf("List = %+v, want vch1 only", all)
		}

		for _, step := range []string{`creating VM folder "vch1"`, `creating resource pool "vch1" under "/DC0/host/DC0_C0/Resources"`, `creating endpoint VM "vch1" with 4 NICs on datastore "LocalDS_0"`, `powering on endpoint VM "vch1"`} {
			if !strings.Contains(progress.text(), step) {
				t.Errorf("progress %q lacks %q", progress.text(), step)
			}
		}

		before := readInventory(t, ctx, c)
		if err := m.Remove(ctx, "vch1", false); err != nil {
			t.Fatal(err)
		}
		after := readInventory(t, ctx, c)
		for _, gone := range []string{"/DC0/vm/vch1/vch1", "/DC0/host/DC0_C0/Resources/vch1", "/DC0/vm/vch1"} {
			if !strings.Contains(before.String(), gone) || strings.Contains(after.String(), gone) {
				t.Errorf("%s: before remove %s, after %s", gone, before, after)
			}
		}
		if _, err := getVCH(ctx, m, "vch1"); !errors.Is(err, vsphere.ErrNotFound) {
			t.Errorf("Get after Remove = %v, want vsphere.ErrNotFound", err)
		}
	})
}

func TestCreateVApp(t *testing.T) {
	vcenter(t, func(ctx context.Context, c *vim25.Client) {
		addPortgroup(t, ctx, c, "vch1", nil)
		m, _ := newManager(c)
		cfg := newConfig("vch1")
		cfg.Placement.UseVApp = true
		cfg.Placement.CPUs = 4
		cfg.Placement.MemoryMB = 4096
		cfg.Placement.ApplianceISO = "[LocalDS_0] vic/appliance.iso"

		h := mustCreate(t, ctx, m, cfg)

		f := find.NewFinder(c)
		if _, err := f.VirtualApp(ctx, "/DC0/host/DC0_C0/Resources/vch1"); err != nil {
			t.Errorf("vApp: %v", err)
		}
		vm, ok := vmByName(t, ctx, c, "vch1")
		if !ok {
			t.Fatal("endpoint VM not found")
		}
		if vm.ResourcePool == nil || vm.ResourcePool.Type != "VirtualApp" {
			t.Errorf("endpoint VM pool %v, want the vApp", vm.ResourcePool)
		}
		if vm.Config.Hardware.NumCPU != 4 || vm.Config.Hardware.MemoryMB != 4096 {
			t.Errorf("endpoint has %d CPUs and %d MB", vm.Config.Hardware.NumCPU, vm.Config.Hardware.MemoryMB)
		}
		cdroms := 0
		for _, d := range vm.Config.Hardware.Device {
			if cd, ok := d.(*types.VirtualCdrom); ok {
				if b, ok := cd.Backing.(*types.VirtualCdromIsoBackingInfo); ok && b.FileName == "[LocalDS_0] vic/appliance.iso" {
					cdroms++
				}
			}
		}
		if cdroms != 1 {
			t.Errorf("endpoint has %d CD-ROMs with the appliance ISO, want 1", cdroms)
		}
		if h.Path != "/DC0/host/DC0_C0/Resources/vch1" {
			t.Errorf("VCH path %q", h.Path)
		}

		if err := m.Remove(ctx, "vch1", false); err != nil {
			t.Fatal(err)
		}
		if inv := readInventory(t, ctx, c); strings.Contains(inv.String(), "vch1") {
			t.Errorf("after remove: %s", inv)
		}
	})
}

func TestCreateInResourcePool(t *testing.T) {
	vcenter(t, func(ctx context.Context, c *vim25.Client) {
		addPortgroup(t, ctx, c, "vch1", nil)
		f := find.NewFinder(c)
		root, err := f.ResourcePool(ctx, "/DC0/host/DC0_C0/Resources")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := root.Create(ctx, "team", types.DefaultResourceConfigSpec()); err != nil {
			t.Fatal(err)
		}
		m, _ := newManager(c)
		cfg := newConfig("vch1")
		cfg.Placement.ComputeResource = "team"

		h := mustCreate(t, ctx, m, cfg)

		if h.Config.Placement.ComputeResource != "/DC0/host/DC0_C0/Resources/team" {
			t.Errorf("stored compute resource %q", h.Config.Placement.ComputeResource)
		}
		if h.Path != "/DC0/host/DC0_C0/Resources/team/vch1" {
			t.Errorf("VCH path %q", h.Path)
		}
		if _, err := f.ResourcePool(ctx, h.Path); err != nil {
			t.Errorf("VCH pool at its path: %v", err)
		}
	})
}

func TestCreateOnESX(t *testing.T) {
	m := simulator.ESX()
	runModel(t, m, func(ctx context.Context, c *vim25.Client) {
		addHostPortgroup(t, ctx, c, "vch1", nil)
		addHostPortgroup(t, ctx, c, "open", &types.HostNetworkSecurityPolicy{AllowPromiscuous: types.NewBool(true), ForgedTransmits: types.NewBool(true)})
		addHostPortgroup(t, ctx, c, "closed", &types.HostNetworkSecurityPolicy{AllowPromiscuous: types.NewBool(true), ForgedTransmits: types.NewBool(false)})
		mgr, _ := newManager(c)

		_, err := mgr.Create(ctx, newConfig("vch1", "closed"))
		ce := asConfigError(t, err)
		if ce.Flag != "--container-network" || ce.Value != "closed" || !strings.Contains(ce.Rule, "forged transmits is rejected") {
			t.Errorf("error %v", err)
		}

		addHostPortgroup(t, ctx, c, "ha-host_VM0", nil)
		_, err = mgr.Create(ctx, newConfig("ha-host_VM0"))
		if ce := asConfigError(t, err); ce.Flag != "--name" || !strings.Contains(ce.Rule, `the VM folder of datacenter "ha-datacenter" already holds a VM of that name`) {
			t.Errorf("error %v", err)
		}

		h := mustCreate(t, ctx, mgr, newConfig("vch1", "open"))
		vm, ok := vmByName(t, ctx, c, "vch1")
		if !ok {
			t.Fatal("endpoint VM not found")
		}
		if got, want := nicNetworks(t, ctx, c, vm), []string{"VM Network", "vch1", "open"}; !reflect.DeepEqual(got, want) {
			t.Errorf("NICs on %q, want %q", got, want)
		}
		if vm.Parent == nil || vm.Parent.Value != "ha-folder-vm" {
			t.Errorf("endpoint VM in folder %v, want the root VM folder", vm.Parent)
		}
		if err := mgr.Remove(ctx, h.Name, false); err != nil {
			t.Fatal(err)
		}
		if _, ok := vmByName(t, ctx, c, "vch1"); ok {
			t.Error("endpoint VM still there")
		}
	})
}

func TestCreateRollback(t *testing.T) {
	for _, tc := range []struct {
		method, message string
		undone          []string
	}{
		{"CreateFolder", `creating VM folder "vch1"`, nil},
		{"CreateResourcePool", `creating resource pool "vch1"`, []string{`removing VM folder "vch1"`}},
		{"CreateVM_Task", `creating endpoint VM "vch1"`, []string{`removing resource pool "vch1"`, `removing VM folder "vch1"`}},
		{"PowerOnVM_Task", `powering on endpoint VM "vch1"`, []string{`removing endpoint VM "vch1"`, `removing resource pool "vch1"`, `removing VM folder "vch1"`}},
	} {
		t.Run(tc.method, func(t *testing.T) {
			vcenter(t, func(ctx context.Context, c *vim25.Client) {
				addPortgroup(t, ctx, c, "vch1", nil)
				m, progress := newManager(c)
				before := readInventory(t, ctx, c)
				injectFault(ctx, tc.method)

				_, err := m.Create(ctx, newConfig("vch1"))
				if err == nil || !strings.HasPrefix(err.Error(), tc.message+": ") || !strings.Contains(err.Error(), "injected") {
					t.Fatalf("error %v, want %q and the injected fault", err, tc.message)
				}
				if after := readInventory(t, ctx, c); !after.equal(before) {
					t.Errorf("inventory changed:\nbefore %s\nafter  %s", before, after)
				}
				if _, ok := vmByName(t, ctx, c, "vch1"); ok {
					t.Error("endpoint VM left behind")
				}
				text := progress.text()
				last := strings.Index(text, tc.message)
				for _, u := range tc.undone {
					i := strings.Index(text, u)
					if i < last {
						t.Errorf("progress %q lacks %q after the failed step", text, u)
					}
					last = i
				}
			})
		})
	}
}

// TestCreateRollbackKeepsOtherVCHs checks that a failed create removes only what it made.
func TestCreateRollbackKeepsOtherVCHs(t *testing.T) {
	vcenter(t, func(ctx context.Context, c *vim25.Client) {
		addPortgroup(t, ctx, c, "vch1", nil)
		addPortgroup(t, ctx, c, "vch2", nil)
		m, _ := newManager(c)
		mustCreate(t, ctx, m, newConfig("vch1"))
		before := readInventory(t, ctx, c)
		injectFault(ctx, "PowerOnVM_Task")
		if _, err := m.Create(ctx, newConfig("vch2")); err == nil {
			t.Fatal("create succeeded despite the power-on fault")
		}
		if after := readInventory(t, ctx, c); !after.equal(before) {
			t.Errorf("inventory changed:\nbefore %s\nafter  %s", before, after)
		}
		if _, err := getVCH(ctx, m, "vch1"); err != nil {
			t.Errorf("VCH vch1 after the failed create: %v", err)
		}
	})
}
