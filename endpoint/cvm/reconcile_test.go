package cvm

import (
	"context"
	"encoding/json"
	"errors"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/vmware/govmomi/object"
	"github.com/vmware/govmomi/vim25/types"

	"github.com/docker-vic/docker-vic/config"
)

func TestReconcileCreatesWhatTheAdminSees(t *testing.T) {
	withVCH(t, func(e *env) {
		web := container("/web", idWeb, true, "vch1", "cn1")
		web.Ports = []string{"80/tcp -> 198.51.100.2:8080"}
		e.reconcile(web)

		vm, ok := e.vms()["web-1a2b3c4d5e6f"]
		if !ok {
			t.Fatalf("no VM web-1a2b3c4d5e6f; VMs of vch1: %q", e.containerVMs("vch1"))
		}
		if vm.path != "/DC0/vm/vch1/web-1a2b3c4d5e6f" {
			t.Errorf("VM path %q, want it in the VCH's folder /DC0/vm/vch1", vm.path)
		}
		if vm.pool != "/DC0/host/DC0_C0/Resources/vch1" {
			t.Errorf("VM pool %q, want the VCH's pool", vm.pool)
		}
		if vm.powerState != types.VirtualMachinePowerStatePoweredOn {
			t.Errorf("power state %s, want poweredOn", vm.powerState)
		}
		if vm.cpus != CPUs || vm.memoryMB != MemoryMB || vm.guestID != GuestID || vm.disks != 0 {
			t.Errorf("VM has %d CPUs, %d MB, guest %q, %d disks; want %d, %d, %q, 0", vm.cpus, vm.memoryMB, vm.guestID, vm.disks, CPUs, MemoryMB, GuestID)
		}
		wantNICs := []string{
			"vch1 02:42:ac:10:00:01 VirtualVmxnet3 manual disconnected",
			"cn1 02:42:ac:11:00:01 VirtualVmxnet3 manual disconnected",
		}
		if !reflect.DeepEqual(vm.nics, wantNICs) {
			t.Errorf("NICs %q, want %q", vm.nics, wantNICs)
		}
		wantExtra := map[string]string{
			config.KeyContainerVCH:      "vch1",
			config.KeyContainerID:       idWeb,
			config.KeyContainerEndpoint: "vch1",
			KeyContainerName:            "web",
			KeyContainerNetworks: `[{"network":"vch1-net","portGroup":"vch1","mac":"02:42:ac:10:00:01","address":"172.16.0.2/16"},` +
				`{"network":"cn1-net","portGroup":"cn1","mac":"02:42:ac:11:00:01","address":"172.17.0.2/16"}]`,
			KeyContainerPorts: `["80/tcp -> 198.51.100.2:8080"]`,
		}
		for k, want := range wantExtra {
			if got := vm.extra[k]; got != want {
				t.Errorf("extraConfig %s = %q, want %q", k, got, want)
			}
		}

		// Observed reads the same back.
		obs, err := e.r.Observed(e.ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(obs) != 1 || obs[0].Name != "web-1a2b3c4d5e6f" || obs[0].ContainerID != idWeb || obs[0].PowerState != "poweredOn" {
			t.Fatalf("Observed = %+v", obs)
		}
		if !reflect.DeepEqual(obs[0].NICs, web.NICs) || !reflect.DeepEqual(obs[0].Ports, web.Ports) {
			t.Errorf("Observed NICs %+v ports %q, want %+v %q", obs[0].NICs, obs[0].Ports, web.NICs, web.Ports)
		}
	})
}

func TestReconcileTwiceChangesNothing(t *testing.T) {
	withVCH(t, func(e *env) {
		want := []Container{
			container("web", idWeb, true, "vch1", "cn1"),
			container("db", idDB, false, "cn2"),
		}
		e.reconcile(want...)
		before := e.vms()
		e.log.take()

		e.reconcile(want...)

		if lines := e.log.take(); len(lines) > 0 {
			t.Errorf("second Reconcile made changes: %q", lines)
		}
		after := e.vms()
		for _, name := range []string{"web-1a2b3c4d5e6f", "db-2b3c4d5e6f70"} {
			if before[name].changeVersion != after[name].changeVersion || before[name].powerState != after[name].powerState {
				t.Errorf("VM %q changed: %+v -> %+v", name, before[name], after[name])
			}
		}
	})
}

// TestReconcileFollowsContainer replays a container's life, each step checked as the admin
// sees the VM.
func TestReconcileFollowsContainer(t *testing.T) {
	withVCH(t, func(e *env) {
		web := container("web", idWeb, true, "vch1")
		steps := []struct {
			name   string
			change func(c *Container)
			// vm is the expected VM name ("" means none), power its state, nics its NICs.
			vm    string
			power types.VirtualMachinePowerState
			nics  []string
			ports string
		}{
			{
				name: "run", change: func(*Container) {},
				vm: "web-1a2b3c4d5e6f", power: "poweredOn", nics: []string{"vch1 02:42:ac:10:00:01 VirtualVmxnet3 manual disconnected"}, ports: "[]",
			},
			{
				name: "stop", change: func(c *Container) { c.Running = false },
				vm: "web-1a2b3c4d5e6f", power: "poweredOff", nics: []string{"vch1 02:42:ac:10:00:01 VirtualVmxnet3 manual disconnected"}, ports: "[]",
			},
			{
				name: "start with a published port", change: func(c *Container) {
					c.Running = true
					c.Ports = []string{"80/tcp -> 198.51.100.2:8080"}
				},
				vm: "web-1a2b3c4d5e6f", power: "poweredOn", nics: []string{"vch1 02:42:ac:10:00:01 VirtualVmxnet3 manual disconnected"}, ports: `["80/tcp -> 198.51.100.2:8080"]`,
			},
			{
				name: "network connect", change: func(c *Container) {
					c.NICs = append(c.NICs, NIC{Network: "cn1", PortGroup: "cn1", MAC: "02:42:AC:11:00:09"})
				},
				vm: "web-1a2b3c4d5e6f", power: "poweredOn", ports: `["80/tcp -> 198.51.100.2:8080"]`,
				nics: []string{"vch1 02:42:ac:10:00:01 VirtualVmxnet3 manual disconnected", "cn1 02:42:ac:11:00:09 VirtualVmxnet3 manual disconnected"},
			},
			{
				name: "network disconnect", change: func(c *Container) { c.NICs = c.NICs[1:] },
				vm: "web-1a2b3c4d5e6f", power: "poweredOn", ports: `["80/tcp -> 198.51.100.2:8080"]`,
				nics: []string{"cn1 02:42:ac:11:00:09 VirtualVmxnet3 manual disconnected"},
			},
			{
				name: "MAC changed", change: func(c *Container) { c.NICs[0].MAC = "02:42:ac:11:00:0a" },
				vm: "web-1a2b3c4d5e6f", power: "poweredOn", ports: `["80/tcp -> 198.51.100.2:8080"]`,
				nics: []string{"cn1 02:42:ac:11:00:0a VirtualVmxnet3 manual disconnected"},
			},
			{
				name: "rename", change: func(c *Container) { c.Name = "/frontend" },
				vm: "frontend-1a2b3c4d5e6f", power: "poweredOn", ports: `["80/tcp -> 198.51.100.2:8080"]`,
				nics: []string{"cn1 02:42:ac:11:00:0a VirtualVmxnet3 manual disconnected"},
			},
		}
		for _, s := range steps {
			s.change(&web)
			if err := e.r.Reconcile(e.ctx, []Container{web}); err != nil {
				t.Fatalf("%s: Reconcile: %v", s.name, err)
			}
			if got := e.containerVMs("vch1"); !reflect.DeepEqual(got, []string{s.vm}) {
				t.Fatalf("%s: container VMs %q, want %q", s.name, got, s.vm)
			}
			vm := e.vms()[s.vm]
			if vm.powerState != s.power {
				t.Errorf("%s: power state %s, want %s", s.name, vm.powerState, s.power)
			}
			if !reflect.DeepEqual(vm.nics, s.nics) {
				t.Errorf("%s: NICs %q, want %q", s.name, vm.nics, s.nics)
			}
			if got := vm.extra[KeyContainerPorts]; got != s.ports {
				t.Errorf("%s: ports %s, want %s", s.name, got, s.ports)
			}
			var recorded []NIC
			if err := json.Unmarshal([]byte(vm.extra[KeyContainerNetworks]), &recorded); err != nil || len(recorded) != len(web.NICs) {
				t.Errorf("%s: recorded networks %s (%v), want %d", s.name, vm.extra[KeyContainerNetworks], err, len(web.NICs))
			}
		}

		// rm: the VM goes.
		e.reconcile()
		if got := e.containerVMs("vch1"); len(got) != 0 {
			t.Errorf("after rm, container VMs %q, want none", got)
		}
	})
}

func TestReconcileTouchesOnlyItsOwnVMs(t *testing.T) {
	withVCH(t, func(e *env) {
		e.addVM("other-vch-container", map[string]string{config.KeyContainerVCH: "vch2", config.KeyContainerID: idWeb})
		e.addVM("plain-vm", map[string]string{"guestinfo.app": "x"})
		e.addVM("stale-container", map[string]string{config.KeyContainerVCH: "vch1", config.KeyContainerID: idJob})
		before := e.vms()

		// A container with the same ID as vch2's container VM gets a VM of its own.
		e.reconcile(container("web", idWeb, true, "vch1"))

		after := e.vms()
		for _, name := range []string{"other-vch-container", "plain-vm", "vch1", "DC0_C0_RP0_VM0"} {
			b, a := before[name], after[name]
			if a.name == "" {
				t.Errorf("VM %q was destroyed", name)
				continue
			}
			if a.changeVersion != b.changeVersion || a.powerState != b.powerState {
				t.Errorf("VM %q was changed: %+v -> %+v", name, b, a)
			}
		}
		if _, ok := after["stale-container"]; ok {
			t.Error("container VM of vch1 with no container was kept")
		}
		if got := e.containerVMs("vch1"); !reflect.DeepEqual(got, []string{"web-1a2b3c4d5e6f"}) {
			t.Errorf("container VMs of vch1 %q", got)
		}
	})
}

func TestReconcileDuplicateVMsKeepsOne(t *testing.T) {
	withVCH(t, func(e *env) {
		e.addVM("web-1a2b3c4d5e6f", map[string]string{config.KeyContainerVCH: "vch1", config.KeyContainerID: idWeb})
		e.addVM("web-copy", map[string]string{config.KeyContainerVCH: "vch1", config.KeyContainerID: idWeb})

		e.reconcile(container("web", idWeb, true, "vch1"))

		if got := e.containerVMs("vch1"); len(got) != 1 || got[0] != "web-1a2b3c4d5e6f" {
			t.Errorf("container VMs %q, want one web-1a2b3c4d5e6f", got)
		}
	})
}

func TestReconcileErrorsStayPerContainer(t *testing.T) {
	cases := []struct {
		name   string
		bad    Container
		target error
	}{
		{name: "missing port group", bad: container("db", idDB, true, "no-such-pg"), target: ErrPortGroupNotFound},
		{name: "bad MAC", bad: Container{ID: idDB, Name: "db", NICs: []NIC{{Network: "n", PortGroup: "cn1", MAC: "zz"}}}, target: ErrInvalidContainer},
		{name: "no ID", bad: Container{Name: "db"}, target: ErrInvalidContainer},
		{name: "same MAC twice", bad: Container{ID: idDB, Name: "db", NICs: []NIC{
			{PortGroup: "cn1", MAC: "02:42:ac:11:00:01"}, {PortGroup: "cn2", MAC: "02:42:ac:11:00:01"},
		}}, target: ErrInvalidContainer},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			withVCH(t, func(e *env) {
				err := e.r.Reconcile(e.ctx, []Container{tc.bad, container("web", idWeb, true, "vch1")})
				if !errors.Is(err, tc.target) {
					t.Fatalf("Reconcile error %v, want %v", err, tc.target)
				}
				if !strings.Contains(err.Error(), `"db"`) || strings.Contains(err.Error(), "web") {
					t.Errorf("error %q should name db only", err)
				}
				if got := e.containerVMs("vch1"); !reflect.DeepEqual(got, []string{"web-1a2b3c4d5e6f"}) {
					t.Errorf("container VMs %q, want web's only", got)
				}
			})
		})
	}
}

