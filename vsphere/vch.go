package vsphere

import (
	"cmp"
	"context"

	"net/netip"
	"path"
	"sort"
	"strings"

	"github.com/vmware/govmomi/vim25"

	"github.com/vmware/govmomi/vim25/types"

	"github.com/docker-vic/docker-vic/api/guestinfo"
	"github.com/docker-vic/docker-vic/api/vchdoc"
	"github.com/docker-vic/docker-vic/config"
)

// ContainerVM is a container VM of a VCH.
type ContainerVM struct {
	ID          string
	Name        string
	ContainerID string
	PowerState  string
	// Endpoint is the name of the endpoint VM that runs the container.
	Endpoint string
	// NICs are its network cards, in device order: one per vic network of the container.
	NICs []ContainerNIC
}

// ContainerNIC is a network card of a container VM: the container's interface on a vic network.
type ContainerNIC struct {
	PortGroup string
	MAC       string
}

// VCHs describes every VCH of the inventory, sorted by name.
func (s *Inventory) VCHs() []*vchdoc.VCH {
	var out []*vchdoc.VCH
	for _, v := range s.EndpointVMs() {
		out = append(out, s.describe(v))
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// VCH describes the VCH called name, or returns an error wrapping ErrNotFound.
func (s *Inventory) VCH(name string) (*vchdoc.VCH, error) {
	v, err := s.EndpointVM(name)
	if err != nil {
		return nil, err
	}
	return s.describe(v), nil
}

// ContainerVMsOf describes the container VMs of VCH name, sorted by name.
func (s *Inventory) ContainerVMsOf(name string) ([]ContainerVM, error) {
	v, err := s.EndpointVM(name)
	if err != nil {
		return nil, err
	}
	var out []ContainerVM
	for _, c := range s.ContainerVMs(name) {
		cvm := ContainerVM{
			ID:          c.ref.Value,
			Name:        c.name,
			ContainerID: c.extra[config.KeyContainerID],
			PowerState:  c.powerState,
			Endpoint:    c.ContainerEndpoint(),
		}
		for _, d := range c.devices.SelectByType((*types.VirtualEthernetCard)(nil)) {
			card := d.(types.BaseVirtualEthernetCard).GetVirtualEthernetCard()
			cvm.NICs = append(cvm.NICs, ContainerNIC{
				PortGroup: s.nets.nameOfBacking(card.Backing, v.cfg.PortGroups()),
				MAC:       card.MacAddress,
			})
		}
		out = append(out, cvm)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// describe is the VCH document of the VCH whose endpoint VM is v.
func (s *Inventory) describe(v *VMRecord) *vchdoc.VCH {
	cfg := v.cfg
	h := &vchdoc.VCH{
		ID:         v.ref.Value,
		Name:       v.name,
		Path:       PoolPath(cfg.Placement.ComputeResource, cfg.Name),
		PowerState: v.powerState,
		Config:     cfg,
	}
	for _, e := range s.EndpointVMsOf(v.name) {
		h.Endpoints = append(h.Endpoints, s.describeEndpoint(cfg, e))
	}
	h.NICs, h.PublicAddress = h.Endpoints[0].NICs, h.Endpoints[0].PublicAddress
	h.AntiAffinity = s.endpointRule(v.name)
	h.GuestCopyRewritten = config.GuestCopyDiffers(v.extra)
	h.Appliance = applianceStatus(v)
	for _, c := range s.ContainerVMs(v.name) {
		h.Containers++
		if c.powerState == string(types.VirtualMachinePowerStatePoweredOn) {
			h.Running++
		}
	}
	return h
}

// describeEndpoint describes endpoint VM v of the VCH configured by cfg.
func (s *Inventory) describeEndpoint(cfg *config.Config, v *VMRecord) vchdoc.Endpoint {
	i := v.Endpoint()
	e := vchdoc.Endpoint{
		Number:     i,
		ID:         v.ref.Value,
		Name:       v.name,
		PowerState: v.powerState,
		NICs:       s.endpointNICs(cfg, v, i),
	}
	if v.host != nil {
		e.Host = cmp.Or(s.hosts[*v.host], v.host.Value)
	}
	e.PublicAddress = publicAddress(cfg, e.NICs, i)
	e.Appliance = applianceStatus(v)
	return e
}

// applianceStatus is what the appliance of endpoint VM v last reported, or nil when v boots
// none.
func applianceStatus(v *VMRecord) *guestinfo.Status {
	raw, ok := v.extra[guestinfo.KeyStatus]
	if !ok {
		return nil
	}
	st, err := guestinfo.DecodeStatus(raw)
	if guestinfo.IsUnset(raw) || err != nil {
		st = guestinfo.Status{} // not booted yet, or nothing readable
	}
	return &st
}

// PoolPath returns the inventory path of the pool of VCH name under a stored compute resource:
// a pool path holds a "Resources" element; a cluster or host keeps its pools under "Resources".
func PoolPath(computeResource, name string) string {
	if computeResource == "" {
		return ""
	}
	if IsPoolPath(computeResource) {
		return path.Join(computeResource, name)
	}
	return path.Join(computeResource, "Resources", name)
}

// IsPoolPath reports whether an inventory path names a resource pool (it goes through a
// cluster's or host's "Resources").
func IsPoolPath(p string) bool {
	for _, elem := range strings.Split(p, "/") {
		if elem == "Resources" {
			return true
		}
	}
	return false
}

// publicAddress is endpoint i's static public address, else the one the guest reports on the
// public NIC.
func publicAddress(cfg *config.Config, nics []vchdoc.NIC, i int) netip.Addr {
	if a := cfg.Public.AddressOf(i); a.IsValid() {
		return a.Addr()
	}
	for _, n := range nics {
		if n.PortGroup == cfg.Public.PortGroup {
			return n.Address
		}
	}
	return netip.Addr{}
}

// ReadVCH scans datacenter (a name or path; empty means the only one) and describes VCH name,
// or returns an error wrapping ErrNotFound.
func ReadVCH(ctx context.Context, c *vim25.Client, datacenter, name string) (*vchdoc.VCH, error) {
	inv, err := ScanInventory(ctx, c, datacenter)
	if err != nil {
		return nil, err
	}
	return inv.VCH(name)
}
