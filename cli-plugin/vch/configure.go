package vch

import (
	"context"
	"fmt"
	"maps"
	"reflect"

	"github.com/vmware/govmomi/object"
	"github.com/vmware/govmomi/vim25/types"

	"github.com/docker-vic/docker-vic/api/vchdoc"
	"github.com/docker-vic/docker-vic/config"
	"github.com/docker-vic/docker-vic/vsphere"
)

// Configure applies change to the configuration of VCH name, validates the result like Create
// does, adds NICs for new container networks to every endpoint VM and stores the new revision in
// each, one reconfiguration per endpoint VM (the first, which holds the VCH's configuration,
// last). A new count of endpoints creates endpoint VMs like the first, or removes the
// highest-numbered ones, and updates their anti-affinity rule. Nothing is changed when change or
// validation fails, and what was changed is undone when a later step fails; the endpoint VMs
// that scaling down removes go last.
//
// Configure can add container networks and change their addressing, DNS and firewall level,
// the VCH's DNS servers and its count of endpoints; any other change is refused.
func (m *Manager) Configure(ctx context.Context, name string, change func(*config.Config) error) (*vchdoc.VCH, error) {
	snap, err := m.Scan(ctx)
	if err != nil {
		return nil, err
	}
	v, err := snap.EndpointVM(name)
	if err != nil {
		return nil, err
	}
	old := v.Config()
	next := old.Clone()
	if err := change(next); err != nil {
		return nil, err
	}
	next.ApplyDefaults()
	if err := checkConfigurable(old, next); err != nil {
		return nil, err
	}
	if err := next.Validate(); err != nil {
		return nil, err
	}

	added := map[string]bool{}
	for _, n := range next.ContainerNetworks {
		if old.ContainerNetwork(n.PortGroup) == nil {
			added[n.PortGroup] = true
		}
	}
	k := &checker{m: m, snap: snap, vCenter: m.Client.IsVC()}
	for _, e := range snap.EndpointVMsOf(name) {
		if e.Host() != nil {
			k.hosts = append(k.hosts, *e.Host()) // every host that runs an endpoint VM
		}
	}
	if err := k.checkPortGroups(ctx, next, added); err != nil {
		return nil, err
	}
	s, err := m.planScale(ctx, snap, v, old, next)
	if err != nil {
		return nil, err
	}
	if len(s.add) > 0 {
		// The hosts of the endpoint VMs to come check every port group.
		k.hosts = nil
		for _, h := range s.hosts {
			if h != nil {
				k.hosts = append(k.hosts, *h)
			}
		}
		if err := k.checkPortGroups(ctx, next, nil); err != nil {
			return nil, err
		}
	}
	next.Revision = old.Revision + 1
	if err := m.apply(ctx, snap, s, old, next); err != nil {
		return nil, err
	}
	return m.get(ctx, name)
}

// apply stores next in the endpoint VMs that stay, with NICs on its new port groups, creates
// the endpoint VMs it adds and updates the anti-affinity rule, undoing all of it on a failure;
// then it removes the endpoint VMs that go.
func (m *Manager) apply(ctx context.Context, snap *vsphere.Inventory, s *scale, old, next *config.Config) (err error) {
	var undo []func(context.Context) error
	success := false
	defer m.rollback(ctx, &success, &undo, &err, "undoing the change")
	newNICs := newPortGroups(old, next)
	for i := len(s.stay) - 1; i >= 0; i-- {
		if err := m.reconfigureEndpoint(ctx, snap, s.stay[i], old, next, newNICs, &undo); err != nil {
			return err
		}
	}
	if err := m.scaleUp(ctx, snap, s, next, &undo); err != nil {
		return err
	}
	success = true
	return m.scaleDown(ctx, s, next)
}

// newPortGroups returns the port groups of next that old has none of, in NIC order.
func newPortGroups(old, next *config.Config) []string {
	have := map[string]bool{}
	for _, pg := range old.PortGroups() {
		have[pg] = true
	}
	var out []string
	for _, pg := range next.PortGroups() {
		if !have[pg] {
			out = append(out, pg)
		}
	}
	return out
}