func TestReconcileKeepsVMOfFailingContainer(t *testing.T) {
	withVCH(t, func(e *env) {
		e.reconcile(container("db", idDB, true, "cn1"))
		// The container's port group is gone from its record (a bad update): the VM stays.
		err := e.r.Reconcile(e.ctx, []Container{container("db", idDB, true, "no-such-pg")})
		if !errors.Is(err, ErrPortGroupNotFound) {
			t.Fatalf("Reconcile error %v, want ErrPortGroupNotFound", err)
		}
		if got := e.containerVMs("vch1"); !reflect.DeepEqual(got, []string{"db-2b3c4d5e6f70"}) {
			t.Errorf("container VMs %q, want db's kept", got)
		}
	})
}

func TestReconcileUndoesChangesBehindItsBack(t *testing.T) {
	withVCH(t, func(e *env) {
		web := container("web", idWeb, true, "vch1")
		e.reconcile(web)
		ref := e.vms()["web-1a2b3c4d5e6f"].ref
		vm := object.NewVirtualMachine(e.c, ref)
		// An admin powers the VM off and scribbles in its record.
		task, err := vm.PowerOff(e.ctx)
		if err == nil {
			err = task.Wait(e.ctx)
		}
		if err != nil {
			t.Fatal(err)
		}
		task, err = vm.Reconfigure(e.ctx, types.VirtualMachineConfigSpec{ExtraConfig: []types.BaseOptionValue{
			&types.OptionValue{Key: KeyContainerPorts, Value: "garbage"},
			&types.OptionValue{Key: KeyContainerPrefix + "stale", Value: "x"},
		}})
		if err == nil {
			err = task.Wait(e.ctx)
		}
		if err != nil {
			t.Fatal(err)
		}

		e.reconcile(web)
		got := e.vms()["web-1a2b3c4d5e6f"]
		if got.powerState != "poweredOn" || got.extra[KeyContainerPorts] != "[]" {
			t.Errorf("VM %s with ports %q, want poweredOn with []", got.powerState, got.extra[KeyContainerPorts])
		}
		if v, ok := got.extra[KeyContainerPrefix+"stale"]; ok {
			t.Errorf("stale key kept with %q", v)
		}
	})
}

