// Package vch manages the lifecycle of Virtual Container Hosts in vSphere: it validates a VCH
// configuration against the inventory, creates the resource pool (or vApp), folder and endpoint
// VM, finds, reconfigures and removes them. It takes a *vim25.Client and knows nothing of cobra.
// ScanInventory and OptionValues let the endpoint read and write VMs the same way.
package vch

import (
	"net/netip"

	"github.com/vmware/govmomi/vim25"

	"github.com/docker-vic/docker-vic/config"
)

// Manager works on the VCHs of one datacenter.
type Manager struct {
	Client *vim25.Client
	// Datacenter is the datacenter's name or path; empty means the only one.
	Datacenter string
	// Progress, when set, receives one line per step of a long operation ("creating resource pool \"vch1\"").
	Progress func(step string)
}

// VCH is a Virtual Container Host as found in vSphere.
type VCH struct {
	// ID is the endpoint VM's managed object ID ("vm-42").
	ID   string
	Name string
	// Path is the inventory path of the VCH's resource pool or vApp.
	Path string
	// PowerState is the endpoint VM's power state: poweredOn, poweredOff or suspended.
	PowerState string
	Config     *config.Config
	// NICs are the endpoint VM's network cards, in device order.
	NICs []NIC
	// PublicAddress is the endpoint's address on the public network, when known.
	PublicAddress netip.Addr
	// Containers counts the VCH's container VMs, Running those powered on.
	Containers int
	Running    int
}

// NIC is one network card of the endpoint VM.
type NIC struct {
	PortGroup string
	MAC       string
	Roles     []config.Role
	// Aliases are the container networks carried by this NIC.
	Aliases []string
	// Address is the address the guest reports, or the static one configured.
	Address netip.Addr
}

// ContainerVM is a container VM of a VCH.
type ContainerVM struct {
	ID          string
	Name        string
	ContainerID string
	PowerState  string
	// NICs are its network cards, in device order: one per vic network of the container.
	NICs []ContainerNIC
}

// ContainerNIC is a network card of a container VM: the container's interface on a vic network.
type ContainerNIC struct {
	PortGroup string
	MAC       string
}
