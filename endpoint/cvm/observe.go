package cvm

import (
	"cmp"
	"context"
	"errors"
	"strings"

	"github.com/vmware/govmomi/object"
	"github.com/vmware/govmomi/vim25/types"

	"github.com/docker-vic/docker-vic/config"
	"github.com/docker-vic/docker-vic/vsphere"
)

// scan reads the VMs of the VCH and the datacenter's networks. The first scan reads the whole
// datacenter to find the endpoint VM; the next ones read only the VCH's pool (or vApp) and
// folder (vsphere.ScanVCH), in one call however many VMs the datacenter and the VCH hold, until
// the endpoint VM moves or goes. With Options.Pool or Folder set, the container VMs may live
// elsewhere: every scan reads the datacenter.
func (r *Reconciler) scan(ctx context.Context) (*vsphere.Inventory, error) {
	if r.scope != nil {
		inv, err := vsphere.ScanVCH(ctx, r.client, r.scope)
		if !errors.Is(err, vsphere.ErrScopeGone) {
			return inv, err
		}
		r.scope = nil
	}
	inv, err := vsphere.ScanInventory(ctx, r.client, r.opts.Datacenter)
	if err != nil {
		return nil, err
	}
	if r.opts.Pool == nil && r.opts.Folder == nil {
		r.scope, _ = inv.ScopeOf(r.opts.VCH) // none without an endpoint VM: placementOf says so
	}
	return inv, nil
}

// nicsOf describes the cards of v: port group and MAC from the hardware, network and address
// from the record in extraConfig.
func nicsOf(inv *vsphere.Inventory, v *vsphere.VMRecord) []NIC {
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

// endpoint is the name of the endpoint VM whose containers the Reconciler keeps VMs for.
func (r *Reconciler) endpoint() string { return cmp.Or(r.opts.Endpoint, r.opts.VCH) }

// own returns the container VMs of the VCH that this endpoint VM runs, sorted by name: those of
// the VCH's other endpoint VMs are theirs to keep.
func (r *Reconciler) own(inv *vsphere.Inventory) []*vsphere.VMRecord {
	var out []*vsphere.VMRecord
	for _, v := range inv.ContainerVMs(r.opts.VCH) {
		if v.ContainerEndpoint() == r.endpoint() {
			out = append(out, v)
		}
	}
	return out
}

// Observed lists the container VMs of the containers this endpoint VM runs, sorted by name.
func (r *Reconciler) Observed(ctx context.Context) ([]VM, error) {
	inv, err := r.scan(ctx)
	if err != nil {
		return nil, err
	}
	var out []VM
	for _, v := range r.own(inv) {
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
