package vsphere

import (
	"net/netip"
	"strings"

	"github.com/vmware/govmomi/vim25/types"

	"github.com/docker-vic/docker-vic/api/vchdoc"
	"github.com/docker-vic/docker-vic/config"
)

// endpointNICs describes the cards of endpoint VM v, endpoint i of the VCH configured by cfg:
// port group, MAC, roles and address.
func (s *Inventory) endpointNICs(cfg *config.Config, v *VMRecord, i int) []vchdoc.NIC {
	want := cfg.PortGroups()
	var out []vchdoc.NIC
	for _, d := range v.devices.SelectByType((*types.VirtualEthernetCard)(nil)) {
		card := d.(types.BaseVirtualEthernetCard).GetVirtualEthernetCard()
		nic := vchdoc.NIC{
			PortGroup: s.nets.nameOfBacking(card.Backing, want),
			MAC:       card.MacAddress,
		}
		nic.Roles = cfg.RolesOf(nic.PortGroup)
		if n := cfg.ContainerNetwork(nic.PortGroup); n != nil {
			nic.Aliases = []string{n.Alias}
		}
		nic.Address = staticAddress(cfg, nic.PortGroup, i)
		if !nic.Address.IsValid() {
			nic.Address = guestAddress(v.guestNet, nic.MAC)
		}
		out = append(out, nic)
	}
	return out
}

// staticAddress returns the static address endpoint i has on port group pg through one of
// its roles, or an invalid one.
func staticAddress(cfg *config.Config, pg string, i int) netip.Addr {
	for _, r := range []config.RoleNetwork{cfg.Public, cfg.Client, cfg.Management} {
		if a := r.AddressOf(i); r.PortGroup == pg && a.IsValid() {
			return a.Addr()
		}
	}
	return netip.Addr{}
}

// guestAddress returns the first IPv4 address the guest reports on the card with mac.
func guestAddress(guest []types.GuestNicInfo, mac string) netip.Addr {
	for _, g := range guest {
		if !strings.EqualFold(g.MacAddress, mac) {
			continue
		}
		for _, s := range g.IpAddress {
			if a, err := netip.ParseAddr(s); err == nil && a.Is4() {
				return a
			}
		}
	}
	return netip.Addr{}
}