// reconfigureEndpoint stores next in endpoint VM e and adds it NICs on newNICs, in one
// reconfiguration; its undo stores old again and removes the NICs it added.
func (m *Manager) reconfigureEndpoint(ctx context.Context, snap *vsphere.Inventory, e *vsphere.VMRecord, old, next *config.Config, newNICs []string, undo *[]func(context.Context) error) error {
	name, i := e.Name(), e.Endpoint()
	extra, err := next.Encode()
	if err != nil {
		return err
	}
	maps.Copy(extra, config.EndpointKeys(i))
	devices, err := nicSpecs(snap, newNICs, -100)
	if err != nil {
		return fmt.Errorf("reconfiguring endpoint VM %q: %w", name, err)
	}
	spec := types.VirtualMachineConfigSpec{
		ChangeVersion: e.ChangeVersion(),
		ExtraConfig:   vsphere.OptionValues(extra),
		DeviceChange:  devices,
	}
	if len(newNICs) > 0 {
		m.progress("adding NICs on %s to endpoint VM %q and storing revision %d", quoteList(newNICs), name, next.Revision)
	} else {
		m.progress("storing revision %d of VCH %q in endpoint VM %q", next.Revision, next.Name, name)
	}
	vm := object.NewVirtualMachine(m.Client, e.Ref())
	task, err := vm.Reconfigure(ctx, spec)
	if err = vsphere.Wait(ctx, task, err); err != nil {
		return fmt.Errorf("reconfiguring endpoint VM %q: %w", name, err)
	}
	*undo = append(*undo, func(ctx context.Context) error {
		m.progress("putting back revision %d in endpoint VM %q", old.Revision, name)
		return m.restoreEndpoint(ctx, vm, e, old)
	})
	return nil
}

// restoreEndpoint stores old in endpoint VM vm again and removes the NICs it has gained since
// the scan that read e.
func (m *Manager) restoreEndpoint(ctx context.Context, vm *object.VirtualMachine, e *vsphere.VMRecord, old *config.Config) error {
	extra, err := old.Encode()
	if err != nil {
		return err
	}
	maps.Copy(extra, config.EndpointKeys(e.Endpoint()))
	had := map[int32]bool{}
	for _, d := range e.Devices() {
		had[d.GetVirtualDevice().Key] = true
	}
	devices, err := vm.Device(ctx)
	if err != nil {
		return fmt.Errorf("reading the NICs of endpoint VM %q: %w", e.Name(), err)
	}
	spec := types.VirtualMachineConfigSpec{ExtraConfig: vsphere.OptionValues(extra)}
	for _, d := range devices.SelectByType((*types.VirtualEthernetCard)(nil)) {
		if !had[d.GetVirtualDevice().Key] {
			spec.DeviceChange = append(spec.DeviceChange, &types.VirtualDeviceConfigSpec{Operation: types.VirtualDeviceConfigSpecOperationRemove, Device: d})
		}
	}
	task, err := vm.Reconfigure(ctx, spec)
	if err = vsphere.Wait(ctx, task, err); err != nil {
		return fmt.Errorf("restoring endpoint VM %q: %w", e.Name(), err)
	}
	return nil
}

// checkConfigurable refuses changes configure cannot apply without recreating the VCH.
func checkConfigurable(old, next *config.Config) error {
	fixed := []struct {
		what     string
		old, new any
	}{
		{"the name", old.Name, next.Name},
		{"the schema version", old.Version, next.Version},
		{"the vSphere server", old.Server, next.Server},
		{"the placement", old.Placement, next.Placement},
		{"the public network", sansAddresses(old.Public), sansAddresses(next.Public)},
		{"the client network", sansAddresses(old.Client), sansAddresses(next.Client)},
		{"the management network", sansAddresses(old.Management), sansAddresses(next.Management)},
		{"the bridge network", old.Bridge, next.Bridge},
		{"the TLS certificates", old.TLS, next.TLS},
	}
	for _, f := range fixed {
		if !reflect.DeepEqual(f.old, f.new) {
			return fmt.Errorf("configure cannot change %s of VCH %q: create the VCH again", f.what, old.Name)
		}
	}
	if err := checkAddressesKept(old, next); err != nil {
		return err
	}
	for _, n := range old.ContainerNetworks {
		if next.ContainerNetwork(n.PortGroup) == nil {
			return &config.Error{Flag: "--container-network", Value: n.PortGroup, Rule: fmt.Sprintf("configure cannot remove a container network of VCH %q", old.Name)}
		}
	}
	for _, n := range old.ContainerNetworks {
		if nn := next.ContainerNetwork(n.PortGroup); nn.Alias != n.Alias {
			return &config.Error{Flag: "--container-network", Value: n.PortGroup + ":" + nn.Alias, Rule: fmt.Sprintf("configure cannot rename container network %q", n.Alias)}
		}
	}
	return nil
}
