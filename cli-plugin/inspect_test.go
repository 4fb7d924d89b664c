package main

import (
	"strings"
	"testing"

	"github.com/docker-vic/docker-vic/api/guestinfo"
	"github.com/docker-vic/docker-vic/api/vchdoc"
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

// The endpoints of an appliance swarm show each one's appliance in a column.
func TestInspectShowsEachEndpointsAppliance(t *testing.T) {
	cfg := config.New("vch1")
	cfg.Endpoints = 2
	v := &vchdoc.VCH{Name: "vch1", Config: cfg, Endpoints: []vchdoc.Endpoint{
		{Number: 1, Name: "vch1", ID: "vm-1", PowerState: "poweredOn", Appliance: &guestinfo.Status{Phase: guestinfo.PhaseReady, Endpoint: guestinfo.EndpointServing}},
		{Number: 2, Name: "vch1-2", ID: "vm-2", PowerState: "poweredOn", Appliance: &guestinfo.Status{}},
	}}
	var b strings.Builder
	assert.NilError(t, writeEndpoints(&b, v))
	assert.Assert(t, is.Contains(b.String(), "  #  NAME    ID    HOST  STATUS   PUBLIC  APPLIANCE\n"))
	assert.Assert(t, is.Contains(b.String(), "  1  vch1    vm-1  -     Running  -       ready; vic drivers serving\n"))
	assert.Assert(t, is.Contains(b.String(), "  2  vch1-2  vm-2  -     Running  -       not booted yet\n"))
}
