package main

import (
	"testing"

	"gotest.tools/v3/assert"
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
