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
	var buf bytes.Buffer
	assert.NilError(t, Write(&buf, want))
	path := filepath.Join(t.TempDir(), "vch1.json")
	assert.NilError(t, os.WriteFile(path, buf.Bytes(), 0o600))

	got, err := Read(path)
	assert.NilError(t, err)
	assert.DeepEqual(t, got, want, cmpopts.EquateComparable(netip.Addr{}, netip.Prefix{}))
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
