// Package sim builds the simulated vSphere that docker-vic's tests and its vcsim command run
// against: govmomi's in-process vCenter with the inventory they share, port groups with the
// MAC policies a container network meets, VCHs placed as `docker vic create` places them, and
// injected faults. It knows nothing of testing: callers turn its errors into failures.
package sim

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/vmware/govmomi/find"
	"github.com/vmware/govmomi/object"
	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25"
	"github.com/vmware/govmomi/vim25/types"
)

// Switch is the distributed switch of the simulated datacenter DC0.
const Switch = "DVS0"

// Model returns a vCenter with one datacenter DC0 holding cluster DC0_C0 (two hosts, no
// standalone host, so the cluster is the default compute resource), datastore LocalDS_0, the
// standard port group "VM Network" and switch DVS0 with DC0_DVPG0.
func Model() *simulator.Model {
	m := simulator.VPX()
	m.Host = 0
	m.ClusterHost = 2
	m.Machine = 1
	return m
}

// Permissive is the port setting that lets a port group carry any container network: forged
// transmits, promiscuous mode and MAC changes allowed, and MAC learning on.
func Permissive() *types.VMwareDVSPortSetting {
	allow := &types.BoolPolicy{Value: types.NewBool(true)}
	return &types.VMwareDVSPortSetting{
		Vlan: new(types.VmwareDistributedVirtualSwitchVlanIdSpec),
		SecurityPolicy: &types.DVSSecurityPolicy{
			AllowPromiscuous: allow, ForgedTransmits: allow, MacChanges: allow,
		},
		MacManagementPolicy: &types.DVSMacManagementPolicy{
			AllowPromiscuous: types.NewBool(true), ForgedTransmits: types.NewBool(true), MacChanges: types.NewBool(true),
			MacLearningPolicy: &types.DVSMacLearningPolicy{Enabled: true},
		},
	}
}

// MACLearning is the port setting of a port group that learns MACs with forged transmits and
// promiscuous mode rejected: it carries container networks.
func MACLearning() *types.VMwareDVSPortSetting {
	return &types.VMwareDVSPortSetting{MacManagementPolicy: &types.DVSMacManagementPolicy{
		AllowPromiscuous:  types.NewBool(false),
		ForgedTransmits:   types.NewBool(false),
		MacLearningPolicy: &types.DVSMacLearningPolicy{Enabled: true},
	}}
}

// MACManagement is a port setting with the MAC management policy of vSphere 6.7 and later, and
// no MAC learning: it carries container networks only with both settings allowed.
func MACManagement(forged, promiscuous bool) *types.VMwareDVSPortSetting {
	return &types.VMwareDVSPortSetting{MacManagementPolicy: &types.DVSMacManagementPolicy{
		AllowPromiscuous: types.NewBool(promiscuous),
		ForgedTransmits:  types.NewBool(forged),
	}}
}

// LegacySecurity is a port setting with the security policy of vSphere before 6.7.
func LegacySecurity(forged, promiscuous bool) *types.VMwareDVSPortSetting {
	return &types.VMwareDVSPortSetting{SecurityPolicy: &types.DVSSecurityPolicy{
		AllowPromiscuous: &types.BoolPolicy{Value: types.NewBool(promiscuous)},
		ForgedTransmits:  &types.BoolPolicy{Value: types.NewBool(forged)},
	}}
}

// AddPortGroups adds distributed port groups to DVS0 with the given default port setting (nil:
// the simulator's default, which sets no security policy).
func AddPortGroups(ctx context.Context, c *vim25.Client, setting *types.VMwareDVSPortSetting, names ...string) error {
	if len(names) == 0 {
		return nil
	}
	n, err := find.NewFinder(c).Network(ctx, Switch)
	if err != nil {
		return fmt.Errorf("finding switch %q: %w", Switch, err)
	}
	dvs, ok := n.(*object.DistributedVirtualSwitch)
	if !ok {
		return fmt.Errorf("finding switch %q: not a distributed switch", Switch)
	}
	specs := make([]types.DVPortgroupConfigSpec, len(names))
	for i, name := range names {
		specs[i] = types.DVPortgroupConfigSpec{
			Name: name, NumPorts: 128, Type: string(types.DistributedVirtualPortgroupPortgroupTypeEarlyBinding),
		}
		if setting != nil {
			specs[i].DefaultPortConfig = setting
		}
	}
	task, err := dvs.AddPortgroup(ctx, specs)
	if err == nil {
		err = task.Wait(ctx)
	}
	if err != nil {
		return fmt.Errorf("adding port groups %s: %w", strings.Join(names, ", "), err)
	}
	return nil
}

// AddHostPortGroup adds a standard port group on vSwitch0 of the first host found with the
// given security policy (nil: none of its own).
func AddHostPortGroup(ctx context.Context, c *vim25.Client, name string, security *types.HostNetworkSecurityPolicy) error {
	hosts, err := find.NewFinder(c).HostSystemList(ctx, "*")
	if err != nil {
		return err
	}
	host := hosts[0]
	ns, err := host.ConfigManager().NetworkSystem(ctx)
	if err != nil {
		return err
	}
	spec := types.HostPortGroupSpec{Name: name, VswitchName: "vSwitch0", Policy: types.HostNetworkPolicy{Security: security}}
	if err := ns.AddPortGroup(ctx, spec); err != nil {
		return fmt.Errorf("adding port group %q: %w", name, err)
	}
	return nil
}

// InjectFault makes every call of method on s fail with InvalidState.
func InjectFault(s *simulator.Service, method string) {
	s.AddFaultRule(&simulator.FaultInjectionRule{
		MethodName:  method,
		ObjectType:  "*",
		ObjectName:  "*",
		Probability: 1.0,
		FaultType:   simulator.FaultTypeInvalidState,
		Message:     "injected " + method + " failure",
		Enabled:     true,
	})
}

// Restart serves m again, listening on listen, after its server was closed: a vCenter whose
// process was stopped and started again with its inventory and sessions. The simulator serves
// each model from one server only, so its handlers go to a fresh mux.
func Restart(m *simulator.Model, listen *url.URL) *simulator.Server {
	s := m.Service
	path := s.Context.Map.Path
	mux := http.NewServeMux()
	mux.HandleFunc(path, s.ServeSDK)
	mux.HandleFunc(path+"/vimService", s.ServeSDK)
	s.ServeMux = mux
	s.Listen = listen
	return s.NewServer()
}