// A card left connected (by an admin, or by an older docker-vic) claims the container's MAC on
// the port group: one Reconcile disconnects it in place, keeping the card.
func TestReconcileDisconnectsConnectedNICs(t *testing.T) {
	cases := []struct {
		name    string
		running bool
		// set is the connection state given to web's first card behind the Reconciler's back.
		set types.VirtualDeviceConnectInfo
		// before is how that card then shows.
		before string
	}{
		{
			name: "running", running: true,
			set:    types.VirtualDeviceConnectInfo{StartConnected: true, Connected: true},
			before: "connected,startConnected",
		},
		{
			name: "running guest control", running: true,
			set:    types.VirtualDeviceConnectInfo{AllowGuestControl: true},
			before: "guestControl",
		},
		{
			name: "stopped", running: false,
			set:    types.VirtualDeviceConnectInfo{StartConnected: true, Connected: true},
			before: "startConnected", // a powered-off VM's cards are never connected now
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			withVCH(t, func(e *env) {
				web := container("web", idWeb, tc.running, "vch1", "cn1")
				e.reconcile(web)
				fixed := e.vms()["web-1a2b3c4d5e6f"]
				vm := object.NewVirtualMachine(e.c, fixed.ref)
				devices, err := vm.Device(e.ctx)
				if err != nil {
					t.Fatal(err)
				}
				card := devices.FindByKey(fixed.nicKeys[0])
				set := tc.set
				card.GetVirtualDevice().Connectable = &set
				if err := vm.EditDevice(e.ctx, card); err != nil {
					t.Fatal(err)
				}
				connected := e.vms()["web-1a2b3c4d5e6f"]
				if got := sorted(connected.nics); !strings.Contains(strings.Join(got, "|"), " manual "+tc.before) {
					t.Fatalf("NICs %q after the edit, want one %s", got, tc.before)
				}
				e.log.take()

				e.reconcile(web)

				got := e.vms()["web-1a2b3c4d5e6f"]
				if !reflect.DeepEqual(sorted(got.nics), sorted(fixed.nics)) {
					t.Errorf("NICs %q after Reconcile, want %q", got.nics, fixed.nics)
				}
				if !reflect.DeepEqual(sortedKeys(got.nicKeys), sortedKeys(fixed.nicKeys)) {
					t.Errorf("card keys %v after Reconcile, want the same cards %v", got.nicKeys, fixed.nicKeys)
				}
				if lines := e.log.take(); !reflect.DeepEqual(lines, []string{`reconfiguring container VM "web-1a2b3c4d5e6f"`}) {
					t.Errorf("Reconcile said %q, want one reconfiguration", lines)
				}
				if got.powerState != connected.powerState {
					t.Errorf("power state %s, want %s kept", got.powerState, connected.powerState)
				}
				e.reconcile(web)
				if lines := e.log.take(); len(lines) > 0 {
					t.Errorf("second Reconcile made changes: %q", lines)
				}
			})
		})
	}
}

