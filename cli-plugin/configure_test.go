package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"gotest.tools/v3/assert"
	is "gotest.tools/v3/assert/cmp"
)

func TestConfigureChanges(t *testing.T) {
	e := newTestEnv(t)
	e.mustRun(createArgs...)

	r := e.mustRun("configure", "vch1",
		"--container-network", "cnet-c:db", "--container-network-gateway", "cnet-c:198.51.100.129/25",
		"--container-network-ip-range", "cnet-a:203.0.113.64/27",
		"--container-network-dns", "cnet-a:203.0.113.54", "--container-network-dns", "cnet-a:203.0.113.55",
		"--container-network-firewall", "cnet-b:closed",
		"--dns-server", "198.51.100.99",
	)
	assert.Assert(t, is.Contains(r.out, `  adding NICs on "cnet-c" to endpoint VM "vch1" and storing revision 2...`))
	assert.Assert(t, is.Contains(r.out, `VCH "vch1" configured: revision 2`))

	r = e.mustRun("inspect", "vch1", "--format", "create-flags")
	assert.Equal(t, strings.TrimSpace(r.out), "docker vic create --name vch1 --compute-resource /DC0/host/DC0_C0 --image-store LocalDS_0"+
		" --public-network-ip 198.51.100.10/24 --public-network-gateway 198.51.100.1"+
		" --container-network cnet-a:web --container-network-gateway cnet-a:203.0.113.1/24"+
		" --container-network-ip-range cnet-a:203.0.113.64-203.0.113.95"+
		" --container-network-dns cnet-a:203.0.113.54 --container-network-dns cnet-a:203.0.113.55"+
		" --container-network-firewall cnet-a:peers"+
		" --container-network cnet-b --container-network-firewall cnet-b:closed"+
		" --container-network cnet-c:db --container-network-gateway cnet-c:198.51.100.129/25"+
		" --dns-server 198.51.100.99")
	assert.Equal(t, len(e.get("vch1").NICs), 5)
}

func TestConfigureNothingToChange(t *testing.T) {
	e := newTestEnv(t)
	r := e.run("configure", "vch1")
	assert.Error(t, r.status, "nothing to change: give at least one of --container-network, --container-network-gateway,"+
		" --container-network-ip-range, --container-network-dns, --container-network-firewall, --dns-server, --container-vms or --endpoints")
}

// TestConfigureBadInput checks that configure validates like create and changes nothing.
func TestConfigureBadInput(t *testing.T) {
	e := newTestEnv(t)
	e.mustRun(createArgs...)
	before := e.inventory()
	stored := toJSON(t, e.get("vch1").Config)
	cases := []struct {
		name string
		args []string
		want string
	}{
		{"unknown-vch", []string{"nope", "--dns-server", "198.51.100.1"}, `no VCH named "nope" in datacenter "DC0"`},
		{"keyed-unlisted", []string{"vch1", "--container-network-dns", "cnet-c:203.0.113.53"}, `invalid --container-network-dns "cnet-c:203.0.113.53": port group "cnet-c" is not a container network: add --container-network cnet-c`},
		{"bad-firewall", []string{"vch1", "--container-network-firewall", "cnet-a:wide"}, `invalid --container-network-firewall "cnet-a:wide": the level must be closed, outbound, published, peers or open`},
		{"range-outside-subnet", []string{"vch1", "--container-network-ip-range", "cnet-a:198.51.100.16/28"}, `invalid --container-network-ip-range "cnet-a:198.51.100.16-198.51.100.31": the range must lie inside the gateway's subnet 203.0.113.0/24`},
		{"range-on-dhcp-network", []string{"vch1", "--container-network-ip-range", "cnet-b:203.0.113.16/28"}, `invalid --container-network-ip-range "cnet-b:203.0.113.16-203.0.113.31": a range needs --container-network-gateway cnet-b:GW/MASK; without a gateway the port group's DHCP server hands out addresses`},
		{"alias-change", []string{"vch1", "--container-network", "cnet-a:www"}, `invalid --container-network "cnet-a:www": port group "cnet-a" is already the container network "web" and its alias cannot change`},
		{"alias-taken", []string{"vch1", "--container-network", "cnet-c:web"}, `invalid --container-network "cnet-c:web": the alias "web" is already used by port group "cnet-a"`},
		{"gateway-change", []string{"vch1", "--container-network-gateway", "cnet-a:203.0.113.254/24"}, `invalid --container-network-gateway "cnet-a:203.0.113.254/24": the gateway of existing container network "web" cannot change (it is 203.0.113.1/24): remove the VCH's containers on it and recreate the VCH`},
		{"bridge-as-container", []string{"vch1", "--container-network", "vch1"}, `invalid --bridge-network "vch1": the bridge port group is dedicated to one VCH and cannot also be a --container-network`},
		{"dns-too-many", []string{"vch1", "--dns-server", "198.51.100.1", "--dns-server", "198.51.100.2", "--dns-server", "198.51.100.3", "--dns-server", "198.51.100.4"}, `invalid --dns-server "198.51.100.4": at most 3 DNS servers are allowed`},
		{"dns-ipv6", []string{"vch1", "--container-network-dns", "cnet-a:2001:db8::53"}, `invalid --container-network-dns "2001:db8::53": only IPv4 DNS servers are supported`},
		{"missing-port-group", []string{"vch1", "--container-network", "cnet-x"}, `invalid --container-network "cnet-x": no port group of that name in datacenter "DC0"; did you mean "cnet-a", "cnet-b" or "cnet-c"?`},
		{"mac-policy", []string{"vch1", "--container-network", "locked"}, `invalid --container-network "locked": the port group blocks container MACs: forged transmits and promiscuous mode are rejected; allow forged transmits and promiscuous mode, or enable MAC learning, on the port group`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := e.run(append([]string{"configure"}, c.args...)...)
			assert.Error(t, r.status, c.want)
			assert.Equal(t, e.inventory(), before)
			assert.Equal(t, toJSON(t, e.get("vch1").Config), stored)
			assert.Equal(t, len(e.get("vch1").NICs), 4)
		})
	}
}

