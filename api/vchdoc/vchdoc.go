// Package vchdoc is the VCH document: a Virtual Container Host as found in vSphere, with its
// configuration and the endpoint VM's network cards. It is what `docker vic inspect NAME
// --format json` prints and what `vic-endpoint --config FILE` reads, so that an endpoint can
// run without vSphere. The CLI plugin writes it, the daemon reads it; both go through this
// package, and its round-trip test keeps them in step.
package vchdoc

import (
	"encoding/json"
	"fmt"
	"io"
	"net/netip"
	"os"

	"github.com/docker-vic/docker-vic/api/guestinfo"
	"github.com/docker-vic/docker-vic/config"
)

// StoredFile is the name of the VCH document vic-endpoint keeps in its state directory, the
// last configuration it read from vSphere: the appliance's vic-init looks for it to tell a
// later boot from the first.
const StoredFile = "vch.json"

// VCH is a Virtual Container Host as found in vSphere. ID, PowerState, NICs and PublicAddress
// are the first endpoint VM's, as they were before a VCH could have several; Endpoints lists
// every endpoint VM, the first included.
type VCH struct {
	// ID is the first endpoint VM's managed object ID ("vm-42").
	ID   string
	Name string
	// Path is the inventory path of the VCH's resource pool or vApp.
	Path string
	// PowerState is the first endpoint VM's power state: poweredOn, poweredOff or suspended.
	PowerState string
	Config     *config.Config
	// NICs are the first endpoint VM's network cards, in device order.
	NICs []NIC
	// PublicAddress is the first endpoint VM's address on the public network, when known.
	PublicAddress netip.Addr
	// Endpoints are the endpoint VMs found, in endpoint order (Config.Endpoints says how many
	// there should be). A document written before there could be several has none: its
	// only endpoint is described by ID, PowerState and NICs (see EndpointList).
	Endpoints []Endpoint `json:",omitempty"`
	// AntiAffinity is the DRS rule that keeps the endpoint VMs on different hosts, when the
	// VCH has one and the reading saw it (a scan of the datacenter does).
	AntiAffinity *Rule `json:",omitempty"`
	// Containers counts the VCH's container VMs, Running those powered on.
	Containers int
	Running    int
	// Appliance is what the endpoint appliance last reported of itself, when it boots one.
	Appliance *guestinfo.Status `json:",omitempty"`
	// GuestCopyRewritten says that the guest's copy of the configuration differs from the
	// VCH's (config.GuestCopyDiffers): something inside the endpoint VM rewrote it.
	GuestCopyRewritten bool `json:",omitempty"`
}

// Endpoint is one endpoint VM of a VCH.
type Endpoint struct {
	// Number is the endpoint's number, from 1: endpoint 1 is the VM named after the VCH.
	Number int
	// ID is the VM's managed object ID, Name its name.
	ID   string
	Name string
	// Host is the name of the ESXi host the VM runs on (its ID when the name was not read).
	Host       string `json:",omitempty"`
	PowerState string
	// NICs are the VM's network cards, in device order: one per port group of the VCH.
	NICs []NIC
	// PublicAddress is the VM's address on the public network, when known.
	PublicAddress netip.Addr
	// Appliance is what this endpoint's appliance last reported, when it boots one.
	Appliance *guestinfo.Status `json:",omitempty"`
}

// Rule is a DRS VM anti-affinity rule of a cluster.
type Rule struct {
	Name    string
	Cluster string
	// VMs are the names of the VMs the rule keeps apart.
	VMs       []string
	Enabled   bool
	Mandatory bool
}

// EndpointList returns the endpoint VMs of v: Endpoints, or for a document without them the
// one endpoint its top-level fields describe.
func (v *VCH) EndpointList() []Endpoint {
	if len(v.Endpoints) > 0 {
		return v.Endpoints
	}
	return []Endpoint{{Number: 1, ID: v.ID, Name: v.Name, PowerState: v.PowerState, NICs: v.NICs, PublicAddress: v.PublicAddress}}
}

// Endpoint returns endpoint VM i (from 1) of v, or nil when it was not found.
func (v *VCH) Endpoint(i int) *Endpoint {
	for j, e := range v.EndpointList() {
		if e.Number == i {
			return &v.EndpointList()[j]
		}
	}
	return nil
}

// NIC is one network card of an endpoint VM.
type NIC struct {
	PortGroup string
	MAC       string
	Roles     []config.Role
	// Aliases are the container networks carried by this NIC.
	Aliases []string
	// Address is the address the guest reports, or the static one configured.
	Address netip.Addr
}

// Write prints v as the document, indented for people.
func Write(w io.Writer, v *VCH) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "    ")
	return enc.Encode(v)
}

// Decode reads one document from r, as `docker vic inspect NAME --format json` printed it.
func Decode(r io.Reader) (*VCH, error) {
	v := &VCH{}
	if err := json.NewDecoder(r).Decode(v); err != nil {
		return nil, err
	}
	return v, nil
}

// Read decodes the document in file path. A file that is not one, or has no configuration,
// gives a sentence saying how to write one.
func Read(path string) (*VCH, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("reading the configuration file: %w", err)
	}
	defer f.Close()
	v, err := Decode(f)
	if err != nil {
		return nil, fmt.Errorf("configuration file %s is not the JSON of `docker vic inspect NAME --format json`: %w", path, err)
	}
	if v.Config == nil {
		return nil, fmt.Errorf("configuration file %s has no Config: write it with `docker vic inspect NAME --format json`", path)
	}
	return v, nil
}
