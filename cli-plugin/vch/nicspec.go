package vch

import (
	"fmt"

	"github.com/vmware/govmomi/object"
	"github.com/vmware/govmomi/vim25/types"

	"github.com/docker-vic/docker-vic/vsphere"
)

// nicSpecs returns one vmxnet3 card per port group, in order, to add to a VM. Keys start at
// firstKey and go down: vSphere assigns the real ones.
func nicSpecs(inv *vsphere.Inventory, portGroups []string, firstKey int32) ([]types.BaseVirtualDeviceConfigSpec, error) {
	var specs []types.BaseVirtualDeviceConfigSpec
	for i, name := range portGroups {
		pg := inv.PortGroup(name)
		if pg == nil {
			return nil, fmt.Errorf("%w: %q", vsphere.ErrPortGroupNotFound, name)
		}
		card := &types.VirtualVmxnet3{VirtualVmxnet: types.VirtualVmxnet{VirtualEthernetCard: types.VirtualEthernetCard{
			VirtualDevice: types.VirtualDevice{
				Key:     firstKey - int32(i),
				Backing: inv.Backing(pg),
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
