package cvm

import (
	"context"
	"errors"
	"fmt"

	"github.com/vmware/govmomi/fault"
	"github.com/vmware/govmomi/object"
	"github.com/vmware/govmomi/vim25"
	"github.com/vmware/govmomi/vim25/types"

	"github.com/docker-vic/docker-vic/config"
	"github.com/docker-vic/docker-vic/vsphere"
)

// ErrNoEndpointVM says that the VCH's endpoint VM, whose pool, folder and datastore the container
// VMs share, was not found.
var ErrNoEndpointVM = errors.New("endpoint VM not found")

// New returns a Reconciler working through client, which it never logs out. It makes no call:
// vCenter may be down.
func New(client *vim25.Client, o Options) (*Reconciler, error) {
	if client == nil {
		return nil, errors.New("container VMs: no vSphere client")
	}
	if o.VCH == "" {
		return nil, errors.New("container VMs: no VCH name")
	}
	return &Reconciler{client: client, opts: o}, nil
}

// placement is where new container VMs go.
type placement struct {
	pool, folder types.ManagedObjectReference
	datastore    string
}

// placementOf takes the pool, folder and datastore from the options, else from the endpoint VM.
func (r *Reconciler) placementOf(inv *vsphere.Inventory) (*placement, error) {
	p := &placement{datastore: r.opts.Datastore}
	if r.opts.Pool != nil {
		p.pool = *r.opts.Pool
	}
	if r.opts.Folder != nil {
		p.folder = *r.opts.Folder
	}
	if r.opts.Pool != nil && r.opts.Folder != nil && p.datastore != "" {
		return p, nil
	}
	ep, err := inv.EndpointVM(r.opts.VCH)
	if err != nil {
		return nil, fmt.Errorf("finding VCH %q in datacenter %q: %w", r.opts.VCH, inv.DatacenterName(), ErrNoEndpointVM)
	}
	if r.opts.Pool == nil && ep.Pool() != nil {
		p.pool = *ep.Pool()
	}
	if r.opts.Folder == nil && ep.Parent() != nil {
		p.folder = *ep.Parent()
	}
	if p.datastore == "" {
		var dp object.DatastorePath
		if dp.FromString(ep.VMPath()) {
			p.datastore = dp.Datastore
		}
	}
	if p.pool.Value == "" || p.folder.Value == "" || p.datastore == "" {
		return nil, fmt.Errorf("reading the pool, folder and datastore of endpoint VM %q: some are missing", r.opts.VCH)
	}
	// An endpoint VM inside a vApp has the vApp as parent: its children go through the vApp.
	if p.folder.Type != "Folder" && p.pool.Type != "VirtualApp" {
		return nil, fmt.Errorf("endpoint VM %q is not in a VM folder", r.opts.VCH)
	}
	return p, nil
}

// Reconcile makes vSphere hold exactly one VM per container of want, with the right name, NICs,
// extraConfig and power state, and no other container VM of the VCH. It creates, reconfigures,
// powers on and off, and destroys; it never touches a VM that is not a container VM of this VCH.
// An error for one container does not stop the others: Reconcile returns them joined. Running
// it again changes nothing.
func (r *Reconciler) Reconcile(ctx context.Context, want []Container) error {
	inv, err := r.scan(ctx)
	if err != nil {
		return err
	}
	place, err := r.placementOf(inv)
	if err != nil {
		return err
	}

	byID := map[string][]*vsphere.VMRecord{}
	for _, v := range r.own(inv) {
		id := v.ExtraConfig()[config.KeyContainerID]
		byID[id] = append(byID[id], v)
	}

	var errs []error
	wanted := map[string]bool{}
	for _, c := range want {
		if c.ID != "" && wanted[c.ID] {
			errs = append(errs, fmt.Errorf("container %q: %w: ID %s given twice", c.Name, ErrInvalidContainer, c.ID))
			continue
		}
		if c.ID != "" {
			wanted[c.ID] = true
		}
		if err := r.ensure(ctx, inv, place, c, byID[c.ID]); err != nil {
			errs = append(errs, fmt.Errorf("container VM of %q: %w", c.Name, err))
		}
	}
	for id, vms := range byID {
		if wanted[id] {
			continue
		}
		for _, v := range vms {
			if err := r.remove(ctx, v); err != nil {
				errs = append(errs, err)
			}
		}
	}
	return errors.Join(errs...)
}

