package main

import (
	"context"
	"os"
	"strings"
	"testing"

	"github.com/vmware/govmomi"
	"gotest.tools/v3/assert"

	"github.com/docker-vic/docker-vic/config"
	"github.com/docker-vic/docker-vic/vsphere/sim"
)

// TestShowsExtraConfigAndFolder: vic-vmconfig prints an endpoint VM's extraConfig keys and the
// local directory of its datastore folder, and refuses a VM that does not exist.
func TestShowsExtraConfigAndFolder(t *testing.T) {
	ctx := context.Background()
	m := sim.Model()
	assert.NilError(t, m.Create())
	defer m.Remove()
	s := m.Service.NewServer()
	defer s.Close()
	t.Setenv("VIC_TARGET", s.URL.String())
	t.Setenv("VIC_THUMBPRINT", "")
	gc, err := govmomi.NewClient(ctx, s.URL, true)
	assert.NilError(t, err)
	assert.NilError(t, sim.AddPortGroups(ctx, gc.Client, sim.MACLearning(), "vch1"))
	cfg := config.New("vch1")
	cfg.ApplyDefaults()
	_, err = sim.AddVCH(ctx, gc.Client, cfg)
	assert.NilError(t, err)

	var out strings.Builder
	assert.NilError(t, run(ctx, &out, []string{"extraconfig", "vch1"}))
	assert.Check(t, strings.Contains(out.String(), config.KeyConfig+"="), out.String())

	out.Reset()
	assert.NilError(t, run(ctx, &out, []string{"files", "vch1"}))
	dir := strings.TrimSpace(out.String())
	st, err := os.Stat(dir)
	assert.NilError(t, err, dir)
	assert.Check(t, st.IsDir())

	assert.ErrorContains(t, run(ctx, &out, []string{"extraconfig", "nope"}), "not found")
	assert.ErrorContains(t, run(ctx, &out, []string{"nope", "vch1"}), "usage")
}
