package vch

import (
	"context"
	"errors"
	"fmt"
	"path"

	"github.com/vmware/govmomi/object"
	"github.com/vmware/govmomi/vim25/mo"
	"github.com/vmware/govmomi/vim25/types"

	"github.com/docker-vic/docker-vic/vsphere"
)

// ErrContainersRunning says rm was refused, without --force, while container VMs are powered on.
var ErrContainersRunning = errors.New("container VMs are powered on")

// ContainersRunningError is returned by Remove without force while container VMs of the VCH
// are powered on. It wraps ErrContainersRunning.
type ContainersRunningError struct {
	VCH string
	// Names are the powered-on container VMs, sorted.
	Names []string
}

func (e *ContainersRunningError) Error() string {
	return fmt.Sprintf("VCH %q has powered-on container VMs %s: stop them or remove with --force", e.VCH, quoteList(e.Names))
}

// Unwrap makes errors.Is(err, ErrContainersRunning) hold.
func (e *ContainersRunningError) Unwrap() error { return ErrContainersRunning }

// Remove removes VCH name: its container VMs, endpoint VMs and their anti-affinity rule,
// folder and resource pool. It refuses
// with an error wrapping ErrContainersRunning while container VMs are powered on, unless force.
// Parts already gone are skipped, so a Remove cut short can run again; when endpoint VM 1 is
// gone, the VCH's other endpoint VMs still say what to remove.
func (m *Manager) Remove(ctx context.Context, name string, force bool) error {
	snap, err := m.Scan(ctx)
	if err != nil {
		return err
	}
	endpoints := snap.EndpointVMsOf(name)
	v, err := snap.EndpointVM(name)
	if errors.Is(err, vsphere.ErrNotFound) && len(endpoints) > 0 {
		v, err = endpoints[0], nil
		m.progress("endpoint VM %q is gone: removing VCH %q by its endpoint VM %q", name, name, v.Name())
	}
	if err != nil {
		return err
	}
	containers := snap.ContainerVMs(name)
	var running []string
	for _, c := range containers {
		if c.PowerState() == types.VirtualMachinePowerStatePoweredOn {
			running = append(running, c.Name())
		}
	}
	if len(running) > 0 && !force {
		return &ContainersRunningError{VCH: name, Names: running}
	}

	// Read the folder and pool before the VMs go: only the VCH's own are removed.
	folder, pool, err := m.ownContainers(ctx, name, v)
	if err != nil {
		return err
	}

	for _, c := range containers {
		m.progress("removing container VM %q", c.Name())
		if err := vsphere.RemoveVM(ctx, m.Client, c.Ref(), c.Name(), string(c.PowerState()) != "poweredOff"); err != nil {
			return fmt.Errorf("removing VCH %q: %w", name, err)
		}
	}
	if err := m.removeEndpoints(ctx, name, v, endpoints); err != nil {
		return fmt.Errorf("removing VCH %q: %w", name, err)
	}
	if folder != nil {
		if err := m.removeFolderIfEmpty(ctx, name, *folder); err != nil {
			return err
		}
	}
	if pool != nil {
		m.progress("removing %s %q", poolKind(*pool), name)
		if err := vsphere.Destroy(ctx, m.Client, *pool); err != nil {
			return fmt.Errorf("removing %s %q: %w", poolKind(*pool), name, err)
		}
	}
	if dsFolder := ownDatastoreFolder(name, v); dsFolder != "" {
		if err := m.removeFolder(ctx, dsFolder); err != nil {
			return fmt.Errorf("removing VCH %q: %w", name, err)
		}
	}
	return nil
}

// removeEndpoints removes the anti-affinity rule of VCH name of several endpoints, then its
// endpoint VMs, the last first: v, the first found, goes last, so that a Remove cut short still
// finds the VCH.
func (m *Manager) removeEndpoints(ctx context.Context, name string, v *vsphere.VMRecord, endpoints []*vsphere.VMRecord) error {
	several := len(endpoints) > 1 || v.Endpoint() > 1 || (v.Config() != nil && v.Config().EndpointCount() > 1)
	if several && v.Pool() != nil {
		cluster, _, err := m.clusterOf(ctx, *v.Pool())
		if err != nil {
			return err
		}
		if cluster != nil {
			if err := m.removeEndpointRule(ctx, *cluster, name); err != nil {
				return err
			}
		}
	}
	for i := len(endpoints) - 1; i >= 0; i-- {
		e := endpoints[i]
		m.progress("removing endpoint VM %q", e.Name())
		if err := vsphere.RemoveVM(ctx, m.Client, e.Ref(), e.Name(), e.PowerState() != types.VirtualMachinePowerStatePoweredOff); err != nil {
			return err
		}
	}
	return nil
}

// ownDatastoreFolder is the datastore folder of VCH name when endpoint VM v's files are in it
// (endpoint 1's directly, the others' in a folder of their own there): an appliance VCH keeps
// its boot image, serial logs and data disks there, and destroying the VMs leaves them behind.
func ownDatastoreFolder(name string, v *vsphere.VMRecord) string {
	var p object.DatastorePath
	if !p.FromString(v.VMPath()) {
		return ""
	}
	dir := path.Dir(p.Path)
	if dir != name && path.Dir(dir) != name {
		return ""
	}
	return DatastoreFolder(p.Datastore, name)
}

// ownContainers returns the VM folder and pool (or vApp) of endpoint VM v when they carry the
// name of its VCH, name, which means Create made them.
func (m *Manager) ownContainers(ctx context.Context, name string, v *vsphere.VMRecord) (folder, pool *types.ManagedObjectReference, err error) {
	var refs []types.ManagedObjectReference
	if v.Parent() != nil && v.Parent().Type == "Folder" {
		refs = append(refs, *v.Parent())
	}
	if v.Pool() != nil {
		refs = append(refs, *v.Pool())
	}
	byRef, err := m.entityNames(ctx, refs)
	if err != nil {
		return nil, nil, fmt.Errorf("removing VCH %q: %w", name, err)
	}
	if v.Parent() != nil && byRef[*v.Parent()] == name {
		folder = v.Parent()
	}
	if v.Pool() != nil && byRef[*v.Pool()] == name {
		pool = v.Pool()
	}
	return folder, pool, nil
}

// removeFolderIfEmpty destroys the VCH's folder unless something else lives in it: destroying a
// folder destroys its contents.
func (m *Manager) removeFolderIfEmpty(ctx context.Context, name string, ref types.ManagedObjectReference) error {
	var f mo.Folder
	if err := newCommon(m, ref).Properties(ctx, ref, []string{"childEntity"}, &f); err != nil {
		if vsphere.IsNotFound(err) {
			return nil
		}
		return fmt.Errorf("reading VM folder %q: %w", name, err)
	}
	if len(f.ChildEntity) > 0 {
		m.progress("keeping VM folder %q: it holds %d other objects", name, len(f.ChildEntity))
		return nil
	}
	m.progress("removing VM folder %q", name)
	if err := vsphere.Destroy(ctx, m.Client, ref); err != nil {
		return fmt.Errorf("removing VM folder %q: %w", name, err)
	}
	return nil
}
