package cvm

import (
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"reflect"
	"strings"

	"github.com/vmware/govmomi/vim25/types"

	"github.com/docker-vic/docker-vic/config"
	"github.com/docker-vic/docker-vic/vsphere"
)

var (
	// ErrInvalidContainer says that a desired container cannot be turned into a VM.
	ErrInvalidContainer = errors.New("invalid container")
	// ErrPortGroupNotFound says that a container's network names a port group the datacenter
	// lacks. It is vsphere.ErrPortGroupNotFound: both packages read port groups the same way.
	ErrPortGroupNotFound = vsphere.ErrPortGroupNotFound
)

// target is what the VM of one container must look like.
type target struct {
	id      string
	name    string
	running bool
	extra   map[string]string
	nics    []targetNIC
}

type targetNIC struct {
	portGroup, mac string
	backing        types.BaseVirtualDeviceBackingInfo
}

// targetOf resolves the VM a container needs: name, extraConfig and NIC backings.
func (r *Reconciler) targetOf(c Container, inv *vsphere.Inventory) (*target, error) {
	if c.ID == "" {
		return nil, fmt.Errorf("%w: container %q has no ID", ErrInvalidContainer, c.Name)
	}
	t := &target{id: c.ID, name: VMName(c.Name, c.ID), running: c.Running}
	recorded := make([]NIC, len(c.NICs))
	seen := map[string]bool{}
	for i, n := range c.NICs {
		hw, err := net.ParseMAC(n.MAC)
		if err != nil || len(hw) != 6 {
			return nil, fmt.Errorf("%w: network %q has MAC %q, want six hex octets", ErrInvalidContainer, n.Network, n.MAC)
		}
		mac := hw.String()
		if seen[mac] {
			return nil, fmt.Errorf("%w: MAC %s is used twice", ErrInvalidContainer, mac)
		}
		seen[mac] = true
		b, err := inv.NetworkBacking(n.PortGroup)
		if err != nil {
			return nil, fmt.Errorf("network %q: %w", n.Network, err)
		}
		t.nics = append(t.nics, targetNIC{portGroup: n.PortGroup, mac: mac, backing: b})
		recorded[i] = n
		recorded[i].MAC = mac
	}
	networks, err := encodeJSON(recorded)
	if err != nil {
		return nil, fmt.Errorf("encoding the networks: %w", err)
	}
	ports := c.Ports
	if ports == nil {
		ports = []string{}
	}
	published, err := encodeJSON(ports)
	if err != nil {
		return nil, fmt.Errorf("encoding the published ports: %w", err)
	}
	t.extra = map[string]string{
		config.KeyContainerVCH:      r.opts.VCH,
		config.KeyContainerID:       c.ID,
		config.KeyContainerEndpoint: r.endpoint(),
		KeyContainerName:            strings.TrimPrefix(c.Name, "/"),
		KeyContainerNetworks:        networks,
		KeyContainerPorts:           published,
	}
	return t, nil
}

// createSpec describes a new container VM.
func (r *Reconciler) createSpec(t *target, datastore string) types.VirtualMachineConfigSpec {
	spec := types.VirtualMachineConfigSpec{
		Name:        t.name,
		GuestId:     GuestID,
		Annotation:  fmt.Sprintf("docker-vic container %s of VCH %s", t.extra[KeyContainerName], r.opts.VCH),
		NumCPUs:     CPUs,
		MemoryMB:    MemoryMB,
		Files:       &types.VirtualMachineFileInfo{VmPathName: fmt.Sprintf("[%s]", datastore)},
		ExtraConfig: vsphere.OptionValues(t.extra),
	}
	for i, n := range t.nics {
		spec.DeviceChange = append(spec.DeviceChange, addNIC(n, int32(-100-i)))
	}
	return spec
}

