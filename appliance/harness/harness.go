//go:build linux

// Package harness makes vSphere VMs of the simulator really run: it follows every VM through a
// property collector and, when one with an ISO on its CD-ROM powers on, boots that very ISO
// file (in the directory that backs the datastore) under appliance/qemu. Each vSphere NIC
// becomes a vmxnet3 card with the same MAC whose tap sits on its port group's wire, the serial
// port's file gets the console, flat disks are the VM's disks, and the guestinfo channel is
// answered from the VM's extraConfig (vsphere/extraconfig). Powering the VM off in vSphere
// stops qemu; a guest that powers itself off powers the VM off in vSphere.
package harness

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"github.com/vmware/govmomi/object"
	"github.com/vmware/govmomi/property"
	"github.com/vmware/govmomi/view"
	"github.com/vmware/govmomi/vim25"
	"github.com/vmware/govmomi/vim25/methods"
	"github.com/vmware/govmomi/vim25/types"

	"github.com/docker-vic/docker-vic/appliance/qemu"
	"github.com/docker-vic/docker-vic/vsphere"
	"github.com/docker-vic/docker-vic/vsphere/extraconfig"
)

// Options say where the harness finds vSphere and the wires, and how it boots.
type Options struct {
	Client *vim25.Client
	// Dir holds a directory per VM: qemu's sockets, qemu.log, and the console when the VM
	// has no file-backed serial port.
	Dir string
	// Wire returns the network namespace (a path) and the bridge of port group pg's wire.
	Wire func(pg string) (namespace, bridge string, err error)
	// Accel is qemu's accelerator; empty picks kvm when /dev/kvm exists.
	Accel string
	// StopTimeout bounds a guest's clean power-off before qemu is killed; 0 means 30 s.
	StopTimeout time.Duration
	Log         *slog.Logger
}

// props are the VM properties the harness follows.
var props = []string{"name", "runtime.powerState", "config.hardware.device", "config.hardware.memoryMB"}

// Harness boots the VMs of one vSphere.
type Harness struct {
	opts Options
	mu   sync.Mutex
	vms  map[types.ManagedObjectReference]*vmState
	// stopping counts the goroutines that wait for a qemu; Run waits for them.
	running sync.WaitGroup
}

// vmState is what the harness knows of one VM.
type vmState struct {
	name     string
	power    types.VirtualMachinePowerState
	devices  []types.BaseVirtualDevice
	memoryMB int32
	// qemu runs the VM; stopping says the harness asked it to stop.
	qemu     *qemu.VM
	stopping bool
	gone     bool
}

// New returns a harness with opts.
func New(opts Options) *Harness {
	if opts.StopTimeout == 0 {
		opts.StopTimeout = 30 * time.Second
	}
	if opts.Log == nil {
		opts.Log = slog.New(slog.DiscardHandler)
	}
	return &Harness{opts: opts, vms: map[types.ManagedObjectReference]*vmState{}}
}

// Run follows the VMs until ctx ends, then stops the VMs it runs (a clean power-off first).
func (h *Harness) Run(ctx context.Context) error {
	defer h.stopAll()
	c := h.opts.Client
	v, err := view.NewManager(c).CreateContainerView(ctx, c.ServiceContent.RootFolder, []string{"VirtualMachine"}, true)
	if err != nil {
		return fmt.Errorf("viewing the VMs: %w", err)
	}
	defer v.Destroy(context.WithoutCancel(ctx)) //nolint:errcheck // the view goes with the session
	pc, err := property.DefaultCollector(c).Create(ctx)
	if err != nil {
		return fmt.Errorf("creating a property collector: %w", err)
	}
	defer pc.Destroy(context.WithoutCancel(ctx)) //nolint:errcheck // the collector goes with the session
	filter := new(property.WaitFilter).Add(v.Reference(), "VirtualMachine", props,
		&types.TraversalSpec{Type: "ContainerView", Path: "view"})
	filter.Spec.ObjectSet[0].Skip = types.NewBool(true)
	// Each wait lasts a second at most and is never cancelled: ctx is checked between waits.
	// A wait cancelled in flight races, inside vcsim, with the destruction of its filter.
	wait := context.WithoutCancel(ctx)
	pf, err := pc.CreateFilter(wait, filter.CreateFilter)
	if err != nil {
		return fmt.Errorf("following the VMs: %w", err)
	}
	defer pf.Destroy(wait) //nolint:errcheck // the collector goes with the session
	h.opts.Log.Info("following the VMs")
	req := types.WaitForUpdatesEx{This: pc.Reference(), Options: &types.WaitOptions{MaxWaitSeconds: types.NewInt32(1)}}
	for ctx.Err() == nil {
		res, err := methods.WaitForUpdatesEx(wait, c, &req)
		if ctx.Err() != nil {
			return nil
		}
		if err != nil {
			return fmt.Errorf("following the VMs: %w", err)
		}
		set := res.Returnval
		if set == nil {
			continue // a second without a change
		}
		req.Version = set.Version
		for _, fs := range set.FilterSet {
			for _, u := range fs.ObjectSet {
				h.update(ctx, u)
			}
		}
	}
	return nil
}

