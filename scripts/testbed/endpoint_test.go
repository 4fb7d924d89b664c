//go:build linux

package main

import (
	"net/netip"
	"os"
	"strings"
	"testing"

	"gotest.tools/v3/assert"
	"gotest.tools/v3/assert/cmp"

	"github.com/docker-vic/docker-vic/api/vchdoc"
	"github.com/docker-vic/docker-vic/config"
	"github.com/google/go-cmp/cmp/cmpopts"
)

// vic-endpoint's command line carries no password: the login comes from the credentials file,
// and a restart, which reads the target back from the env file, starts it the same way.
func TestEndpointReadsTheLoginFromTheCredentialsFileAlsoAfterRestart(t *testing.T) {
	tb := &testbed{dir: t.TempDir()}
	vs := testVsphere(t)
	assert.NilError(t, writePrivate(tb.path(credentialsFile), credentials(vs)))
	assert.NilError(t, tb.writeEnv(vs))

	args := tb.endpointArgs(vs)
	assert.Check(t, !strings.Contains(strings.Join(args, " "), "pass"), "password on the command line: %v", args)
	assert.Check(t, cmp.Contains(strings.Join(args, " "), "--credentials "+tb.path(credentialsFile)))
	assert.Check(t, cmp.Contains(strings.Join(args, " "), "--target https://127.0.0.1:8989/sdk"))

	_, vars, err := tb.readEnv()
	assert.NilError(t, err)
	again, err := vsphereFromEnv(vars)
	assert.NilError(t, err)
	assert.DeepEqual(t, tb.endpointArgs(again), args)

	b, err := os.ReadFile(tb.path(credentialsFile))
	assert.NilError(t, err)
	assert.Equal(t, string(b), "VIC_USER=user\nVIC_PASSWORD=pass\n")
	st, err := os.Stat(tb.path(credentialsFile))
	assert.NilError(t, err)
	assert.Equal(t, st.Mode().Perm(), os.FileMode(0o600))
}

func TestCreateArgsDescribeTheVCH(t *testing.T) {
	got := strings.Join(createArgs(), " ")
	for _, want := range []string{
		"--name vch-testbed",
		"--public-network Docker-Public --public-network-ip 198.51.100.2/24 --public-network-gateway 198.51.100.1",
		"--client-network VIC-Client --client-network-ip 203.0.113.2/26",
		"--management-network VIC-Management --management-network-ip 203.0.113.98/27",
		"--container-network External-Consumer:consumer --container-network-firewall External-Consumer:published",
		"--container-network-gateway External-Consumer:203.0.113.129/26 --container-network-ip-range External-Consumer:203.0.113.140-203.0.113.160",
		"--container-network VIC-Container-Network:containers --container-network-firewall VIC-Container-Network:peers --no-context --appliance-iso none",
	} {
		assert.Check(t, cmp.Contains(got, want))
	}
}

func TestParseNICs(t *testing.T) {
	nics, err := parseNICs([]byte(`{"Name":"vch-testbed","NICs":[
		{"PortGroup":"Docker-Public","MAC":"00:0c:29:33:35:39","Roles":["public"],"Aliases":null,"Address":""},
		{"PortGroup":"External-Consumer","MAC":"00:0c:29:37:35:39","Roles":["container"],"Aliases":["consumer"]}]}`))
	assert.NilError(t, err)
	assert.DeepEqual(t, nics, []vchdoc.NIC{
		{PortGroup: "Docker-Public", MAC: "00:0c:29:33:35:39", Roles: []config.Role{config.RolePublic}},
		{PortGroup: "External-Consumer", MAC: "00:0c:29:37:35:39", Roles: []config.Role{config.RoleContainer}, Aliases: []string{"consumer"}},
	}, cmpopts.EquateComparable(netip.Addr{}))
}
