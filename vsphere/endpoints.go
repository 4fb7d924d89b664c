package vsphere

import (
	"cmp"

	"github.com/vmware/govmomi/vim25/mo"
	"github.com/vmware/govmomi/vim25/types"

	"github.com/docker-vic/docker-vic/api/vchdoc"
)

// EndpointRuleName is the name of the DRS VM anti-affinity rule that keeps the endpoint VMs of
// VCH name on different hosts of its cluster.
func EndpointRuleName(name string) string { return name + "-endpoints" }

// addRules keeps the anti-affinity rules of cluster c that may be a VCH's, by name.
func (s *Inventory) addRules(c mo.ClusterComputeResource) {
	ex, ok := c.ConfigurationEx.(*types.ClusterConfigInfoEx)
	if !ok {
		return
	}
	for _, r := range ex.Rule {
		if rule, ok := r.(*types.ClusterAntiAffinityRuleSpec); ok {
			s.rules[rule.Name] = append(s.rules[rule.Name], ruleOf{cluster: c.Name, rule: rule})
		}
	}
}

// ruleOf is an anti-affinity rule and the name of its cluster.
type ruleOf struct {
	cluster string
	rule    *types.ClusterAntiAffinityRuleSpec
}

// endpointRule describes the anti-affinity rule of VCH name, when the scan read it: a scan of
// the datacenter reads its clusters' rules, the scans of one VCH do not.
func (s *Inventory) endpointRule(name string) *vchdoc.Rule {
	found := s.rules[EndpointRuleName(name)]
	if len(found) != 1 {
		return nil
	}
	r := found[0]
	out := &vchdoc.Rule{
		Name:      r.rule.Name,
		Cluster:   r.cluster,
		Enabled:   r.rule.Enabled != nil && *r.rule.Enabled,
		Mandatory: r.rule.Mandatory != nil && *r.rule.Mandatory,
	}
	names := map[types.ManagedObjectReference]string{}
	for _, v := range s.vms {
		names[v.ref] = v.name
	}
	for _, ref := range r.rule.Vm {
		out.VMs = append(out.VMs, cmp.Or(names[ref], ref.Value))
	}
	return out
}
