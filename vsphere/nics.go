package vsphere

import (
	"net/netip"
	"strings"

	"github.com/vmware/govmomi/vim25/types"

	"github.com/docker-vic/docker-vic/api/vchdoc"
	"github.com/docker-vic/docker-vic/config"
)

// endpointNICs describes the cards of endpoint VM v: port group, MAC, roles and address.
func (s *Inventory) endpointNICs(v *VMRecord) []vchdoc.NIC {
	cfg := v.cfg
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
		nic.Address = staticAddress(cfg, nic.PortGroup)
		if !nic.Address.IsValid() {
			nic.Address = guestAddress(v.guestNet, nic.MAC)
		}
		out = append(out, nic)
	}
	return out
}

// staticAddress returns the static address a role on port group pg has, or an invalid one.
func staticAddress(cfg *config.Config, pg string) netip.Addr {
	for _, r := range []config.RoleNetwork{cfg.Public, cfg.Client, cfg.Management} {
		if r.PortGroup == pg && r.Static() {
			return r.IP.Addr()
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
