package main

import (
	"context"
	"fmt"
	"net/url"
	"strings"

	"github.com/vmware/govmomi"
	"github.com/vmware/govmomi/find"
	"github.com/vmware/govmomi/object"
	"github.com/vmware/govmomi/vim25/types"
)

// addPortgroups creates the named distributed port groups with forged transmits and
// promiscuous mode allowed and MAC learning on, as docker-vic wants for container networks.
func addPortgroups(ctx context.Context, u *url.URL, names []string) error {
	if len(names) == 0 {
		return nil
	}
	c, err := govmomi.NewClient(ctx, u, true) // our own server, just started in this process
	if err != nil {
		return fmt.Errorf("connecting to the simulator: %w", err)
	}
	defer c.Logout(context.WithoutCancel(ctx))

	ref, err := find.NewFinder(c.Client).Network(ctx, switchName)
	if err != nil {
		return fmt.Errorf("finding switch %q: %w", switchName, err)
	}
	dvs, ok := ref.(*object.DistributedVirtualSwitch)
	if !ok {
		return fmt.Errorf("finding switch %q: not a distributed switch", switchName)
	}
	specs := make([]types.DVPortgroupConfigSpec, len(names))
	for i, name := range names {
		specs[i] = types.DVPortgroupConfigSpec{
			Name: name, NumPorts: 128, Type: string(types.DistributedVirtualPortgroupPortgroupTypeEarlyBinding),
			DefaultPortConfig: permissivePortSetting(),
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

func permissivePortSetting() *types.VMwareDVSPortSetting {
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
