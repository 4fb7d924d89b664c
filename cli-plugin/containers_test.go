package main

import (
	"strings"
	"testing"

	"gotest.tools/v3/assert"
)

func TestContainersListsContainerVMs(t *testing.T) {
	e := twoVCHs(t)
	r := e.mustRun("containers", "vch1")
	assert.Equal(t, r.err, "")
	lines := strings.Split(strings.TrimSpace(r.out), "\n")
	assert.Equal(t, len(lines), 3, r.out)
	assert.Assert(t, strings.HasPrefix(lines[0], "VM "), lines[0])
	assert.Assert(t, strings.Contains(lines[0], "CONTAINER ID") && strings.Contains(lines[0], "ENDPOINT") && strings.Contains(lines[0], "NICS"), lines[0])
	// A container VM that records no endpoint is run by the VM named after the VCH.
	assert.Assert(t, strings.HasPrefix(lines[1], "web-1 ") && strings.Fields(lines[1])[2] == "poweredOn" && strings.Fields(lines[1])[3] == "vch1", lines[1])
	assert.Assert(t, strings.HasPrefix(lines[2], "web-2 ") && strings.Contains(lines[2], "poweredOff"), lines[2])

	r = e.mustRun("containers", "vch2", "--format", "{{.Name}}")
	assert.Equal(t, r.out, "")
	r = e.mustRun("containers", "vch1", "--format", "json")
	assert.Assert(t, strings.Contains(r.out, `"ContainerID":"c0ffeeweb-1"`), r.out)
	assert.Assert(t, strings.Contains(r.out, `"Endpoint":"vch1"`), r.out)

	r = e.run("containers", "nothere")
	assert.ErrorContains(t, r.status, `no VCH named "nothere"`)
}
