package vch

import (
	"context"
	"fmt"
	"net/netip"
	"path"
	"reflect"
	"strconv"

	"github.com/vmware/govmomi/object"
	"github.com/vmware/govmomi/vim25/types"

	"github.com/docker-vic/docker-vic/config"
	"github.com/docker-vic/docker-vic/vsphere"
)

// scale is what configure does to the endpoint VMs of a VCH: the ones that stay (which store
// the new configuration), the numbers of the ones it creates and the ones it removes.
type scale struct {
	name string
	// stay are the endpoint VMs that keep running, in endpoint order; goes those removed.
	stay, goes []*vsphere.VMRecord
	// add are the numbers of the endpoint VMs to create, and hosts where each goes.
	add   []int
	hosts []*types.ManagedObjectReference
	// cluster owns the VCH's pool, or is nil on a standalone host.
	cluster *types.ManagedObjectReference
	// folder and pool are where endpoint VM 1 lives, and new endpoint VMs go.
	folder, pool types.ManagedObjectReference
}

// planScale works out which endpoint VMs of VCH v stay, come and go for the count of next, and
// checks that they can run on different hosts. Endpoint VMs numbered beyond the count (left by
// a configure cut short) go too, and missing ones below it come back.
func (m *Manager) planScale(ctx context.Context, snap *vsphere.Inventory, v *vsphere.VMRecord, old, next *config.Config) (*scale, error) {
	n := next.EndpointCount()
	s := &scale{name: v.Name()}
	have := map[int]bool{}
	for _, e := range snap.EndpointVMsOf(v.Name()) {
		if i := e.Endpoint(); i <= n && !have[i] {
			have[i] = true
			s.stay = append(s.stay, e)
		} else {
			s.goes = append([]*vsphere.VMRecord{e}, s.goes...) // the highest number first
		}
	}
	for i := 1; i <= n; i++ {
		if !have[i] {
			s.add = append(s.add, i)
		}
	}
	if old.Placement.ApplianceISO != "" && (n > 1) != (old.EndpointCount() > 1) {
		return nil, &config.Error{Flag: "--endpoints", Value: strconv.Itoa(n), Rule: fmt.Sprintf("VCH %q boots the appliance as %s, and stays so: %s; create another VCH instead", v.Name(), kindOf(old), whyKind(old))}
	}
	if n == 1 && len(s.add) == 0 && len(s.goes) == 0 && old.EndpointCount() == 1 {
		return s, nil // a VCH of one endpoint, and it stays so: no rule to read
	}
	if v.Pool() == nil || v.Parent() == nil {
		return nil, fmt.Errorf("endpoint VM %q has no resource pool or folder", v.Name())
	}
	s.pool, s.folder = *v.Pool(), *v.Parent()
	cluster, hosts, err := m.clusterOf(ctx, s.pool)
	if err != nil {
		return nil, err
	}
	s.cluster = cluster
	if len(s.add) == 0 {
		return s, nil
	}
	usable, err := m.checkEndpointHosts(ctx, n, next.PortGroups(), old.Placement.ComputeResource, cluster, hosts)
	if err != nil {
		return nil, err
	}
	busy := map[types.ManagedObjectReference]bool{}
	for _, e := range s.stay {
		if e.Host() != nil {
			busy[*e.Host()] = true
		}
	}
	s.hosts = hostsFor(usable, busy, len(s.add))
	return s, nil
}

// whyKind says why a VCH of cfg stays what it is.
func whyKind(cfg *config.Config) string {
	if cfg.EndpointCount() > 1 {
		return "its vic networks are of swarm scope, which a single Docker host cannot serve"
	}
	return "its vic networks are local to its Docker host, which a swarm cannot serve"
}

// kindOf names what a VCH of cfg is to its Docker users: one Docker host, or a swarm.
func kindOf(cfg *config.Config) string {
	if cfg.EndpointCount() > 1 {
		return "a swarm of endpoints"
	}
	return "a single Docker host"
}

