package vch

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/vmware/govmomi/find"
	"github.com/vmware/govmomi/object"
	"github.com/vmware/govmomi/property"
	"github.com/vmware/govmomi/vim25"
	"github.com/vmware/govmomi/vim25/types"

	"github.com/docker-vic/docker-vic/vsphere"
)

// undoTimeout bounds the clean-up after a failure, which runs even when ctx has expired.
const undoTimeout = 2 * time.Minute

func newFinder(c *vim25.Client) *find.Finder { return find.NewFinder(c, false) }

func collector(m *Manager) *property.Collector { return property.DefaultCollector(m.Client) }

func newCommon(m *Manager, ref types.ManagedObjectReference) object.Common {
	return object.NewCommon(m.Client, ref)
}

// names returns the set of names of refs, read in one retrieval.
func (m *Manager) names(ctx context.Context, refs []types.ManagedObjectReference) (map[string]bool, error) {
	byRef, err := m.entityNames(ctx, refs)
	if err != nil {
		return nil, err
	}
	out := map[string]bool{}
	for _, n := range byRef {
		out[n] = true
	}
	return out, nil
}

// entityNames reads the names of refs in one retrieval.
func (m *Manager) entityNames(ctx context.Context, refs []types.ManagedObjectReference) (map[types.ManagedObjectReference]string, error) {
	out := map[types.ManagedObjectReference]string{}
	if len(refs) == 0 {
		return out, nil
	}
	var spec types.PropertyFilterSpec
	kinds := map[string]bool{}
	for _, r := range refs {
		spec.ObjectSet = append(spec.ObjectSet, types.ObjectSpec{Obj: r})
		if !kinds[r.Type] {
			kinds[r.Type] = true
			spec.PropSet = append(spec.PropSet, types.PropertySpec{Type: r.Type, PathSet: []string{"name"}})
		}
	}
	res, err := collector(m).RetrieveProperties(ctx, types.RetrieveProperties{SpecSet: []types.PropertyFilterSpec{spec}})
	if err != nil {
		if vsphere.IsNotFound(err) {
			return out, nil
		}
		return nil, fmt.Errorf("reading inventory names: %w", err)
	}
	for _, oc := range res.Returnval {
		for _, p := range oc.PropSet {
			if s, ok := p.Val.(string); ok {
				out[oc.Obj] = s
			}
		}
	}
	return out, nil
}

// poolKind names a pool reference for messages.
func poolKind(ref types.ManagedObjectReference) string {
	if strings.EqualFold(ref.Type, "VirtualApp") {
		return "vApp"
	}
	return "resource pool"
}
