// Package cvm keeps the container VMs of a VCH in vSphere: one small VM per container on a vic
// network, in the VCH's resource pool (or vApp) and VM folder, with one NIC per vic network
// carrying the container's MAC, extraConfig that records the container, and a power state that
// follows it. Reconciler converges vSphere to a desired list of containers; Syncer runs it on a
// goroutine of its own and retries while vCenter is unreachable, so Docker never waits on it.
//
// The NICs of a container VM are disconnected, now and at power-on, and the guest cannot
// connect them. The container's frames leave through the endpoint VM's NIC (the container is a
// macvlan there), not through its VM, which has no guest. A connected card would claim the
// container's MAC on the port group for a VM that never answers: the switch would send the
// container's traffic to it, vSphere would raise MAC conflicts, and SpoofGuard could block the
// endpoint's port. A disconnected card still shows its port group and MAC to vSphere and NSX
// tools. Reconcile disconnects any card it finds connected.
package cvm

import (
	"net/netip"

	"github.com/vmware/govmomi/vim25"
	"github.com/vmware/govmomi/vim25/types"

	"github.com/docker-vic/docker-vic/config"
	"github.com/docker-vic/docker-vic/vsphere"
)

// Keys of a container VM's extraConfig besides config.KeyContainerVCH and config.KeyContainerID.
// Every key under KeyContainerPrefix belongs to this package: others are removed on reconfigure.
const (
	KeyContainerPrefix = config.KeyPrefix + "container."
	// KeyContainerName holds the Docker container name.
	KeyContainerName = KeyContainerPrefix + "name"
	// KeyContainerNetworks holds the container's vic networks as JSON: a list of objects with
	// network, portGroup, mac and address (CIDR, empty when not known, as on DHCP networks).
	KeyContainerNetworks = KeyContainerPrefix + "networks"
	// KeyContainerPorts holds the published ports as JSON, a list of strings such as
	// "80/tcp -> 198.51.100.2:8080".
	KeyContainerPorts = KeyContainerPrefix + "ports"
)

// Shape of a container VM: a shell with no disk, whose only purpose is to show the container to
// vSphere and NSX tools.
const (
	CPUs     = 1
	MemoryMB = 64
	GuestID  = string(types.VirtualMachineGuestOsIdentifierOtherLinux64Guest)
	// MaxNameLength is the longest VM name vSphere accepts.
	MaxNameLength = 80
)

// Container is the desired state of one container.
type Container struct {
	// ID is the full Docker container ID.
	ID string
	// Name is the Docker container name, with or without its leading "/".
	Name    string
	Running bool
	// NICs are the container's interfaces, one per vic network, in a stable order.
	NICs []NIC
	// Ports are the published ports as `docker vic port` shows them ("80/tcp -> 198.51.100.2:8080").
	Ports []string
}

// NIC is one interface of a container on a vic network.
type NIC struct {
	// Network is the Docker network name.
	Network string `json:"network"`
	// PortGroup carries the network: the bridge port group for bridge networks, the container
	// network's own port group otherwise.
	PortGroup string `json:"portGroup"`
	// MAC is the MAC address of the container's interface.
	MAC string `json:"mac"`
	// Address is the interface's address; zero when unknown (DHCP).
	Address netip.Prefix `json:"address"`
}

// VM is a container VM as found in vSphere.
type VM struct {
	// Ref is the VM's managed object ID ("vm-42").
	Ref         string
	Name        string
	ContainerID string
	// PowerState is poweredOn, poweredOff or suspended.
	PowerState string
	// NICs are the VM's cards in device order: PortGroup and MAC from the hardware, Network and
	// Address from the recorded extraConfig.
	NICs  []NIC
	Ports []string
	// ExtraConfig holds the VM's extraConfig entries under config.KeyPrefix.
	ExtraConfig map[string]string
}

// Options say which VCH the container VMs belong to and where they go.
type Options struct {
	// VCH is the VCH's name, recorded under config.KeyContainerVCH.
	VCH string
	// Endpoint is the name of the endpoint VM whose containers these are, recorded under
	// config.KeyContainerEndpoint: each endpoint VM of a VCH of several keeps the VMs of the
	// containers it runs, and leaves the others alone. Empty means the VCH's first, named VCH.
	Endpoint string
	// Datacenter is the datacenter's name or path; empty means the only one.
	Datacenter string
	// Pool is the resource pool or vApp of the container VMs, Folder their VM folder and
	// Datastore the datastore of their files. Each one left empty is taken from the endpoint VM
	// (the VM named VCH that holds the VCH configuration).
	Pool, Folder *types.ManagedObjectReference
	Datastore    string
	// Progress, when set, receives one line per change made in vSphere.
	Progress func(step string)
}

// Reconciler converges the container VMs of one VCH to a desired list of containers. It keeps
// only where the VCH is between calls (see scan), and two calls must not run at once: both
// would create the same missing VM. Syncer serializes them.
type Reconciler struct {
	client *vim25.Client
	opts   Options
	// scope is where the VCH's VMs are, once a scan found its endpoint VM.
	scope *vsphere.Scope
}
