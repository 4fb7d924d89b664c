package vch

import (
	"testing"

	"github.com/vmware/govmomi/vim25/types"

	"github.com/docker-vic/docker-vic/vsphere"
	"github.com/docker-vic/docker-vic/vsphere/sim"
)

func TestSuggest(t *testing.T) {
	names := []string{"VM Network", "DC0_DVPG0", "containers-a", "containers-b", "bridge"}
	for _, tc := range []struct {
		value, want string
	}{
		{"VM Netwrok", `; did you mean "VM Network"?`},
		{"vm network", `; did you mean "VM Network"?`},
		{"containers", `; did you mean "containers-a" or "containers-b"?`},
		{"DC0_DVPG1", `; did you mean "DC0_DVPG0"?`},
		{"nothing-alike", `; choose one of "VM Network", "DC0_DVPG0", "containers-a", "containers-b", "bridge"`},
	} {
		if got := suggest(tc.value, names); got != tc.want {
			t.Errorf("suggest(%q) = %q, want %q", tc.value, got, tc.want)
		}
	}
	many := make([]string, 20)
	for i := range many {
		many[i] = string(rune('a'+i)) + "-long-name"
	}
	if got := suggest("zzzzzzzz", many); got != "" {
		t.Errorf("suggest among many unrelated names = %q, want nothing", got)
	}
}

func TestEditDistance(t *testing.T) {
	for _, tc := range []struct {
		a, b string
		want int
	}{
		{"", "", 0}, {"abc", "", 3}, {"kitten", "sitting", 3}, {"VM Netwrok", "VM Network", 2}, {"été", "ete", 2},
	} {
		if got := editDistance(tc.a, tc.b); got != tc.want {
			t.Errorf("editDistance(%q, %q) = %d, want %d", tc.a, tc.b, got, tc.want)
		}
	}
}

func TestPoolPath(t *testing.T) {
	for _, tc := range []struct {
		compute, want string
	}{
		{"/DC0/host/DC0_C0", "/DC0/host/DC0_C0/Resources/vch1"},
		{"/DC0/host/DC0_H0", "/DC0/host/DC0_H0/Resources/vch1"},
		{"/DC0/host/DC0_C0/Resources", "/DC0/host/DC0_C0/Resources/vch1"},
		{"/DC0/host/DC0_C0/Resources/team", "/DC0/host/DC0_C0/Resources/team/vch1"},
		{"", ""},
	} {
		if got := vsphere.PoolPath(tc.compute, "vch1"); got != tc.want {
			t.Errorf("vsphere.PoolPath(%q) = %q, want %q", tc.compute, got, tc.want)
		}
	}
}

func TestPortgroupMACPolicy(t *testing.T) {
	for _, tc := range []struct {
		name    string
		setting types.BaseDVPortSetting
		want    string
	}{
		{"None", nil, "forged transmits and promiscuous mode are rejected"},
		{"NoSecurity", &types.VMwareDVSPortSetting{}, "forged transmits and promiscuous mode are rejected"},
		{"Learning", sim.MACLearning(), ""},
		{"LearningDisabled", &types.VMwareDVSPortSetting{MacManagementPolicy: &types.DVSMacManagementPolicy{
			AllowPromiscuous: types.NewBool(true), ForgedTransmits: types.NewBool(false),
			MacLearningPolicy: &types.DVSMacLearningPolicy{Enabled: false},
		}}, "forged transmits is rejected"},
		{"ManagementBothAllowed", sim.MACManagement(true, true), ""},
		{"ManagementPromiscuousRejected", sim.MACManagement(true, false), "promiscuous mode is rejected"},
		{"LegacyBothAllowed", sim.LegacySecurity(true, true), ""},
		{"LegacyForgedRejected", sim.LegacySecurity(false, true), "forged transmits is rejected"},
		{"ManagementOverridesLegacy", &types.VMwareDVSPortSetting{
			MacManagementPolicy: sim.MACManagement(true, true).MacManagementPolicy,
			SecurityPolicy:      sim.LegacySecurity(false, false).SecurityPolicy,
		}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := portgroupMACPolicy(tc.setting).blocked(); got != tc.want {
				t.Errorf("blocked() = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestHostPortgroupMACPolicy(t *testing.T) {
	yes, no := types.NewBool(true), types.NewBool(false)
	info := &types.HostNetworkInfo{
		Vswitch: []types.HostVirtualSwitch{{Name: "vSwitch0", Spec: types.HostVirtualSwitchSpec{Policy: &types.HostNetworkPolicy{
			Security: &types.HostNetworkSecurityPolicy{AllowPromiscuous: no, ForgedTransmits: yes},
		}}}},
		Portgroup: []types.HostPortGroup{
			{Spec: types.HostPortGroupSpec{Name: "inherits", VswitchName: "vSwitch0"}},
			{Spec: types.HostPortGroupSpec{Name: "overrides", VswitchName: "vSwitch0", Policy: types.HostNetworkPolicy{
				Security: &types.HostNetworkSecurityPolicy{AllowPromiscuous: yes},
			}}},
			{Spec: types.HostPortGroupSpec{Name: "computed", VswitchName: "vSwitch0"}, ComputedPolicy: types.HostNetworkPolicy{
				Security: &types.HostNetworkSecurityPolicy{AllowPromiscuous: yes, ForgedTransmits: no},
			}},
		},
	}
	for _, tc := range []struct{ pg, want string }{
		{"inherits", "promiscuous mode is rejected"},
		{"overrides", ""},
		{"computed", "forged transmits is rejected"},
	} {
		p, ok := hostPortgroupMACPolicy(info, tc.pg)
		if !ok || p.blocked() != tc.want {
			t.Errorf("%s: found %v, blocked %q, want %q", tc.pg, ok, p.blocked(), tc.want)
		}
	}
	if _, ok := hostPortgroupMACPolicy(info, "missing"); ok {
		t.Error("a missing port group was found")
	}
}
