package vch

import (
	"fmt"
	"sort"

	"github.com/vmware/govmomi/vim25/mo"
	"github.com/vmware/govmomi/vim25/types"
)

// networkKind tells what backs a port group.
type networkKind int

const (
	standardNetwork networkKind = iota
	distributedPortgroup
	opaqueNetwork
)

func (k networkKind) String() string {
	switch k {
	case distributedPortgroup:
		return "distributed port group"
	case opaqueNetwork:
		return "NSX opaque network"
	}
	return "standard port group"
}

// network is a port group of the datacenter as the retrieval saw it.
type network struct {
	ref  types.ManagedObjectReference
	name string
	kind networkKind

	// Distributed port groups.
	key         string
	dvs         *types.ManagedObjectReference
	portSetting types.BaseDVPortSetting
	// logicalSwitch is the NSX logical switch an NSX-backed port group stands for.
	logicalSwitch string

	// Opaque networks.
	opaqueID   string
	opaqueType string
}

// networks indexes the port groups of a datacenter.
type networks struct {
	byName     map[string][]*network
	byKey      map[string]*network
	byOpaqueID map[string]*network
	switchUUID map[types.ManagedObjectReference]string
}

func newNetworks() *networks {
	return &networks{
		byName:     map[string][]*network{},
		byKey:      map[string]*network{},
		byOpaqueID: map[string]*network{},
		switchUUID: map[types.ManagedObjectReference]string{},
	}
}

func (n *networks) add(net *network) {
	n.byName[net.name] = append(n.byName[net.name], net)
}

func (n *networks) addStandard(o mo.Network) {
	n.add(&network{ref: o.Self, name: o.Name, kind: standardNetwork})
}

func (n *networks) addPortgroup(o mo.DistributedVirtualPortgroup) {
	net := &network{
		ref:           o.Self,
		name:          o.Name,
		kind:          distributedPortgroup,
		key:           o.Config.Key,
		dvs:           o.Config.DistributedVirtualSwitch,
		portSetting:   o.Config.DefaultPortConfig,
		logicalSwitch: o.Config.LogicalSwitchUuid,
	}
	if net.key == "" {
		net.key = o.Self.Value
	}
	if net.name == "" {
		net.name = o.Config.Name
	}
	n.byKey[net.key] = net
	n.add(net)
}

func (n *networks) addOpaque(o mo.OpaqueNetwork) {
	net := &network{ref: o.Self, name: o.Name, kind: opaqueNetwork}
	if s, ok := o.Summary.(*types.OpaqueNetworkSummary); ok {
		net.opaqueID = s.OpaqueNetworkId
		net.opaqueType = s.OpaqueNetworkType
		if net.name == "" {
			net.name = s.Name
		}
	}
	n.byOpaqueID[net.opaqueID] = net
	n.add(net)
}

func (n *networks) addSwitch(ref types.ManagedObjectReference, uuid string) {
	n.switchUUID[ref] = uuid
}

// find returns the port group called name. When several networks share the name (a standard
// port group and a distributed one, say), the distributed or opaque one wins: it is the one
// vCenter attaches VMs to by name in its own UI.
func (n *networks) find(name string) *network {
	found := n.byName[name]
	if len(found) == 0 {
		return nil
	}
	best := found[0]
	for _, f := range found[1:] {
		if f.kind > best.kind {
			best = f
		}
	}
	return best
}

// names returns every port group name, sorted.
func (n *networks) names() []string {
	out := make([]string, 0, len(n.byName))
	for name := range n.byName {
		out = append(out, name)
	}
	sort.Strings(out)
	return out
}

// namesOfBacking returns the port group names a NIC backing may be known by, best first: a
// port group backing an NSX logical switch is also known by the opaque network's name.
func (n *networks) namesOfBacking(b types.BaseVirtualDeviceBackingInfo) []string {
	switch b := b.(type) {
	case *types.VirtualEthernetCardNetworkBackingInfo:
		return []string{b.DeviceName}
	case *types.VirtualEthernetCardDistributedVirtualPortBackingInfo:
		pg := n.byKey[b.Port.PortgroupKey]
		if pg == nil {
			return nil
		}
		out := []string{pg.name}
		if o := n.byOpaqueID[pg.logicalSwitch]; pg.logicalSwitch != "" && o != nil {
			out = append(out, o.name)
		}
		return out
	case *types.VirtualEthernetCardOpaqueNetworkBackingInfo:
		if o := n.byOpaqueID[b.OpaqueNetworkId]; o != nil {
			return []string{o.name}
		}
	}
	return nil
}

// nameOfBacking returns the name of the port group a NIC backing points to, preferring a name
// among want, or "" when the backing points nowhere known.
func (n *networks) nameOfBacking(b types.BaseVirtualDeviceBackingInfo, want []string) string {
	names := n.namesOfBacking(b)
	for _, name := range names {
		for _, w := range want {
			if name == w {
				return name
			}
		}
	}
	if len(names) > 0 {
		return names[0]
	}
	return ""
}

// backing returns the NIC backing that attaches a card to net.
func (n *networks) backing(net *network) types.BaseVirtualDeviceBackingInfo {
	switch net.kind {
	case distributedPortgroup:
		var uuid string
		if net.dvs != nil {
			uuid = n.switchUUID[*net.dvs]
		}
		return &types.VirtualEthernetCardDistributedVirtualPortBackingInfo{
			Port: types.DistributedVirtualSwitchPortConnection{SwitchUuid: uuid, PortgroupKey: net.key},
		}
	case opaqueNetwork:
		return &types.VirtualEthernetCardOpaqueNetworkBackingInfo{
			OpaqueNetworkId:   net.opaqueID,
			OpaqueNetworkType: net.opaqueType,
		}
	}
	ref := net.ref
	return &types.VirtualEthernetCardNetworkBackingInfo{
		VirtualDeviceDeviceBackingInfo: types.VirtualDeviceDeviceBackingInfo{DeviceName: net.name},
		Network:                        &ref,
	}
}

// NetworkBacking returns the NIC backing that attaches a card to port group portGroup. When
// several networks share the name, the distributed or opaque one wins, as for the endpoint VM's
// own cards. A name the datacenter lacks gives an error wrapping ErrPortGroupNotFound.
func (s *Inventory) NetworkBacking(portGroup string) (types.BaseVirtualDeviceBackingInfo, error) {
	net := s.nets.find(portGroup)
	if net == nil {
		return nil, fmt.Errorf("%w: %q", ErrPortGroupNotFound, portGroup)
	}
	return s.nets.backing(net), nil
}

// PortGroupOf returns the name of the port group a NIC backing points to, or "" when it points
// nowhere the scan saw.
func (s *Inventory) PortGroupOf(b types.BaseVirtualDeviceBackingInfo) string {
	return s.nets.nameOfBacking(b, nil)
}
