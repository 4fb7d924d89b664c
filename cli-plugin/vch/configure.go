package vch

import (
	"context"
	"fmt"
	"reflect"

	"github.com/vmware/govmomi/object"
	"github.com/vmware/govmomi/vim25/types"

	"github.com/docker-vic/docker-vic/api/vchdoc"
	"github.com/docker-vic/docker-vic/config"
	"github.com/docker-vic/docker-vic/vsphere"
)

// Configure applies change to the configuration of VCH name, validates the result like Create
// does, adds endpoint NICs for new container networks and stores the new revision, all in one
// reconfiguration of the endpoint VM. Nothing is changed when change or validation fails.
//
// Configure can add container networks and change their addressing, DNS and firewall level,
// and the VCH's DNS servers; any other change is refused.
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
	if v.Host() != nil {
		k.hosts = []types.ManagedObjectReference{*v.Host()}
	}
	if err := k.checkPortGroups(ctx, next, added); err != nil {
		return nil, err
	}

	next.Revision = old.Revision + 1
	extra, err := next.Encode()
	if err != nil {
		return nil, err
	}
	var newNICs []string
	have := map[string]bool{}
	for _, pg := range old.PortGroups() {
		have[pg] = true
	}
	for _, pg := range next.PortGroups() {
		if !have[pg] {
			newNICs = append(newNICs, pg)
		}
	}
	devices, err := nicSpecs(snap, newNICs, -100)
	if err != nil {
		return nil, fmt.Errorf("reconfiguring endpoint VM %q: %w", name, err)
	}
	spec := types.VirtualMachineConfigSpec{
		ChangeVersion: v.ChangeVersion(),
		ExtraConfig:   vsphere.OptionValues(extra),
		DeviceChange:  devices,
	}
	if len(newNICs) > 0 {
		m.progress("adding NICs on %s to endpoint VM %q and storing revision %d", quoteList(newNICs), name, next.Revision)
	} else {
		m.progress("storing revision %d of VCH %q", next.Revision, name)
	}
	vm := object.NewVirtualMachine(m.Client, v.Ref())
	task, err := vm.Reconfigure(ctx, spec)
	if err = vsphere.Wait(ctx, task, err); err != nil {
		return nil, fmt.Errorf("reconfiguring endpoint VM %q: %w", name, err)
	}
	return m.get(ctx, name)
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
		{"the public network", old.Public, next.Public},
		{"the client network", old.Client, next.Client},
		{"the management network", old.Management, next.Management},
		{"the bridge network", old.Bridge, next.Bridge},
		{"the TLS certificates", old.TLS, next.TLS},
	}
	for _, f := range fixed {
		if !reflect.DeepEqual(f.old, f.new) {
			return fmt.Errorf("configure cannot change %s of VCH %q: create the VCH again", f.what, old.Name)
		}
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