func sorted(s []string) []string {
	out := slices.Clone(s)
	slices.Sort(out)
	return out
}

func sortedKeys(s []int32) []int32 {
	out := slices.Clone(s)
	slices.Sort(out)
	return out
}

func TestReconcileLongNameIsTruncated(t *testing.T) {
	withVCH(t, func(e *env) {
		long := strings.Repeat("n", 100)
		e.reconcile(container(long, idWeb, false, "vch1"))
		got := e.containerVMs("vch1")
		want := strings.Repeat("n", 67) + "-1a2b3c4d5e6f"
		if len(got) != 1 || got[0] != want || len(want) != MaxNameLength {
			t.Errorf("container VMs %q, want %q (80 characters)", got, want)
		}
		if name := e.vms()[want].extra[KeyContainerName]; name != long {
			t.Errorf("recorded name %q, want the full name", name)
		}
	})
}

func TestReconcileStandardPortGroup(t *testing.T) {
	withVCH(t, func(e *env) {
		e.reconcile(container("web", idWeb, true, "VM Network"))
		vm := e.vms()["web-1a2b3c4d5e6f"]
		if want := []string{"VM Network 02:42:ac:10:00:01 VirtualVmxnet3 manual disconnected"}; !reflect.DeepEqual(vm.nics, want) {
			t.Errorf("NICs %q, want %q", vm.nics, want)
		}
		e.log.take()
		e.reconcile(container("web", idWeb, true, "VM Network"))
		if lines := e.log.take(); len(lines) > 0 {
			t.Errorf("second Reconcile made changes: %q", lines)
		}
	})
}

