package vch

import (
	"context"
	"net/netip"
	"sort"

	"github.com/vmware/govmomi/vim25/types"

	"github.com/docker-vic/docker-vic/config"
)

// List returns every VCH of the datacenter in one retrieval, sorted by name.
func (m *Manager) List(ctx context.Context) ([]*VCH, error) {
	snap, err := m.scan(ctx)
	if err != nil {
		return nil, err
	}
	var out []*VCH
	for _, v := range snap.vchs() {
		out = append(out, snap.toVCH(v))
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// Get returns the VCH called name, or an error wrapping ErrNotFound.
func (m *Manager) Get(ctx context.Context, name string) (*VCH, error) {
	snap, err := m.scan(ctx)
	if err != nil {
		return nil, err
	}
	v, err := snap.vch(name)
	if err != nil {
		return nil, err
	}
	return snap.toVCH(v), nil
}

// Containers returns the container VMs of VCH name, sorted by name.
func (m *Manager) Containers(ctx context.Context, name string) ([]ContainerVM, error) {
	snap, err := m.scan(ctx)
	if err != nil {
		return nil, err
	}
	v, err := snap.vch(name)
	if err != nil {
		return nil, err
	}
	var out []ContainerVM
	for _, c := range snap.containers(name) {
		cvm := ContainerVM{
			ID:          c.ref.Value,
			Name:        c.name,
			ContainerID: c.extra[config.KeyContainerID],
			PowerState:  c.powerState,
		}
		for _, d := range c.devices.SelectByType((*types.VirtualEthernetCard)(nil)) {
			card := d.(types.BaseVirtualEthernetCard).GetVirtualEthernetCard()
			cvm.NICs = append(cvm.NICs, ContainerNIC{
				PortGroup: snap.nets.nameOfBacking(card.Backing, v.cfg.PortGroups()),
				MAC:       card.MacAddress,
			})
		}
		out = append(out, cvm)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// toVCH describes the VCH whose endpoint VM is v.
func (s *Inventory) toVCH(v *VMRecord) *VCH {
	cfg := v.cfg
	h := &VCH{
		ID:         v.ref.Value,
		Name:       v.name,
		Path:       poolPath(cfg.Placement.ComputeResource, cfg.Name),
		PowerState: v.powerState,
		Config:     cfg,
		NICs:       nics(v, s.nets),
	}
	h.PublicAddress = publicAddress(cfg, h.NICs)
	for _, c := range s.containers(v.name) {
		h.Containers++
		if c.powerState == poweredOn {
			h.Running++
		}
	}
	return h
}

const poweredOn = "poweredOn"

// publicAddress is the static public address, else the one the guest reports on the public NIC.
func publicAddress(cfg *config.Config, nics []NIC) netip.Addr {
	if cfg.Public.Static() {
		return cfg.Public.IP.Addr()
	}
	for _, n := range nics {
		if n.PortGroup == cfg.Public.PortGroup {
			return n.Address
		}
	}
	return netip.Addr{}
}
