package main

import (
	"strings"
	"testing"

	"gotest.tools/v3/assert"
	"gotest.tools/v3/golden"
)

// twoVCHs creates vch1 (static public address, one running container VM of two) and vch2 (DHCP,
// powered off).
func twoVCHs(t *testing.T) *testEnv {
	t.Helper()
	e := newTestEnv(t)
	e.mustRun(createArgs...)
	e.mustRun("create", "--name", "vch2", "--no-context")
	e.addContainerVM("vch1", "web-1", true)
	e.addContainerVM("vch1", "web-2", false)
	e.powerOff("vch2")
	return e
}

func TestListGolden(t *testing.T) {
	e := twoVCHs(t)
	cases := []struct {
		name   string
		args   []string
		golden string
	}{
		{"table", nil, "ls-table.golden"},
		{"table-keyword", []string{"--format", "table"}, "ls-table.golden"},
		{"json", []string{"--format", "json"}, "ls-json.golden"},
		{"template", []string{"--format", "{{.Name}} {{.Status}} {{.Containers}}"}, "ls-template.golden"},
		{"table-template", []string{"--format", `table {{.Name}}\t{{.Public}}\t{{.Revision}}`}, "ls-table-template.golden"},
		{"quiet", []string{"-q"}, "ls-quiet.golden"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := e.mustRun(append([]string{"ls"}, c.args...)...)
			assert.Equal(t, r.err, "")
			golden.Assert(t, e.mask(r.out), c.golden)
		})
	}
}

func TestListEmpty(t *testing.T) {
	e := newTestEnv(t)
	r := e.mustRun("ls")
	assert.Equal(t, strings.TrimSpace(r.out), "ID        NAME      PATH      PUBLIC    ENDPOINTS   CONTAINERS   STATUS")
	r = e.mustRun("ls", "-q")
	assert.Equal(t, r.out, "")
}

func TestListBadTemplate(t *testing.T) {
	e := newTestEnv(t)
	e.mustRun("create", "--name", "vch1", "--no-context")
	r := e.run("ls", "--format", "{{.Nope}}")
	assert.ErrorContains(t, r.status, `invalid --format "{{.Nope}}": `)
}
