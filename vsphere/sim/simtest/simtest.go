// Package simtest serves the simulated vCenter of package sim to a command under test, as the
// testbed's vCenter would be named to it.
package simtest

import (
	"context"
	"testing"

	"github.com/vmware/govmomi"
	"github.com/vmware/govmomi/vim25"
	"gotest.tools/v3/assert"

	"github.com/docker-vic/docker-vic/config"
	"github.com/docker-vic/docker-vic/vsphere/sim"
)

// ServeVCH starts sim's model with VCH name placed as create places it (its bridge port group
// named after it, with MAC learning), names it to the command in VIC_TARGET and
// VIC_THUMBPRINT as the testbed's exports do, and returns a client of its own. Everything
// stops with the test.
func ServeVCH(t *testing.T, name string) *vim25.Client {
	t.Helper()
	ctx := context.Background()
	m := sim.Model()
	assert.NilError(t, m.Create())
	t.Cleanup(m.Remove)
	s := m.Service.NewServer()
	t.Cleanup(s.Close)
	t.Setenv("VIC_TARGET", s.URL.String())
	t.Setenv("VIC_THUMBPRINT", "")
	gc, err := govmomi.NewClient(ctx, s.URL, true)
	assert.NilError(t, err)
	assert.NilError(t, sim.AddPortGroups(ctx, gc.Client, sim.MACLearning(), name))
	cfg := config.New(name)
	cfg.ApplyDefaults()
	_, err = sim.AddVCH(ctx, gc.Client, cfg)
	assert.NilError(t, err)
	return gc.Client
}