func TestReconcileUnknownVCH(t *testing.T) {
	withVCH(t, func(e *env) {
		r, err := New(e.c, Options{VCH: "nope"})
		if err != nil {
			t.Fatal(err)
		}
		if err := r.Reconcile(e.ctx, []Container{container("web", idWeb, true, "vch1")}); !errors.Is(err, ErrNoEndpointVM) {
			t.Errorf("Reconcile error %v, want ErrNoEndpointVM", err)
		}
	})
}

func TestReconcileVCenterDown(t *testing.T) {
	withVCH(t, func(e *env) {
		e.reconcile(container("web", idWeb, true, "vch1"), container("db", idDB, true, "cn1"))

		// vCenter goes away; meanwhile web stops, db is removed and job starts.
		e.net.down.Store(true)
		want := []Container{container("web", idWeb, false, "vch1"), container("job", idJob, true, "cn2")}
		if err := e.r.Reconcile(e.ctx, want); err == nil {
			t.Fatal("Reconcile succeeded with vCenter down")
		}
		if _, err := e.r.Observed(e.ctx); err == nil {
			t.Fatal("Observed succeeded with vCenter down")
		}

		// vCenter is back: one Reconcile converges.
		e.net.down.Store(false)
		e.reconcile(want...)
		vms := e.vms()
		if got := e.containerVMs("vch1"); !reflect.DeepEqual(got, []string{"job-3c4d5e6f7081", "web-1a2b3c4d5e6f"}) {
			t.Errorf("container VMs %q", got)
		}
		if vms["web-1a2b3c4d5e6f"].powerState != "poweredOff" || vms["job-3c4d5e6f7081"].powerState != "poweredOn" {
			t.Errorf("web %s, job %s; want poweredOff, poweredOn", vms["web-1a2b3c4d5e6f"].powerState, vms["job-3c4d5e6f7081"].powerState)
		}
	})
}

