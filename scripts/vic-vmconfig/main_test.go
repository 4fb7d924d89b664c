package main

import (
	"context"
	"os"
	"strings"
	"testing"

	"gotest.tools/v3/assert"

	"github.com/docker-vic/docker-vic/config"
	"github.com/docker-vic/docker-vic/vsphere/sim/simtest"
)

// TestShowsExtraConfigAndFolder: vic-vmconfig prints an endpoint VM's extraConfig keys and the
// local directory of its datastore folder, and refuses a VM that does not exist.
func TestShowsExtraConfigAndFolder(t *testing.T) {
	ctx := context.Background()
	simtest.ServeVCH(t, "vch1")

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

// TestPowersTheVMOffAndOn: vic-vmconfig power turns the VM off and on in vSphere.
func TestPowersTheVMOffAndOn(t *testing.T) {
	ctx := context.Background()
	simtest.ServeVCH(t, "vch1")
	var out strings.Builder
	assert.NilError(t, run(ctx, &out, []string{"power", "vch1", "off"}))
	assert.ErrorContains(t, run(ctx, &out, []string{"power", "vch1", "off"}), "powering VM \"vch1\" off")
	assert.NilError(t, run(ctx, &out, []string{"power", "vch1", "on"}))
	assert.ErrorContains(t, run(ctx, &out, []string{"power", "vch1", "sideways"}), "usage")
}
