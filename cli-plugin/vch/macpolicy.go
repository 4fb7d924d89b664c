package vch

import (
	"context"
	"fmt"
	"strings"

	"github.com/vmware/govmomi/object"
	"github.com/vmware/govmomi/vim25/mo"
	"github.com/vmware/govmomi/vim25/types"

	"github.com/docker-vic/docker-vic/config"
	"github.com/docker-vic/docker-vic/vsphere"
)

// macPolicy is what a port group lets a VM do with MAC addresses other than its own.
type macPolicy struct {
	learning        bool
	forgedTransmits *bool
	promiscuous     *bool
}

// blocked returns what stops container MACs, or "" when nothing does: MAC learning lets them
// through, and so do forged transmits with promiscuous mode. An unset setting counts as rejected.
func (p macPolicy) blocked() string {
	if p.learning {
		return ""
	}
	var rejected []string
	if p.forgedTransmits == nil || !*p.forgedTransmits {
		rejected = append(rejected, "forged transmits")
	}
	if p.promiscuous == nil || !*p.promiscuous {
		rejected = append(rejected, "promiscuous mode")
	}
	switch len(rejected) {
	case 0:
		return ""
	case 1:
		return rejected[0] + " is rejected"
	}
	return strings.Join(rejected, " and ") + " are rejected"
}

// portgroupMACPolicy reads the default port setting of a distributed port group: the MAC
// management policy of vSphere 6.7 and later, then the older security policy.
func portgroupMACPolicy(setting types.BaseDVPortSetting) macPolicy {
	var p macPolicy
	s, ok := setting.(*types.VMwareDVSPortSetting)
	if !ok || s == nil {
		return p
	}
	if mm := s.MacManagementPolicy; mm != nil {
		p.learning = mm.MacLearningPolicy != nil && mm.MacLearningPolicy.Enabled
		p.forgedTransmits = mm.ForgedTransmits
		p.promiscuous = mm.AllowPromiscuous
	}
	if sp := s.SecurityPolicy; sp != nil {
		if p.forgedTransmits == nil && sp.ForgedTransmits != nil {
			p.forgedTransmits = sp.ForgedTransmits.Value
		}
		if p.promiscuous == nil && sp.AllowPromiscuous != nil {
			p.promiscuous = sp.AllowPromiscuous.Value
		}
	}
	return p
}

// hostPortgroupMACPolicy reads the effective security policy of a standard port group on a
// host: the computed policy, else the port group's own, else its virtual switch's.
func hostPortgroupMACPolicy(info *types.HostNetworkInfo, name string) (macPolicy, bool) {
	var p macPolicy
	if info == nil {
		return p, false
	}
	for _, pg := range info.Portgroup {
		if pg.Spec.Name != name {
			continue
		}
		layers := []*types.HostNetworkSecurityPolicy{pg.ComputedPolicy.Security, pg.Spec.Policy.Security}
		for _, sw := range info.Vswitch {
			if sw.Name == pg.Spec.VswitchName && sw.Spec.Policy != nil {
				layers = append(layers, sw.Spec.Policy.Security)
			}
		}
		for _, l := range layers {
			if l == nil {
				continue
			}
			if p.forgedTransmits == nil {
				p.forgedTransmits = l.ForgedTransmits
			}
			if p.promiscuous == nil {
				p.promiscuous = l.AllowPromiscuous
			}
		}
		return p, true
	}
	return p, false
}

// checkMACPolicy refuses a container network whose port group drops frames from the
// containers' MACs. NSX networks pass: NSX manages MACs of its own.
func (k *checker) checkMACPolicy(ctx context.Context, flag string, pg *vsphere.PortGroup) error {
	var blocked string
	switch {
	case pg == nil, pg.NSX():
		return nil
	case pg.Kind() == vsphere.DistributedPortGroup:
		blocked = portgroupMACPolicy(pg.PortSetting()).blocked()
	default:
		var err error
		if blocked, err = k.hostMACBlock(ctx, pg.Name()); err != nil {
			return err
		}
	}
	if blocked == "" {
		return nil
	}
	rule := "the port group blocks container MACs: " + blocked + "; allow forged transmits and promiscuous mode, or enable MAC learning, on the port group"
	if flag == "--bridge-network" {
		rule = "the port group blocks container MACs, which the bridge networks of several endpoints carry between them: " + blocked + "; allow forged transmits and promiscuous mode, or enable MAC learning, on the port group"
	}
	return &config.Error{Flag: flag, Value: pg.Name(), Rule: rule}
}

// hostMACBlock checks a standard port group on every host that runs the VCH.
func (k *checker) hostMACBlock(ctx context.Context, name string) (string, error) {
	for _, ref := range k.hosts {
		host := object.NewHostSystem(k.m.Client, ref)
		ns, err := host.ConfigManager().NetworkSystem(ctx)
		if err != nil {
			return "", fmt.Errorf("reading the network system of host %s: %w", ref.Value, err)
		}
		var mns mo.HostNetworkSystem
		if err := ns.Properties(ctx, ns.Reference(), []string{"networkInfo"}, &mns); err != nil {
			return "", fmt.Errorf("reading the port groups of host %s: %w", ref.Value, err)
		}
		p, ok := hostPortgroupMACPolicy(mns.NetworkInfo, name)
		if !ok {
			continue
		}
		if b := p.blocked(); b != "" {
			return b, nil
		}
	}
	return "", nil
}