func TestReconcileCancelledContext(t *testing.T) {
	withVCH(t, func(e *env) {
		ctx, cancel := context.WithCancel(e.ctx)
		cancel()
		if err := e.r.Reconcile(ctx, []Container{container("web", idWeb, true, "vch1")}); err == nil {
			t.Fatal("Reconcile succeeded on a cancelled context")
		}
		e.reconcile(container("web", idWeb, true, "vch1"))
		if got := e.containerVMs("vch1"); len(got) != 1 {
			t.Errorf("container VMs %q, want one", got)
		}
	})
}

func TestVMName(t *testing.T) {
	cases := []struct{ name, id, want string }{
		{"web", idWeb, "web-1a2b3c4d5e6f"},
		{"/web", idWeb, "web-1a2b3c4d5e6f"},
		{"web", "abc", "web-abc"},
		{strings.Repeat("a", 67), idWeb, strings.Repeat("a", 67) + "-1a2b3c4d5e6f"},
		{strings.Repeat("a", 68), idWeb, strings.Repeat("a", 67) + "-1a2b3c4d5e6f"},
		{"", idWeb, "1a2b3c4d5e6f"},
	}
	for _, tc := range cases {
		got := VMName(tc.name, tc.id)
		if got != tc.want {
			t.Errorf("VMName(%q, %q) = %q, want %q", tc.name, tc.id, got, tc.want)
		}
		if len([]rune(got)) > MaxNameLength {
			t.Errorf("VMName(%q, %q) has %d characters", tc.name, tc.id, len(got))
		}
	}
}

func TestReconcileInVApp(t *testing.T) {
	withPlacement(t, config.Placement{UseVApp: true}, func(e *env) {
		e.reconcile(container("web", idWeb, true, "vch1"))
		vm, ok := e.vms()["web-1a2b3c4d5e6f"]
		if !ok {
			t.Fatalf("no VM web-1a2b3c4d5e6f")
		}
		endpoint := e.vms()["vch1"]
		if vm.pool != endpoint.pool || vm.powerState != "poweredOn" {
			t.Errorf("VM in %q, %s; want in the VCH's vApp %q, poweredOn", vm.pool, vm.powerState, endpoint.pool)
		}
		e.reconcile()
		if got := e.containerVMs("vch1"); len(got) != 0 {
			t.Errorf("container VMs %q, want none", got)
		}
	})
}

// Docker forgets the MACs of a stopped container's interfaces: its VM keeps its cards, off.
func TestStoppedContainerKeepsItsNICs(t *testing.T) {
	withVCH(t, func(e *env) {
		web := container("web", idWeb, true, "vch1")
		if err := e.r.Reconcile(e.ctx, []Container{web}); err != nil {
			t.Fatal(err)
		}
		before := e.vms()["web-1a2b3c4d5e6f"].nics
		web.Running, web.NICs = false, nil
		if err := e.r.Reconcile(e.ctx, []Container{web}); err != nil {
			t.Fatal(err)
		}
		vm := e.vms()["web-1a2b3c4d5e6f"]
		if vm.powerState != "poweredOff" || !reflect.DeepEqual(vm.nics, before) {
			t.Fatalf("stopped container's VM: %s with NICs %q, want poweredOff with %q", vm.powerState, vm.nics, before)
		}
	})
}
