package vsphere

import (
	"fmt"
	"sort"

	"github.com/vmware/govmomi/vim25/mo"
	"github.com/vmware/govmomi/vim25/types"
)

// PortGroupKind tells what backs a port group.
type PortGroupKind int

// The kinds of port group, in the order of preference when several share a name.
const (
	StandardPortGroup PortGroupKind = iota
	DistributedPortGroup
	OpaqueNetwork
)

func (k PortGroupKind) String() string {
	switch k {
	case DistributedPortGroup:
		return "distributed port group"
	case OpaqueNetwork:
		return "NSX opaque network"
	}
	return "standard port group"
}

// PortGroup is a port group of the datacenter (a vSphere Network) as the scan saw it.
type PortGroup struct {
	ref  types.ManagedObjectReference
	name string
	kind PortGroupKind

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

// Name returns the port group's name.
func (p *PortGroup) Name() string { return p.name }

// Kind says whether the port group is standard, distributed or an NSX opaque network.
func (p *PortGroup) Kind() PortGroupKind { return p.kind }

// NSX reports whether NSX backs the port group (an opaque network, or a distributed port group
// standing for an NSX logical switch): NSX, not the port group's policy, decides what it carries.
func (p *PortGroup) NSX() bool { return p.kind == OpaqueNetwork || p.logicalSwitch != "" }

// PortSetting returns a distributed port group's default port configuration, or nil.
func (p *PortGroup) PortSetting() types.BaseDVPortSetting { return p.portSetting }

// portGroups indexes the port groups of a datacenter.
type portGroups struct {
	byName     map[string][]*PortGroup
	byKey      map[string]*PortGroup
	byOpaqueID map[string]*PortGroup
	switchUUID map[types.ManagedObjectReference]string
}

func newPortGroups() *portGroups {
	return &portGroups{
		byName:     map[string][]*PortGroup{},
		byKey:      map[string]*PortGroup{},
		byOpaqueID: map[string]*PortGroup{},
		switchUUID: map[types.ManagedObjectReference]string{},
	}
}

func (n *portGroups) add(pg *PortGroup) {
	n.byName[pg.name] = append(n.byName[pg.name], pg)
}

func (n *portGroups) addStandard(o mo.Network) {
	n.add(&PortGroup{ref: o.Self, name: o.Name, kind: StandardPortGroup})
}

func (n *portGroups) addDistributed(o mo.DistributedVirtualPortgroup) {
	pg := &PortGroup{
		ref:           o.Self,
		name:          o.Name,
		kind:          DistributedPortGroup,
		key:           o.Config.Key,
		dvs:           o.Config.DistributedVirtualSwitch,
		portSetting:   o.Config.DefaultPortConfig,
		logicalSwitch: o.Config.LogicalSwitchUuid,
	}
	if pg.key == "" {
		pg.key = o.Self.Value
	}
	if pg.name == "" {
		pg.name = o.Config.Name
	}
	n.byKey[pg.key] = pg
	n.add(pg)
}

func (n *portGroups) addOpaque(o mo.OpaqueNetwork) {
	pg := &PortGroup{ref: o.Self, name: o.Name, kind: OpaqueNetwork}
	if s, ok := o.Summary.(*types.OpaqueNetworkSummary); ok {
		pg.opaqueID = s.OpaqueNetworkId
		pg.opaqueType = s.OpaqueNetworkType
		if pg.name == "" {
			pg.name = s.Name
		}
	}
	n.byOpaqueID[pg.opaqueID] = pg
	n.add(pg)
}

func (n *portGroups) addSwitch(ref types.ManagedObjectReference, uuid string) {
	n.switchUUID[ref] = uuid
}

// PortGroup returns the port group called name, or nil. When several networks share the name
// (a standard port group and a distributed one, say), the distributed or opaque one wins: it is
// the one vCenter attaches VMs to by name in its own UI.
func (s *Inventory) PortGroup(name string) *PortGroup {
	found := s.nets.byName[name]
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

// PortGroupNames returns every port group name, sorted.
func (s *Inventory) PortGroupNames() []string {
	out := make([]string, 0, len(s.nets.byName))
	for name := range s.nets.byName {
		out = append(out, name)
	}
	sort.Strings(out)
	return out
}

// namesOfBacking returns the port group names a NIC backing may be known by, best first: a
// port group backing an NSX logical switch is also known by the opaque network's name.
func (n *portGroups) namesOfBacking(b types.BaseVirtualDeviceBackingInfo) []string {
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
func (n *portGroups) nameOfBacking(b types.BaseVirtualDeviceBackingInfo, want []string) string {
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

// Backing returns the NIC backing that attaches a card to pg.
func (s *Inventory) Backing(pg *PortGroup) types.BaseVirtualDeviceBackingInfo {
	switch pg.kind {
	case DistributedPortGroup:
		var uuid string
		if pg.dvs != nil {
			uuid = s.nets.switchUUID[*pg.dvs]
		}
		return &types.VirtualEthernetCardDistributedVirtualPortBackingInfo{
			Port: types.DistributedVirtualSwitchPortConnection{SwitchUuid: uuid, PortgroupKey: pg.key},
		}
	case OpaqueNetwork:
		return &types.VirtualEthernetCardOpaqueNetworkBackingInfo{
			OpaqueNetworkId:   pg.opaqueID,
			OpaqueNetworkType: pg.opaqueType,
		}
	}
	ref := pg.ref
	return &types.VirtualEthernetCardNetworkBackingInfo{
		VirtualDeviceDeviceBackingInfo: types.VirtualDeviceDeviceBackingInfo{DeviceName: pg.name},
		Network:                        &ref,
	}
}

// NetworkBacking returns the NIC backing that attaches a card to port group portGroup, chosen
// as PortGroup chooses. A name the datacenter lacks gives an error wrapping
// ErrPortGroupNotFound.
func (s *Inventory) NetworkBacking(portGroup string) (types.BaseVirtualDeviceBackingInfo, error) {
	pg := s.PortGroup(portGroup)
	if pg == nil {
		return nil, fmt.Errorf("%w: %q", ErrPortGroupNotFound, portGroup)
	}
	return s.Backing(pg), nil
}

// PortGroupOf returns the name of the port group a NIC backing points to, preferring a name
// among want (a backing may be known by two names), or "" when it points nowhere the scan saw.
func (s *Inventory) PortGroupOf(b types.BaseVirtualDeviceBackingInfo, want ...string) string {
	return s.nets.nameOfBacking(b, want)
}