// update applies one VM's changes and acts on them.
func (h *Harness) update(ctx context.Context, u types.ObjectUpdate) {
	h.mu.Lock()
	st := h.vms[u.Obj]
	if st == nil {
		st = &vmState{}
		h.vms[u.Obj] = st
	}
	st.gone = u.Kind == types.ObjectUpdateKindLeave
	for _, c := range u.ChangeSet {
		switch c.Name {
		case "name":
			st.name, _ = c.Val.(string)
		case "runtime.powerState":
			st.power, _ = c.Val.(types.VirtualMachinePowerState)
		case "config.hardware.device":
			if a, ok := c.Val.(types.ArrayOfVirtualDevice); ok {
				st.devices = a.VirtualDevice
			} else {
				st.devices = nil
			}
		case "config.hardware.memoryMB":
			st.memoryMB, _ = c.Val.(int32)
		}
	}
	h.mu.Unlock()
	h.reconcile(ctx, u.Obj)
}

// reconcile starts or stops the VM's qemu to match its power state.
func (h *Harness) reconcile(ctx context.Context, ref types.ManagedObjectReference) {
	h.mu.Lock()
	defer h.mu.Unlock()
	st := h.vms[ref]
	if st == nil {
		return
	}
	if st.gone && st.qemu == nil {
		delete(h.vms, ref)
		return
	}
	want := !st.gone && st.power == types.VirtualMachinePowerStatePoweredOn && isoOf(st.devices) != ""
	switch {
	case want && st.qemu == nil:
		vm, err := h.boot(ctx, ref, st)
		if err != nil {
			h.opts.Log.Error("booting VM", "vm", st.name, "err", err)
			return
		}
		st.qemu, st.stopping = vm, false
		h.running.Add(1)
		go h.watch(ctx, ref, st, vm)
	case !want && st.qemu != nil && !st.stopping:
		st.stopping = true
		h.opts.Log.Info("VM powered off in vSphere: stopping qemu", "vm", st.name)
		go st.qemu.Stop(h.opts.StopTimeout)
	}
}

// boot starts qemu for the VM; the caller holds h.mu.
func (h *Harness) boot(ctx context.Context, ref types.ManagedObjectReference, st *vmState) (*qemu.VM, error) {
	m, err := readMachine(ctx, h.opts.Client, st.devices)
	if err != nil {
		return nil, err
	}
	dir := filepath.Join(h.opts.Dir, ref.Value)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("making the run directory of VM %q: %w", st.name, err)
	}
	spec := qemu.Spec{
		Name: st.name, ISO: m.iso, Disks: m.disks, MemoryMB: int(st.memoryMB),
		Console: m.console, RunDir: dir, Accel: h.opts.Accel,
		Store: extraconfig.Store{Client: h.opts.Client, VM: ref},
	}
	if spec.MemoryMB < 256 {
		spec.MemoryMB = qemu.DefaultMemoryMB // vcsim's default VMs have 32 MB
	}
	if spec.Console == "" {
		spec.Console = filepath.Join(dir, "console.log")
	}
	for _, n := range m.nics {
		ns, br, err := h.opts.Wire(n.portGroup)
		if err != nil {
			return nil, fmt.Errorf("the wire of port group %q: %w", n.portGroup, err)
		}
		spec.NICs = append(spec.NICs, qemu.NIC{MAC: n.mac, Namespace: ns, Bridge: br})
	}
	vm, err := qemu.Start(ctx, spec)
	if err != nil {
		return nil, err
	}
	h.opts.Log.Info("VM powered on: qemu boots it", "vm", st.name, "iso", m.iso, "nics", len(spec.NICs),
		"disks", len(spec.Disks), "console", spec.Console, "accel", vm.Accel(), "pid", vm.PID())
	return vm, nil
}

// watch waits for the VM's qemu to end. A guest that ended by itself powers the VM off in
// vSphere; either way the VM is reconciled again, since its state may have changed meanwhile.
func (h *Harness) watch(ctx context.Context, ref types.ManagedObjectReference, st *vmState, vm *qemu.VM) {
	defer h.running.Done()
	err := vm.Wait()
	h.mu.Lock()
	asked := st.stopping
	st.qemu, st.stopping = nil, false
	if !asked {
		// Off from now on, before vSphere's own update says so: no second boot meanwhile.
		st.power = types.VirtualMachinePowerStatePoweredOff
	}
	h.mu.Unlock()
	if asked {
		h.opts.Log.Info("qemu stopped", "vm", st.name)
	} else {
		h.opts.Log.Info("the guest powered off: powering the VM off in vSphere", "vm", st.name, "qemu", err)
		if ctx.Err() == nil {
			if err := vsphere.PowerOff(ctx, object.NewVirtualMachine(h.opts.Client, ref)); err != nil {
				h.opts.Log.Error("powering off", "vm", st.name, "err", err)
			}
		}
	}
	if ctx.Err() == nil {
		h.reconcile(ctx, ref)
	}
}

// Booted lists the names of the VMs that run under qemu now.
func (h *Harness) Booted() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	var names []string
	for _, st := range h.vms {
		if st.qemu != nil {
			names = append(names, st.name)
		}
	}
	slices.Sort(names)
	return names
}

// stopAll stops every qemu and waits for them.
func (h *Harness) stopAll() {
	h.mu.Lock()
	for _, st := range h.vms {
		if st.qemu != nil && !st.stopping {
			st.stopping = true
			go st.qemu.Stop(h.opts.StopTimeout)
		}
	}
	h.mu.Unlock()
	h.running.Wait()
}
