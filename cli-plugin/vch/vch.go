// Package vch is the lifecycle of Virtual Container Hosts in vSphere: it validates a VCH
// configuration against the inventory (suggesting close names when one is wrong), creates the
// resource pool (or vApp), folder and endpoint VM, reconfigures and removes them. It reads
// vSphere through package vsphere, takes a *vim25.Client and knows nothing of cobra.
package vch

import (
	"context"
	"fmt"

	"github.com/vmware/govmomi/object"

	"github.com/vmware/govmomi/vim25"

	"github.com/docker-vic/docker-vic/api/vchdoc"
	"github.com/docker-vic/docker-vic/config"
	"github.com/docker-vic/docker-vic/vsphere"
)

// Manager works on the VCHs of one datacenter.
type Manager struct {
	Client *vim25.Client
	// Datacenter is the datacenter's name or path; empty means the only one.
	Datacenter string
	// Progress, when set, receives one line per step of a long operation ("creating resource pool \"vch1\"").
	Progress func(step string)
}

// Scan reads every VM and port group of the Manager's datacenter in one retrieval.
func (m *Manager) Scan(ctx context.Context) (*vsphere.Inventory, error) {
	dc, err := m.datacenter(ctx)
	if err != nil {
		return nil, err
	}
	return vsphere.ScanDatacenter(ctx, m.Client, dc)
}

// get describes VCH name as vSphere now holds it.
func (m *Manager) get(ctx context.Context, name string) (*vchdoc.VCH, error) {
	inv, err := m.Scan(ctx)
	if err != nil {
		return nil, err
	}
	return inv.VCH(name)
}

// datacenter finds the Manager's datacenter, or the only one.
func (m *Manager) datacenter(ctx context.Context) (*object.Datacenter, error) {
	f := newFinder(m.Client)
	dc, err := f.DatacenterOrDefault(ctx, m.Datacenter)
	if err == nil {
		return dc, nil
	}
	all, lerr := f.DatacenterList(ctx, "*")
	var names []string
	if lerr == nil {
		for _, d := range all {
			names = append(names, d.Name())
		}
	}
	if m.Datacenter == "" {
		if len(names) > 1 {
			return nil, &config.Error{Flag: "--datacenter", Rule: "the target has several datacenters, name one of " + quoteList(names)}
		}
		return nil, fmt.Errorf("finding the datacenter: %w", err)
	}
	if vsphere.IsNotFound(err) {
		return nil, &config.Error{Flag: "--datacenter", Value: m.Datacenter, Rule: "no datacenter of that name" + suggest(m.Datacenter, names)}
	}
	return nil, fmt.Errorf("finding datacenter %q: %w", m.Datacenter, err)
}
