package main

import (
	"strings"
	"testing"

	"gotest.tools/v3/assert"
	is "gotest.tools/v3/assert/cmp"
	"gotest.tools/v3/golden"

	"github.com/docker-vic/docker-vic/api/vchdoc"
)

// severalArgs create VCH vch1 of two endpoints with static public addresses, one each.
var severalArgs = []string{
	"create", "--name", "vch1", "--appliance-iso", "none", "--no-context", "--endpoints", "2",
	"--public-network-ip", "198.51.100.10/24,198.51.100.11/24", "--public-network-gateway", "198.51.100.1",
	"--container-network", "cnet-a:web",
}

func TestEndpointsCreateListInspect(t *testing.T) {
	e := newTestEnv(t)
	r := e.mustRun(severalArgs...)
	assert.Assert(t, is.Contains(r.out, `  keeping the 2 endpoint VMs of VCH "vch1" on different hosts: anti-affinity rule "vch1-endpoints"...`))
	assert.Assert(t, is.Contains(r.out, `  powering on endpoint VM "vch1-2"...`))

	r = e.mustRun("ls", "--format", "{{.Name}} {{.Endpoints}} {{.Public}}")
	assert.Equal(t, r.out, "vch1 2 198.51.100.10\n")

	r = e.mustRun("inspect", "vch1")
	golden.Assert(t, e.mask(r.out), "inspect-endpoints.golden")

	r = e.mustRun("inspect", "vch1", "--format", "json")
	v, err := vchdoc.Decode(strings.NewReader(r.out))
	assert.NilError(t, err)
	assert.Equal(t, len(v.Endpoints), 2)
	assert.Equal(t, v.Endpoints[1].Name, "vch1-2")
	assert.Equal(t, v.Endpoints[1].PublicAddress.String(), "198.51.100.11")
	assert.Equal(t, v.NICs[0].MAC, v.Endpoints[0].NICs[0].MAC, "endpoint 1's NICs stay the document's")
	assert.Assert(t, v.AntiAffinity != nil && len(v.AntiAffinity.VMs) == 2, "rule %+v", v.AntiAffinity)

	r = e.mustRun("inspect", "vch1", "--format", "create-flags")
	assert.Assert(t, is.Contains(r.out, "--name vch1 --endpoints 2 "))
	assert.Assert(t, is.Contains(r.out, "--public-network-ip 198.51.100.10/24,198.51.100.11/24 "))

	// Down to one: the address of endpoint 2 goes with it.
	r = e.mustRun("configure", "vch1", "--endpoints", "1")
	assert.Assert(t, is.Contains(r.out, `  removing endpoint VM "vch1-2"...`))
	assert.Assert(t, is.Contains(r.out, "Endpoints: 1\n"))
	r = e.mustRun("ls", "--format", "{{.Name}} {{.Endpoints}}")
	assert.Equal(t, r.out, "vch1 1\n")
	r = e.mustRun("inspect", "vch1", "--format", "create-flags")
	assert.Assert(t, !strings.Contains(r.out, "--endpoints"), r.out)
	assert.Assert(t, is.Contains(r.out, "--public-network-ip 198.51.100.10/24 "))

	// Up to two again needs the new endpoint's address.
	r = e.run("configure", "vch1", "--endpoints", "2")
	assert.Error(t, r.status, `invalid --public-network-ip "198.51.100.10/24": a VCH of 2 endpoints needs 2 static public addresses, one per endpoint in endpoint order, or none for DHCP`)
	r = e.run("configure", "vch1", "--public-network-ip", "198.51.100.10/24")
	assert.Error(t, r.status, `invalid --public-network-ip "198.51.100.10/24": configure takes the addresses of the endpoints only with --endpoints, the count they are for`)
	e.mustRun("configure", "vch1", "--endpoints", "2", "--public-network-ip", "198.51.100.10/24", "--public-network-ip", "198.51.100.12/24")
	assert.Equal(t, e.get("vch1").Endpoints[1].PublicAddress.String(), "198.51.100.12")

	e.mustRun("rm", "vch1")
	r = e.mustRun("ls", "-q")
	assert.Equal(t, r.out, "")
	assert.Assert(t, !strings.Contains(e.inventory(), "vch1"), "rm left %s", e.inventory())
}

func TestEndpointsBadInput(t *testing.T) {
	e := newTestEnv(t)
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"one address for two", []string{"--public-network-ip", "198.51.100.10/24", "--public-network-gateway", "198.51.100.1"},
			`invalid --public-network-ip "198.51.100.10/24": a VCH of 2 endpoints needs 2 static public addresses, one per endpoint in endpoint order, or none for DHCP`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			args := append([]string{"create", "--name", "vch1", "--no-context", "--appliance-iso", "none", "--endpoints", "2"}, tc.args...)
			r := e.run(args...)
			assert.Error(t, r.status, tc.want)
		})
	}
	r := e.run("create", "--name", "vch1", "--no-context", "--appliance-iso", "none", "--endpoints", "3")
	assert.Error(t, r.status, `invalid --endpoints "3": cluster "/DC0/host/DC0_C0" has 2 usable hosts (connected, not in maintenance mode, on every port group of the VCH), and each endpoint of a VCH runs on a host of its own`)
	r = e.mustRun("ls", "-q")
	assert.Equal(t, r.out, "")
}