// TestContainerVMsSwitch: an admin who wants only the network mapping creates the VCH with
// --container-vms=false, sees it in inspect and the create flags, and turns VMs back on.
func TestContainerVMsSwitch(t *testing.T) {
	e := newTestEnv(t)
	e.mustRun("create", "--name", "vch2", "--no-context", "--container-vms=false")
	assert.Assert(t, e.get("vch2").Config.NoContainerVMs)
	r := e.mustRun("inspect", "vch2")
	assert.Assert(t, is.Contains(r.out, "Container VMs:  off (networks only)"))
	r = e.mustRun("inspect", "vch2", "--format", "create-flags")
	assert.Assert(t, strings.HasSuffix(strings.TrimSpace(r.out), " --container-vms=false"), r.out)

	e.mustRun("configure", "vch2", "--container-vms")
	assert.Assert(t, !e.get("vch2").Config.NoContainerVMs)
	e.mustRun("configure", "vch2", "--container-vms=false")
	assert.Assert(t, e.get("vch2").Config.NoContainerVMs)
	assert.Equal(t, e.get("vch2").Config.Revision, 3)

	r = e.run("configure", "vch2", "--container-vms=maybe")
	assert.ErrorContains(t, r.status, `"maybe" is not true or false`)
	assert.Equal(t, e.get("vch2").Config.Revision, 3)
}

// The endpoint's credentials go only to the new endpoints of an appliance swarm: on a VCH of
// host mode they are refused before anything changes.
func TestConfigureRefusesCredentialsWithoutAppliance(t *testing.T) {
	e := newTestEnv(t)
	e.mustRun(createArgs...)
	r := e.run("configure", "vch1", "--endpoints", "2", "--ops-user", "ops@vsphere.local", "--ops-password", "x",
		"--public-network-ip", "198.51.100.10/24,198.51.100.11/24")
	assert.Error(t, r.status, `invalid --ops-user "ops@vsphere.local": configure hands credentials only to the endpoints an appliance VCH of several endpoints gains`)
	assert.Equal(t, e.get("vch1").Config.Revision, 1)
}

// loadTLS reads back what create wrote, and refuses a CA key that is not the CA's.
func TestLoadTLS(t *testing.T) {
	dir := t.TempDir()
	m, err := newPKI("vch1")
	assert.NilError(t, err)
	assert.NilError(t, m.write(dir))
	got, err := loadTLS(dir)
	assert.NilError(t, err)
	assert.Assert(t, got.caKey.Equal(m.caKey))
	assert.DeepEqual(t, got.ClientCert, m.ClientCert)

	other, err := newPKI("vch2")
	assert.NilError(t, err)
	assert.NilError(t, os.WriteFile(filepath.Join(dir, fileCAKey), other.CAKey, 0o600))
	_, err = loadTLS(dir)
	assert.ErrorContains(t, err, "ca-key.pem is not the key of the CA in")

	_, err = loadTLS(filepath.Join(dir, "none"))
	assert.ErrorContains(t, err, "has no ca.pem: give the directory create wrote with --tls-cert-dir")
}
