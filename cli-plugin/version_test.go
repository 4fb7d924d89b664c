package main

import (
	"context"
	"fmt"
	"runtime"
	"testing"

	"github.com/spf13/cobra"
	"gotest.tools/v3/assert"

	"github.com/docker-vic/docker-vic/api/portsapi"
)

func TestVersion(t *testing.T) {
	e := newTestEnv(t)
	r := e.mustRun("version", "--endpoint-socket", "/nonexistent/vic.sock")
	assert.Equal(t, e.mask(r.out), fmt.Sprintf("docker-vic:  dev (%s, %s/%s)\n", runtime.Version(), runtime.GOOS, runtime.GOARCH)+
		"vSphere:     VMware vCenter Server 6.5.0 build-5973321 at http://127.0.0.1:<port>/sdk\n"+
		"Endpoint:    not reachable from this machine\n")

	e.conn.getenv = func(string) string { return "" }
	r = e.mustRun("version", "--endpoint-socket", "/nonexistent/vic.sock")
	assert.Equal(t, e.mask(r.out), fmt.Sprintf("docker-vic:  dev (%s, %s/%s)\n", runtime.Version(), runtime.GOOS, runtime.GOARCH)+
		"vSphere:     no target configured\n"+
		"Endpoint:    not reachable from this machine\n")
}

func TestCompleteVCHNames(t *testing.T) {
	e := newTestEnv(t)
	e.mustRun("create", "--name", "vch1", "--no-context")
	e.mustRun("create", "--name", "vch2", "--no-context")
	d := &deps{vsphere: e.conn, contexts: e.contexts, configDir: e.configDir}
	for _, c := range []struct {
		cmd  *cobra.Command
		args []string
		want []string
	}{
		{newInspectCommand(func() *deps { return d }), nil, []string{"vch1", "vch2"}},
		{newInspectCommand(func() *deps { return d }), []string{"vch1"}, nil},
		{newRemoveCommand(func() *deps { return d }), []string{"vch1"}, []string{"vch2"}},
		{newConfigureCommand(func() *deps { return d }), nil, []string{"vch1", "vch2"}},
	} {
		c.cmd.SetContext(e.ctx)
		got, directive := c.cmd.ValidArgsFunction(c.cmd, c.args, "")
		assert.DeepEqual(t, got, c.want)
		assert.Equal(t, directive, cobra.ShellCompDirectiveNoFileComp)
	}

	// Without a reachable vSphere, completion offers nothing and says nothing.
	e.conn.getenv = func(string) string { return "" }
	got, _ := newRemoveCommand(func() *deps { return d }).ValidArgsFunction(&cobra.Command{}, nil, "")
	assert.Equal(t, len(got), 0)
}

func TestEndpointVersion(t *testing.T) {
	got := daemonVersion(context.Background(), cannedPorts{&portsapi.Answer{Version: "0.1.0", Public: "198.51.100.2"}})
	assert.Equal(t, got, "0.1.0 (public address 198.51.100.2)")
}

type cannedPorts struct{ p *portsapi.Answer }

func (c cannedPorts) Ports(context.Context) (*portsapi.Answer, error) { return c.p, nil }
