package vsphere

import (
	"github.com/vmware/govmomi/object"
	"github.com/vmware/govmomi/vim25/types"

	"github.com/docker-vic/docker-vic/config"
)

// VMRecord is one VM of a datacenter as a scan saw it. It is read-only: the maps and lists its
// methods return belong to the Inventory and must not be modified.
type VMRecord struct {
	ref        types.ManagedObjectReference
	name       string
	extra      map[string]string
	powerState string
	pool       *types.ManagedObjectReference
	parent     *types.ManagedObjectReference
	vmPath     string
	guestNet   []types.GuestNicInfo
	devices    object.VirtualDeviceList
	host       *types.ManagedObjectReference
	// changeVersion makes a reconfiguration fail when someone else changed the VM meanwhile.
	changeVersion string
	// cfg is the VCH configuration when the VM is a VCH's first endpoint VM.
	cfg *config.Config
	// endpointOf names the VCH when the VM is one of its endpoint VMs 2 to N, and endpoint
	// is then its number.
	endpointOf string
	endpoint   int
	// decodeErr is set when the VM carries a VCH configuration that cannot be read.
	decodeErr error
}

// Ref returns the VM's managed object reference.
func (v *VMRecord) Ref() types.ManagedObjectReference { return v.ref }

// Name returns the VM's name.
func (v *VMRecord) Name() string { return v.name }

// ExtraConfig returns the VM's extraConfig entries that hold strings, by key.
func (v *VMRecord) ExtraConfig() map[string]string { return v.extra }

// PowerState returns the VM's power state.
func (v *VMRecord) PowerState() types.VirtualMachinePowerState {
	return types.VirtualMachinePowerState(v.powerState)
}

// Pool returns the VM's resource pool or vApp, or nil (a template has none).
func (v *VMRecord) Pool() *types.ManagedObjectReference { return v.pool }

// Parent returns the VM's parent: its VM folder, or its vApp.
func (v *VMRecord) Parent() *types.ManagedObjectReference { return v.parent }

// VMPath returns the datastore path of the VM's configuration file ("[ds] vm/vm.vmx").
func (v *VMRecord) VMPath() string { return v.vmPath }

// Devices returns the VM's virtual hardware.
func (v *VMRecord) Devices() object.VirtualDeviceList { return v.devices }

// ChangeVersion returns the version of the VM's configuration that was read: a reconfigure
// spec carrying it fails when someone changed the VM since.
func (v *VMRecord) ChangeVersion() string { return v.changeVersion }

// Config returns the VCH configuration when the VM is the endpoint VM of a VCH, or nil. A VM
// whose configuration cannot be read has none.
func (v *VMRecord) Config() *config.Config { return v.cfg }

// Endpoint returns the endpoint number of the VM when it is an endpoint VM of a VCH (1 for the
// VM named after the VCH), or 0.
func (v *VMRecord) Endpoint() int {
	switch {
	case v.cfg != nil:
		return 1
	case v.endpointOf != "":
		return v.endpoint
	}
	return 0
}

// Host returns the host the VM runs on, or nil.
func (v *VMRecord) Host() *types.ManagedObjectReference { return v.host }

// ContainerOf returns the name of the VCH the VM is a container VM of, or "".
func (v *VMRecord) ContainerOf() string { return v.extra[config.KeyContainerVCH] }

// ContainerEndpoint returns the name of the endpoint VM that runs the container of a container
// VM: the one it records, else the VCH's first, named after the VCH. It is "" for other VMs.
func (v *VMRecord) ContainerEndpoint() string {
	if e := v.extra[config.KeyContainerEndpoint]; e != "" {
		return e
	}
	return v.ContainerOf()
}
