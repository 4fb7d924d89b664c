package main

import (
	"strings"
	"testing"

	"github.com/docker-vic/docker-vic/config"
	"github.com/docker-vic/docker-vic/vsphere"
	"github.com/vmware/govmomi/find"
	"github.com/vmware/govmomi/vim25/types"
	"gotest.tools/v3/assert"
	is "gotest.tools/v3/assert/cmp"
	"gotest.tools/v3/golden"
)

func TestInspectGolden(t *testing.T) {
	e := twoVCHs(t)
	cases := []struct {
		name   string
		args   []string
		golden string
	}{
		{"default", []string{"vch1"}, "inspect.golden"},
		{"dhcp", []string{"vch2"}, "inspect-dhcp.golden"},
		{"json", []string{"vch1", "--format", "json"}, "inspect-json.golden"},
		{"create-flags", []string{"vch1", "--format", "create-flags"}, "inspect-create-flags.golden"},
		{"template", []string{"vch1", "--format", `{{.Name}} {{.Config.Bridge.Range}} {{range .Config.ContainerNetworks}}{{.Alias}}={{.Firewall}} {{end}}`}, "inspect-template.golden"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := e.mustRun(append([]string{"inspect"}, c.args...)...)
			assert.Equal(t, r.err, "")
			golden.Assert(t, e.mask(r.out), c.golden)
		})
	}
}

func TestInspectMissing(t *testing.T) {
	e := newTestEnv(t)
	r := e.run("inspect", "nope")
	assert.Error(t, r.status, `no VCH named "nope" in datacenter "DC0"`)
	r = e.run("inspect")
	assert.Error(t, r.status, `"vic inspect" takes exactly one VCH name, got 0`)
}

// On vSphere any process inside the endpoint VM may set a guestinfo key: a rewritten guest copy
// of the configuration is neither shown nor used, inspect says so, and configure writes the
// copy again.
func TestInspectIgnoresTheGuestsRewrittenCopy(t *testing.T) {
	e := twoVCHs(t)
	vm, err := find.NewFinder(e.client).VirtualMachine(e.ctx, "/DC0/vm/vch1/vch1")
	assert.NilError(t, err)
	forged := *e.get("vch1").Config
	forged.Server.URL = "https://attacker.example/sdk"
	kv, err := forged.Encode()
	assert.NilError(t, err)
	task, err := vm.Reconfigure(e.ctx, types.VirtualMachineConfigSpec{ExtraConfig: vsphere.OptionValues(map[string]string{config.KeyConfig: kv[config.KeyConfig]})})
	assert.NilError(t, vsphere.Wait(e.ctx, task, err))

	out := e.mustRun("inspect", "vch1").out
	assert.Assert(t, !strings.Contains(out, "attacker.example"), out)
	assert.Assert(t, is.Contains(out, "Warning: the guest's copy of the configuration (guestinfo.vic.config) differs from the VCH's"))
	assert.Assert(t, e.get("vch1").GuestCopyRewritten)

	e.mustRun("configure", "vch1", "--dns-server", "198.51.100.53")
	assert.Assert(t, !e.get("vch1").GuestCopyRewritten)
	assert.Assert(t, !strings.Contains(e.mustRun("inspect", "vch1").out, "Warning:"))
}
