package main

import (
	"context"
	"net/netip"
	"slices"
	"strings"
	"testing"

	"gotest.tools/v3/assert"

	"github.com/docker-vic/docker-vic/endpoint/cvm"
	"github.com/docker-vic/docker-vic/vsphere/sim/simtest"
)

// TestDriftIsReconciled: each drift vic-drift makes shows in vSphere, and the endpoint's
// reconciliation puts every one of them right.
func TestDriftIsReconciled(t *testing.T) {
	ctx := context.Background()
	c := simtest.ServeVCH(t, "vch1")
	{
		r, err := cvm.New(c, cvm.Options{VCH: "vch1"})
		assert.NilError(t, err)
		want := []cvm.Container{
			{ID: strings.Repeat("a", 64), Name: "web", Running: true, NICs: []cvm.NIC{{Network: "n1", PortGroup: "vch1", MAC: "02:42:ac:10:00:02", Address: netip.MustParsePrefix("172.16.0.2/16")}}},
			{ID: strings.Repeat("b", 64), Name: "db", Running: true, NICs: []cvm.NIC{{Network: "n1", PortGroup: "vch1", MAC: "02:42:ac:10:00:03", Address: netip.MustParsePrefix("172.16.0.3/16")}}},
		}
		assert.NilError(t, r.Reconcile(ctx, want))
		before := observed(t, r)

		assert.NilError(t, run(ctx, []string{"extra", "web-aaaaaaaaaaaa"}))
		assert.NilError(t, run(ctx, []string{"remove", "db-bbbbbbbbbbbb"}))
		assert.NilError(t, run(ctx, []string{"mac", "web-aaaaaaaaaaaa", "00:50:56:3F:00:99"}))
		drifted := observed(t, r)
		assert.DeepEqual(t, drifted, []string{
			"web-aaaaaaaaaaaa " + strings.Repeat("a", 64) + " vch1=00:50:56:3f:00:99",
			"web-aaaaaaaaaaaa-extra " + ghostID + " vch1=02:42:ac:10:00:02",
		})

		assert.NilError(t, r.Reconcile(ctx, want))
		assert.DeepEqual(t, observed(t, r), before)
	}

	err := run(ctx, []string{"remove", "nothere"})
	assert.Error(t, err, `no container VM named "nothere"`)
	assert.ErrorContains(t, run(ctx, []string{"mac", "web-aaaaaaaaaaaa"}), "usage")
}

// observed lists the container VMs as "NAME CONTAINER-ID PG=MAC...", sorted.
func observed(t *testing.T, r *cvm.Reconciler) []string {
	t.Helper()
	vms, err := r.Observed(context.Background())
	assert.NilError(t, err)
	var out []string
	for _, v := range vms {
		line := v.Name + " " + v.ContainerID
		for _, n := range v.NICs {
			line += " " + n.PortGroup + "=" + n.MAC
		}
		out = append(out, line)
	}
	slices.Sort(out)
	return out
}
