package vch

import (
	"fmt"
	"net/netip"
	"strings"

	"github.com/vmware/govmomi/object"
	"github.com/vmware/govmomi/vim25/types"

	"github.com/docker-vic/docker-vic/config"
)

// nicSpecs returns one vmxnet3 card per port group, in order, to add to a VM. Keys start at
// firstKey and go down: vSphere assigns the real ones.
func nicSpecs(nets *networks, portGroups []string, firstKey int32) ([]types.BaseVirtualDeviceConfigSpec, error) {
	var specs []types.BaseVirtualDeviceConfigSpec
	for i, pg := range portGroups {
		net := nets.find(pg)
		if net == nil {
			return nil, fmt.Errorf("port group %q not found", pg)
		}
		card := &types.VirtualVmxnet3{VirtualVmxnet: types.VirtualVmxnet{VirtualEthernetCard: types.VirtualEthernetCard{
			VirtualDevice: types.VirtualDevice{
				Key:     firstKey - int32(i),
				Backing: nets.backing(net),
				Connectable: &types.VirtualDeviceConnectInfo{
					StartConnected:    true,
					Connected:         true,
					AllowGuestControl: true,
				},
			},
			AddressType: string(types.VirtualEthernetCardMacTypeGenerated),
		}}}
		specs = append(specs, &types.VirtualDeviceConfigSpec{
			Operation: types.VirtualDeviceConfigSpecOperationAdd,
			Device:    card,
		})
	}
	return specs, nil
}

// cdromSpecs returns an IDE controller and a CD-ROM holding iso, a datastore path.
func cdromSpecs(iso string) ([]types.BaseVirtualDeviceConfigSpec, error) {
	var devices object.VirtualDeviceList
	ide, err := devices.CreateIDEController()
	if err != nil {
		return nil, err
	}
	devices = append(devices, ide)
	cdrom, err := devices.CreateCdrom(ide.(*types.VirtualIDEController))
	if err != nil {
		return nil, err
	}
	devices = append(devices, devices.InsertIso(cdrom, iso))
	return devices.ConfigSpec(types.VirtualDeviceConfigSpecOperationAdd)
}

// nics describes the endpoint's cards: port group, MAC, roles and address.
func nics(v *VMRecord, nets *networks) []NIC {
	cfg := v.cfg
	want := cfg.PortGroups()
	var out []NIC
	for _, d := range v.devices.SelectByType((*types.VirtualEthernetCard)(nil)) {
		card := d.(types.BaseVirtualEthernetCard).GetVirtualEthernetCard()
		nic := NIC{
			PortGroup: nets.nameOfBacking(card.Backing, want),
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
