package vchdoc

import (
	"bytes"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp/cmpopts"
	"gotest.tools/v3/assert"

	"github.com/docker-vic/docker-vic/config"
)

// TestRoundTrip writes the document as `docker vic inspect --format json` does and reads it
// back as `vic-endpoint --config` does: nothing the endpoint relies on is lost.
func TestRoundTrip(t *testing.T) {
	cfg := config.New("vch1")
	cfg.Public.PortGroup = "Docker-Public"
	cfg.Public.IP = netip.MustParsePrefix("198.51.100.2/24")
	cfg.ContainerNetworks = []config.ContainerNetwork{{PortGroup: "External-Consumer", Alias: "consumer",
		Gateway: netip.MustParsePrefix("203.0.113.129/26")}}
	cfg.DNS = []netip.Addr{netip.MustParseAddr("198.51.100.53")}
	cfg.ApplyDefaults()
	want := &VCH{
		ID: "vm-42", Name: "vch1", Path: "/DC0/host/DC0_C0/Resources/vch1", PowerState: "poweredOn",
		Config: cfg,
		NICs: []NIC{
			{PortGroup: "Docker-Public", MAC: "00:50:56:00:00:01", Roles: []config.Role{config.RolePublic, config.RoleClient},
				Address: netip.MustParseAddr("198.51.100.2")},
			{PortGroup: "External-Consumer", MAC: "00:50:56:00:00:02", Roles: []config.Role{config.RoleContainer},
				Aliases: []string{"consumer"}},
		},
		PublicAddress: netip.MustParseAddr("198.51.100.2"),
		Containers:    3, Running: 2,
	}
	want.Endpoints = []Endpoint{
		{Number: 1, ID: "vm-42", Name: "vch1", Host: "esx1", PowerState: "poweredOn", NICs: want.NICs, PublicAddress: want.PublicAddress},
		{Number: 2, ID: "vm-43", Name: "vch1-2", Host: "esx2", PowerState: "poweredOn", NICs: []NIC{
			{PortGroup: "Docker-Public", MAC: "00:50:56:00:00:03", Roles: []config.Role{config.RolePublic, config.RoleClient},
				Address: netip.MustParseAddr("198.51.100.3")},
		}, PublicAddress: netip.MustParseAddr("198.51.100.3")},
	}
	cfg.Endpoints = 2
	cfg.Public.MoreIPs = []netip.Prefix{netip.MustParsePrefix("198.51.100.3/24")}
	var buf bytes.Buffer
	assert.NilError(t, Write(&buf, want))
	path := filepath.Join(t.TempDir(), "vch1.json")
	assert.NilError(t, os.WriteFile(path, buf.Bytes(), 0o600))

	got, err := Read(path)
	assert.NilError(t, err)
	assert.DeepEqual(t, got, want, cmpopts.EquateComparable(netip.Addr{}, netip.Prefix{}))
}

// TestOldDocumentHasOneEndpoint: a document written before VCHs had several endpoints lists
// none; its one endpoint is the VCH's top-level VM.
func TestOldDocumentHasOneEndpoint(t *testing.T) {
	v, err := Decode(strings.NewReader(`{"ID": "vm-42", "Name": "vch1", "PowerState": "poweredOn",
		"NICs": [{"PortGroup": "VM Network", "MAC": "00:50:56:00:00:01"}], "PublicAddress": "198.51.100.2",
		"Config": {"version": 1, "name": "vch1"}}`))
	assert.NilError(t, err)
	assert.Equal(t, v.Config.EndpointCount(), 1)
	eps := v.EndpointList()
	assert.Equal(t, len(eps), 1)
	assert.Equal(t, eps[0].Number, 1)
	assert.Equal(t, eps[0].ID, "vm-42")
	assert.Equal(t, eps[0].NICs[0].MAC, "00:50:56:00:00:01")
	assert.Equal(t, eps[0].PublicAddress.String(), "198.51.100.2")
}

func TestReadRefusesOtherFiles(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct{ name, content, want string }{
		{"notjson", "vch1: yes\n", "is not the JSON of `docker vic inspect NAME --format json`"},
		{"noconfig", `{"Name": "vch1"}`, "has no Config: write it with `docker vic inspect NAME --format json`"},
	} {
		path := filepath.Join(dir, tc.name)
		assert.NilError(t, os.WriteFile(path, []byte(tc.content), 0o600))
		_, err := Read(path)
		assert.ErrorContains(t, err, tc.want)
		assert.Assert(t, strings.Contains(err.Error(), path), "the error names the file: %v", err)
	}
	_, err := Read(filepath.Join(dir, "missing"))
	assert.ErrorContains(t, err, "reading the configuration file")
}