// reconfigSpec describes the changes that make v look like t, or returns nil when none is needed.
func reconfigSpec(v *vsphere.VMRecord, t *target, inv *vsphere.Inventory) *types.VirtualMachineConfigSpec {
	spec := &types.VirtualMachineConfigSpec{ChangeVersion: v.ChangeVersion()}
	changed := false
	if v.Name() != t.name {
		spec.Name = t.name
		changed = true
	}

	// extraConfig: set what differs, clear our keys that are no longer wanted.
	entries := map[string]string{}
	for k, val := range t.extra {
		if old, ok := v.ExtraConfig()[k]; !ok || old != val {
			entries[k] = val
		}
	}
	for k := range v.ExtraConfig() {
		if _, keep := t.extra[k]; !keep && strings.HasPrefix(k, KeyContainerPrefix) {
			entries[k] = "" // an empty value removes the key
		}
	}
	if len(entries) > 0 {
		spec.ExtraConfig = vsphere.OptionValues(entries)
		changed = true
	}

	// NICs: keep each card already on the right port group with the right MAC, disconnecting
	// it when it is connected; remove the others; add the missing ones.
	wanted := map[string]bool{}
	for _, n := range t.nics {
		wanted[n.portGroup+"|"+n.mac] = true
	}
	have := map[string]bool{}
	for _, d := range v.Devices().SelectByType((*types.VirtualEthernetCard)(nil)) {
		c := d.(types.BaseVirtualEthernetCard).GetVirtualEthernetCard()
		k := inv.PortGroupOf(c.Backing) + "|" + strings.ToLower(c.MacAddress)
		if wanted[k] && !have[k] && c.AddressType == string(types.VirtualEthernetCardMacTypeManual) {
			have[k] = true
			if !isDisconnected(c.Connectable) {
				spec.DeviceChange = append(spec.DeviceChange, disconnectNIC(d))
			}
			continue
		}
		spec.DeviceChange = append(spec.DeviceChange, &types.VirtualDeviceConfigSpec{
			Operation: types.VirtualDeviceConfigSpecOperationRemove,
			Device:    d,
		})
	}
	for i, n := range t.nics {
		if !have[n.portGroup+"|"+n.mac] {
			spec.DeviceChange = append(spec.DeviceChange, addNIC(n, int32(-100-i)))
		}
	}
	if len(spec.DeviceChange) > 0 {
		changed = true
	}
	if !changed {
		return nil
	}
	return spec
}

// addNIC returns the spec adding a vmxnet3 card with a manual MAC on n's port group, left
// disconnected (see the package comment).
func addNIC(n targetNIC, key int32) types.BaseVirtualDeviceConfigSpec {
	card := &types.VirtualVmxnet3{VirtualVmxnet: types.VirtualVmxnet{VirtualEthernetCard: types.VirtualEthernetCard{
		VirtualDevice: types.VirtualDevice{
			Key:         key,
			Backing:     n.backing,
			Connectable: disconnected(),
		},
		AddressType: string(types.VirtualEthernetCardMacTypeManual),
		MacAddress:  n.mac,
	}}}
	return &types.VirtualDeviceConfigSpec{Operation: types.VirtualDeviceConfigSpecOperationAdd, Device: card}
}

// disconnected is the connection state of every container VM card: not connected now nor at
// power-on, and not connectable from inside the guest.
func disconnected() *types.VirtualDeviceConnectInfo {
	return &types.VirtualDeviceConnectInfo{StartConnected: false, Connected: false, AllowGuestControl: false}
}

// isDisconnected tells whether a card's connection state is the one disconnected returns. A card
// with no connection state reads as connected: vSphere connects such cards.
func isDisconnected(c *types.VirtualDeviceConnectInfo) bool {
	return c != nil && !c.StartConnected && !c.Connected && !c.AllowGuestControl
}

// disconnectNIC returns the spec editing card d (an ethernet card) to the disconnected state,
// keeping its key, port group and MAC. d itself, which belongs to the scanned inventory, is left
// as it is.
func disconnectNIC(d types.BaseVirtualDevice) types.BaseVirtualDeviceConfigSpec {
	edited := reflect.New(reflect.TypeOf(d).Elem())
	edited.Elem().Set(reflect.ValueOf(d).Elem())
	card := edited.Interface().(types.BaseVirtualDevice)
	conn := disconnected()
	if old := card.GetVirtualDevice().Connectable; old != nil {
		c := *old
		c.StartConnected, c.Connected, c.AllowGuestControl = false, false, false
		conn = &c
	}
	card.GetVirtualDevice().Connectable = conn
	return &types.VirtualDeviceConfigSpec{Operation: types.VirtualDeviceConfigSpecOperationEdit, Device: card}
}

// encodeJSON writes v as compact JSON, leaving "->" readable in vSphere's UI.
func encodeJSON(v any) (string, error) {
	var b strings.Builder
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return "", err
	}
	return strings.TrimSuffix(b.String(), "\n"), nil
}

func decodeNICs(s string) []NIC {
	var out []NIC
	_ = json.Unmarshal([]byte(s), &out) // a damaged record reads as none; Reconcile rewrites it
	return out
}

func decodePorts(s string) []string {
	var out []string
	_ = json.Unmarshal([]byte(s), &out)
	return out
}