// scaleUp creates the endpoint VMs s adds, like the first and with next stored, points the
// anti-affinity rule at every endpoint VM that stays or comes, and powers the new ones on. For
// the appliance, each gets its folder, serial log and data disk, the guest's keys and the
// port groups of its cards, as at create.
func (m *Manager) scaleUp(ctx context.Context, snap *vsphere.Inventory, s *scale, next *config.Config, undo *[]func(context.Context) error) error {
	p := &createPlan{snap: snap, target: &target{datastore: next.Placement.ImageStore}}
	if next.Placement.ApplianceISO != "" && len(s.add) > 0 {
		p.app = ApplianceOf(next)
		if err := m.makeEndpointFolders(ctx, next, s.add, undo); err != nil {
			return err
		}
	}
	folder := object.NewFolder(m.Client, s.folder)
	pool := object.NewResourcePool(m.Client, s.pool)
	var vms []*object.VirtualMachine
	var names []string
	for j, i := range s.add {
		spec, err := endpointVMSpec(next, p, i)
		if err != nil {
			return err
		}
		vm, err := m.createVM(ctx, spec, folder, pool, s.hosts[j], undo)
		if err != nil {
			return err
		}
		vms = append(vms, vm)
		names = append(names, spec.Name)
	}
	if s.cluster != nil && (len(s.add) > 0 || len(s.goes) > 0 || next.EndpointCount() > 1) {
		refs := make([]types.ManagedObjectReference, 0, len(s.stay)+len(vms))
		for _, e := range s.stay {
			refs = append(refs, e.Ref())
		}
		refs = append(refs, refsOf(vms)...)
		if err := m.setEndpointRule(ctx, *s.cluster, s.name, refs, undo); err != nil {
			return err
		}
	}
	if p.app != nil {
		for j, vm := range vms {
			if err := m.writeNICs(ctx, s.name, []*object.VirtualMachine{vm}, s.add[j]); err != nil {
				return err
			}
		}
	}
	return m.powerOn(ctx, vms, names)
}

// scaleDown removes the endpoint VMs s lets go, the highest-numbered first. It comes after
// every other change and cannot be undone: a failure says to run configure again, which
// removes what is left.
func (m *Manager) scaleDown(ctx context.Context, s *scale, cfg *config.Config) error {
	for _, e := range s.goes {
		m.progress("removing endpoint VM %q", e.Name())
		if err := vsphere.RemoveVM(ctx, m.Client, e.Ref(), e.Name(), e.PowerState() != types.VirtualMachinePowerStatePoweredOff); err != nil {
			return fmt.Errorf("VCH %q is configured, but removing its endpoint VM %q failed: %w; run configure again to remove it", s.name, e.Name(), err)
		}
		if cfg.Placement.ApplianceISO != "" && e.Endpoint() > 1 {
			// Its serial log stays when vSphere destroys the VM: the VM's folder goes with it.
			folder := DatastoreFolder(cfg.Placement.ImageStore, path.Join(cfg.Name, e.Name()))
			if err := m.removeFolder(ctx, folder); err != nil {
				return fmt.Errorf("VCH %q is configured, but %w", s.name, err)
			}
		}
	}
	return nil
}

// sansAddresses is a role network without its static addresses, which configure compares
// endpoint by endpoint (checkAddressesKept).
func sansAddresses(r config.RoleNetwork) config.RoleNetwork {
	r.IP, r.MoreIPs = netip.Prefix{}, nil
	return r
}

// checkAddressesKept refuses a change of the static addresses of the endpoints that stay, and
// a static role that gains or loses its addresses.
func checkAddressesKept(old, next *config.Config) error {
	for _, r := range []struct {
		name      string
		old, next config.RoleNetwork
	}{{"public", old.Public, next.Public}, {"client", old.Client, next.Client}, {"management", old.Management, next.Management}} {
		if r.old.Static() != r.next.Static() {
			return fmt.Errorf("configure cannot change the %s network of VCH %q between DHCP and static addresses: create the VCH again", r.name, old.Name)
		}
		for i := 1; i <= min(old.EndpointCount(), next.EndpointCount()); i++ {
			if a, b := r.old.AddressOf(i), r.next.AddressOf(i); a != b {
				return &config.Error{Flag: "--" + r.name + "-network-ip", Value: b.String(),
					Rule: fmt.Sprintf("configure cannot change the %s address %s of endpoint %d of VCH %q: list the addresses of the endpoints that stay first, in endpoint order", r.name, a, i, old.Name)}
			}
		}
	}
	return nil
}

// sameVMs reports whether two lists of VMs hold the same VMs, in any order.
func sameVMs(a, b []types.ManagedObjectReference) bool {
	set := func(refs []types.ManagedObjectReference) map[types.ManagedObjectReference]bool {
		out := map[types.ManagedObjectReference]bool{}
		for _, r := range refs {
			out[r] = true
		}
		return out
	}
	return len(a) == len(b) && reflect.DeepEqual(set(a), set(b))
}