// ensure converges the VM of container c; have are the VMs already recorded for it.
func (r *Reconciler) ensure(ctx context.Context, inv *vsphere.Inventory, place *placement, c Container, have []*vsphere.VMRecord) error {
	if !c.Running && len(c.NICs) == 0 && len(have) > 0 {
		// A stopped container has no interfaces (Docker forgets their MACs): its VM keeps
		// the cards it had, powered off.
		c.NICs = decodeNICs(have[0].ExtraConfig()[KeyContainerNetworks])
	}
	t, err := r.targetOf(c, inv)
	if err != nil {
		return err
	}
	if len(have) == 0 {
		return r.create(ctx, place, t)
	}
	// Keep the first VM; a duplicate (a create retried after a lost answer) goes.
	for _, dup := range have[1:] {
		if err := r.remove(ctx, dup); err != nil {
			return err
		}
	}
	v := have[0]
	if spec := reconfigSpec(v, t, inv); spec != nil {
		r.progress("reconfiguring container VM %q", t.name)
		vm := object.NewVirtualMachine(r.client, v.Ref())
		task, err := vm.Reconfigure(ctx, *spec)
		if err = vsphere.Wait(ctx, task, err); err != nil {
			return fmt.Errorf("reconfiguring VM %q: %w", v.Name(), err)
		}
	}
	return r.power(ctx, v.Ref(), t.name, v.PowerState(), t.running)
}

// create creates the VM of t in the VCH's pool (or vApp) and folder, and powers it on when the
// container runs.
func (r *Reconciler) create(ctx context.Context, place *placement, t *target) error {
	r.progress("creating container VM %q with %d NICs", t.name, len(t.nics))
	spec := r.createSpec(t, place.datastore)
	var task *object.Task
	var err error
	if place.pool.Type == "VirtualApp" {
		task, err = object.NewVirtualApp(r.client, place.pool).CreateChildVM(ctx, spec, nil)
	} else {
		pool := object.NewResourcePool(r.client, place.pool)
		task, err = object.NewFolder(r.client, place.folder).CreateVM(ctx, spec, pool, nil)
	}
	var info *types.TaskInfo
	if err == nil {
		info, err = task.WaitForResult(ctx)
	}
	if err != nil {
		return fmt.Errorf("creating VM %q: %w", t.name, err)
	}
	ref, ok := info.Result.(types.ManagedObjectReference)
	if !ok {
		return fmt.Errorf("creating VM %q: the task returned no VM", t.name)
	}
	// A power-on that fails leaves the VM: the next Reconcile powers it on.
	return r.power(ctx, ref, t.name, types.VirtualMachinePowerStatePoweredOff, t.running)
}

// power brings a VM to the power state of its container: on when running, off otherwise.
func (r *Reconciler) power(ctx context.Context, ref types.ManagedObjectReference, name string, state types.VirtualMachinePowerState, running bool) error {
	vm := object.NewVirtualMachine(r.client, ref)
	vm.InventoryPath = name
	switch {
	case running && state != types.VirtualMachinePowerStatePoweredOn:
		r.progress("powering on container VM %q", name)
		task, err := vm.PowerOn(ctx)
		if err = vsphere.Wait(ctx, task, err); err != nil && !fault.Is(err, &types.InvalidPowerState{}) {
			return fmt.Errorf("powering on VM %q: %w", name, err)
		}
	case !running && state != types.VirtualMachinePowerStatePoweredOff:
		r.progress("powering off container VM %q", name)
		return vsphere.PowerOff(ctx, vm)
	}
	return nil
}

// remove powers a container VM off and destroys it; a VM already gone is fine.
func (r *Reconciler) remove(ctx context.Context, v *vsphere.VMRecord) error {
	r.progress("destroying container VM %q", v.Name())
	return vsphere.RemoveVM(ctx, r.client, v.Ref(), v.Name(), v.PowerState() != types.VirtualMachinePowerStatePoweredOff)
}

func (r *Reconciler) progress(format string, args ...any) {
	if r.opts.Progress != nil {
		r.opts.Progress(fmt.Sprintf(format, args...))
	}
}
