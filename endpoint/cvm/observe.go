package cvm

import (
	"context"
	"strings"

	"github.com/vmware/govmomi/object"
	"github.com/vmware/govmomi/vim25/types"

	"github.com/docker-vic/docker-vic/cli-plugin/vch"
	"github.com/docker-vic/docker-vic/config"
)

// scan reads every VM and network of the datacenter, as `docker vic` does.
func (r *Reconciler) scan(ctx context.Context) (*vch.Inventory, error) {
	return vch.ScanInventory(ctx, r.client, r.opts.Datacenter)
}

// endpointOf returns the endpoint VM of VCH name: the VM of that name holding its
// configuration.
func endpointOf(inv *vch.Inventory, name string) *vch.VMRecord {
	for _, v := range inv.VMs() {
		if v.Name() == name && v.Config() != nil {
			return v
		}
	}
	return nil
}

// containersOf returns the container VMs of VCH name, never its endpoint VM.
func containersOf(inv *vch.Inventory, name string) []*vch.VMRecord {
	var out []*vch.VMRecord
	for _, v := range inv.VMs() {
		if v.ExtraConfig()[config.KeyContainerVCH] != name {
			continue
		}
		if _, isVCH := v.ExtraConfig()[config.KeyConfig]; isVCH {
			continue
		}
		out = append(out, v)
	}
	return out
}

// nicsOf describes the cards of v: port group and MAC from the hardware, network and address
// from the record in extraConfig.
func nicsOf(inv *vch.Inventory, v *vch.VMRecord) []NIC {
	recorded := map[string]NIC{}
	for _, n := range decodeNICs(v.ExtraConfig()[KeyContainerNetworks]) {
		recorded[strings.ToLower(n.MAC)] = n
	}
	var out []NIC
	for _, c := range ethernetCards(v.Devices()) {
		mac := strings.ToLower(c.MacAddress)
		n := recorded[mac]
		n.PortGroup = inv.PortGroupOf(c.Backing)
		n.MAC = mac
		out = append(out, n)
	}
	return out
}

// Observed lists the container VMs of the VCH, sorted by name.
func (r *Reconciler) Observed(ctx context.Context) ([]VM, error) {
	inv, err := r.scan(ctx)
	if err != nil {
		return nil, err
	}
	var out []VM
	for _, v := range containersOf(inv, r.opts.VCH) {
		vm := VM{
			Ref:         v.Ref().Value,
			Name:        v.Name(),
			ContainerID: v.ExtraConfig()[config.KeyContainerID],
			PowerState:  string(v.PowerState()),
			NICs:        nicsOf(inv, v),
			Ports:       decodePorts(v.ExtraConfig()[KeyContainerPorts]),
			ExtraConfig: map[string]string{},
		}
		for k, val := range v.ExtraConfig() {
			if strings.HasPrefix(k, config.KeyPrefix) {
				vm.ExtraConfig[k] = val
			}
		}
		out = append(out, vm)
	}
	return out, nil
}

func ethernetCards(devices object.VirtualDeviceList) []*types.VirtualEthernetCard {
	var out []*types.VirtualEthernetCard
	for _, d := range devices.SelectByType((*types.VirtualEthernetCard)(nil)) {
		out = append(out, d.(types.BaseVirtualEthernetCard).GetVirtualEthernetCard())
	}
	return out
}
