package cvm

import (
	"context"
	"net/http"
	"net/netip"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vmware/govmomi/find"
	"github.com/vmware/govmomi/object"
	"github.com/vmware/govmomi/property"
	"github.com/vmware/govmomi/view"
	"github.com/vmware/govmomi/vim25"
	"github.com/vmware/govmomi/vim25/mo"
	"github.com/vmware/govmomi/vim25/types"

	"github.com/docker-vic/docker-vic/config"
	"github.com/docker-vic/docker-vic/vsphere"
	"github.com/docker-vic/docker-vic/vsphere/sim"
)

// env is a simulated vCenter holding VCH "vch1" (bridge port group "vch1", container network
// "cn1"), placed by vsphere/sim as `docker vic create` places it, and a Reconciler for it.
type env struct {
	t   *testing.T
	ctx context.Context
	c   *vim25.Client
	r   *Reconciler
	log *recorder
	// net cuts the client's connection to vCenter while down is set.
	net *flakyTransport
}

// withVCH runs f against a fresh simulated vCenter with VCH vch1 in it.
func withVCH(t *testing.T, f func(e *env)) {
	t.Helper()
	withPlacement(t, config.Placement{}, f)
}

// withPlacement runs f against a fresh simulated vCenter with VCH vch1 created with placement p.
func withPlacement(t *testing.T, p config.Placement, f func(e *env)) {
	t.Helper()
	m := sim.Model()
	defer m.Remove()
	err := m.Run(func(ctx context.Context, c *vim25.Client) error {
		e := &env{t: t, ctx: ctx, c: c, log: &recorder{}}
		e.addPortgroup("vch1")
		e.addPortgroup("cn1")
		e.addPortgroup("cn2")
		e.createVCH("vch1", p, "cn1", "cn2")
		e.net = &flakyTransport{base: c.Client.Transport}
		c.Client.Transport = e.net
		r, err := New(c, Options{VCH: "vch1", Progress: e.log.add})
		if err != nil {
			t.Fatal(err)
		}
		e.r = r
		f(e)
		c.Client.Transport = e.net.base
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// addPortgroup adds a distributed port group to DVS0 that lets container MACs through.
func (e *env) addPortgroup(name string) {
	e.t.Helper()
	if err := sim.AddPortGroups(e.ctx, e.c, sim.MACLearning(), name); err != nil {
		e.t.Fatal(err)
	}
}

// createVCH places a VCH as `docker vic create` does, its bridge on the port group of its
// name.
func (e *env) createVCH(name string, p config.Placement, containerNetworks ...string) {
	e.t.Helper()
	cfg := config.New(name)
	cfg.Placement = p
	for _, pg := range containerNetworks {
		cfg.ContainerNetworks = append(cfg.ContainerNetworks, config.ContainerNetwork{PortGroup: pg})
	}
	cfg.DNS = []netip.Addr{netip.MustParseAddr("198.51.100.53")}
	cfg.ApplyDefaults()
	if _, err := sim.AddVCH(e.ctx, e.c, cfg); err != nil {
		e.t.Fatalf("creating VCH %q: %v", name, err)
	}
}

func (e *env) reconcile(want ...Container) {
	e.t.Helper()
	if err := e.r.Reconcile(e.ctx, want); err != nil {
		e.t.Fatalf("Reconcile: %v", err)
	}
}

// adminVM is a VM as an admin's tools show it.
type adminVM struct {
	ref           types.ManagedObjectReference
	name          string
	path          string
	pool          string
	powerState    types.VirtualMachinePowerState
	cpus          int32
	memoryMB      int32
	guestID       string
	disks         int
	nics          []string // "portgroup mac type addressType connection", see connection
	nicKeys       []int32
	extra         map[string]string
	changeVersion string
}

// vms reads every VM of the inventory, by name.
func (e *env) vms() map[string]adminVM {
	e.t.Helper()
	v, err := view.NewManager(e.c).CreateContainerView(e.ctx, e.c.ServiceContent.RootFolder, []string{"VirtualMachine"}, true)
	if err != nil {
		e.t.Fatal(err)
	}
	defer func() { _ = v.Destroy(e.ctx) }()
	var all []mo.VirtualMachine
	if err := v.Retrieve(e.ctx, []string{"VirtualMachine"}, []string{"name", "config", "runtime.powerState", "resourcePool", "parent"}, &all); err != nil {
		e.t.Fatal(err)
	}
	out := map[string]adminVM{}
	for _, vm := range all {
		a := adminVM{
			ref: vm.Self, name: vm.Name, powerState: vm.Runtime.PowerState,
			cpus: vm.Config.Hardware.NumCPU, memoryMB: vm.Config.Hardware.MemoryMB, guestID: vm.Config.GuestId,
			extra: map[string]string{}, changeVersion: vm.Config.ChangeVersion,
		}
		a.path = e.inventoryPath(vm.Self)
		if vm.ResourcePool != nil {
			a.pool = e.inventoryPath(*vm.ResourcePool)
		}
		devices := object.VirtualDeviceList(vm.Config.Hardware.Device)
		a.disks = len(devices.SelectByType((*types.VirtualDisk)(nil)))
		for _, d := range devices.SelectByType((*types.VirtualEthernetCard)(nil)) {
			card := d.(types.BaseVirtualEthernetCard).GetVirtualEthernetCard()
			a.nics = append(a.nics, strings.Join([]string{e.networkOf(card.Backing), card.MacAddress, devices.TypeName(d), card.AddressType, connection(card.Connectable)}, " "))
			a.nicKeys = append(a.nicKeys, card.Key)
		}
		for _, b := range vm.Config.ExtraConfig {
			ov := b.GetOptionValue()
			if s, ok := ov.Value.(string); ok {
				a.extra[ov.Key] = s
			}
		}
		out[vm.Name] = a
	}
	return out
}

// connection describes a card's connection state as the admin's tools show it: "disconnected",
// or the flags that are set ("connected,startConnected,guestControl").
func connection(c *types.VirtualDeviceConnectInfo) string {
	if c == nil {
		return "none"
	}
	var set []string
	for _, f := range []struct {
		on   bool
		name string
	}{{c.Connected, "connected"}, {c.StartConnected, "startConnected"}, {c.AllowGuestControl, "guestControl"}} {
		if f.on {
			set = append(set, f.name)
		}
	}
	if len(set) == 0 {
		return "disconnected"
	}
	return strings.Join(set, ",")
}

// containerVMs returns the names of the VMs that carry the container key of VCH name, sorted.
func (e *env) containerVMs(name string) []string {
	var out []string
	for n, vm := range e.vms() {
		if vm.extra[config.KeyContainerVCH] == name {
			out = append(out, n)
		}
	}
	sort.Strings(out)
	return out
}

func (e *env) inventoryPath(ref types.ManagedObjectReference) string {
	e.t.Helper()
	p, err := find.InventoryPath(e.ctx, e.c, ref)
	if err != nil {
		e.t.Fatalf("inventory path of %s: %v", ref, err)
	}
	return p
}

func (e *env) networkOf(b types.BaseVirtualDeviceBackingInfo) string {
	switch b := b.(type) {
	case *types.VirtualEthernetCardNetworkBackingInfo:
		return b.DeviceName
	case *types.VirtualEthernetCardDistributedVirtualPortBackingInfo:
		var pg mo.DistributedVirtualPortgroup
		ref := types.ManagedObjectReference{Type: "DistributedVirtualPortgroup", Value: b.Port.PortgroupKey}
		if err := property.DefaultCollector(e.c).RetrieveOne(e.ctx, ref, []string{"name"}, &pg); err != nil {
			e.t.Fatal(err)
		}
		return pg.Name
	}
	return "?"
}

// addVM creates a VM outside the Reconciler in the VCH's pool and folder, with the given
// extraConfig, powered on.
func (e *env) addVM(name string, extra map[string]string) {
	e.t.Helper()
	f := find.NewFinder(e.c)
	pool, err := f.ResourcePool(e.ctx, "/DC0/host/DC0_C0/Resources/vch1")
	if err != nil {
		e.t.Fatal(err)
	}
	folder, err := f.Folder(e.ctx, "/DC0/vm/vch1")
	if err != nil {
		e.t.Fatal(err)
	}
	spec := types.VirtualMachineConfigSpec{
		Name: name, GuestId: GuestID, Files: &types.VirtualMachineFileInfo{VmPathName: "[LocalDS_0]"},
		ExtraConfig: vsphere.OptionValues(extra),
	}
	task, err := folder.CreateVM(e.ctx, spec, pool, nil)
	if err != nil {
		e.t.Fatal(err)
	}
	info, err := task.WaitForResult(e.ctx)
	if err != nil {
		e.t.Fatal(err)
	}
	vm := object.NewVirtualMachine(e.c, info.Result.(types.ManagedObjectReference))
	task, err = vm.PowerOn(e.ctx)
	if err == nil {
		err = task.Wait(e.ctx)
	}
	if err != nil {
		e.t.Fatal(err)
	}
}

// recorder collects Progress lines.
type recorder struct {
	mu    sync.Mutex
	lines []string
}

func (r *recorder) add(s string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.lines = append(r.lines, s)
}

// take returns the lines so far and forgets them.
func (r *recorder) take() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := r.lines
	r.lines = nil
	return out
}

// flakyTransport fails every request with a connection error while down is set, as when
// vCenter is unreachable, and holds every request while stalled is set, as when vCenter's
// process is stopped.
type flakyTransport struct {
	base    http.RoundTripper
	down    atomic.Bool
	stalled atomic.Bool
}

func (f *flakyTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if f.down.Load() {
		return nil, &netDown{}
	}
	for f.stalled.Load() {
		select {
		case <-req.Context().Done():
			return nil, req.Context().Err()
		case <-time.After(5 * time.Millisecond):
		}
	}
	return f.base.RoundTrip(req)
}

type netDown struct{}

func (*netDown) Error() string   { return "connect: network is unreachable" }
func (*netDown) Timeout() bool   { return false }
func (*netDown) Temporary() bool { return true }

// container returns a container with one NIC per port group, MACs 02:42:ac:1X:00:0Y.
func container(name, id string, running bool, portGroups ...string) Container {
	c := Container{ID: id, Name: name, Running: running}
	for i, pg := range portGroups {
		c.NICs = append(c.NICs, NIC{
			Network:   pg + "-net",
			PortGroup: pg,
			MAC:       "02:42:ac:1" + string(rune('0'+i)) + ":00:0" + id[:1],
			Address:   netip.MustParsePrefix("172.1" + string(rune('6'+i)) + ".0.2/16"),
		})
	}
	return c
}

// ids are full container IDs whose first character differs, so their MACs do too.
const (
	idWeb = "1a2b3c4d5e6f0718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f90"
	idDB  = "2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f708192a3b4c5d6e7f8091a"
	idJob = "3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f708192a3b4c5d6e7f8091a2b"
)
