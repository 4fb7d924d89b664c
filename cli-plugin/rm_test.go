package main

import (
	"os"
	"testing"

	"gotest.tools/v3/assert"
)

func TestRemoveRefusedWithRunningContainers(t *testing.T) {
	e := newTestEnv(t)
	e.mustRun(createArgs...)
	e.addContainerVM("vch1", "web-1", true)
	before := e.inventory()

	r := e.run("rm", "vch1")
	assert.Error(t, r.status, "1 of 1 VCHs could not be removed")
	assert.Equal(t, r.err, `VCH "vch1" has powered-on container VMs "web-1": stop them or remove with --force`+"\n")
	assert.Equal(t, r.out, "")
	assert.Equal(t, e.inventory(), before)
	_, err := e.contexts.GetMetadata("vch1")
	assert.NilError(t, err, "the context went with a refused rm")
	assert.Assert(t, hasTLSFiles(e.certDir("vch1")))

	r = e.mustRun("rm", "--force", "vch1")
	assert.Equal(t, r.out, "vch1\n")
	assert.Equal(t, e.inventory(), initialInventory(t))
	_, err = e.contexts.GetMetadata("vch1")
	assert.Assert(t, err != nil, "the context of a removed VCH is left")
	_, err = os.Stat(e.certDir("vch1"))
	assert.Assert(t, os.IsNotExist(err), "TLS directory left behind")
}

func TestRemoveSeveral(t *testing.T) {
	e := newTestEnv(t)
	e.mustRun("create", "--name", "vch1", "--no-context")
	e.mustRun("create", "--name", "vch2", "--no-context")
	e.addContainerVM("vch2", "db-1", false)

	r := e.run("rm", "vch1", "nope", "vch2")
	assert.Error(t, r.status, "1 of 3 VCHs could not be removed")
	assert.Equal(t, r.out, "vch1\nvch2\n")
	assert.Equal(t, r.err, `no VCH named "nope" in datacenter "DC0"`+"\n")
	assert.Equal(t, e.inventory(), initialInventory(t))

	r = e.mustRun("rm", "--force", "nope")
	assert.Equal(t, r.out+r.err, "")
}

// initialInventory is the inventory of a fresh test environment.
func initialInventory(t *testing.T) string {
	t.Helper()
	return newTestEnv(t).inventory()
}
