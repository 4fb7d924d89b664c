package liveconfig

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"gotest.tools/v3/assert"

	"github.com/docker-vic/docker-vic/api/vchdoc"
	"github.com/docker-vic/docker-vic/config"
)

// testDoc is the document of VCH vch1 with NICs on its public and bridge port groups.
func testDoc() *vchdoc.VCH {
	cfg := config.New("vch1")
	cfg.Public.PortGroup = "Docker-Public"
	cfg.Bridge.PortGroup = "vch1-bridge"
	cfg.ApplyDefaults()
	return &vchdoc.VCH{Name: "vch1", Config: cfg, NICs: []vchdoc.NIC{
		{PortGroup: "Docker-Public", MAC: "00:50:56:aa:bb:01"},
		{PortGroup: "vch1-bridge", MAC: "00:50:56:aa:bb:02"},
	}}
}

// writeDoc writes v to path as `docker vic inspect vch1 --format json` does.
func writeDoc(t *testing.T, path string, v *vchdoc.VCH) {
	t.Helper()
	f, err := os.Create(path)
	assert.NilError(t, err)
	assert.NilError(t, vchdoc.Write(f, v))
	assert.NilError(t, f.Close())
}

func TestFileRead(t *testing.T) {
	path := filepath.Join(t.TempDir(), "vch1.json")
	v := testDoc()
	v.Name = "" // a document written by hand may leave it out
	v.Config.ContainerNetworks = []config.ContainerNetwork{{PortGroup: "External-Consumer"}}
	writeDoc(t, path, v)

	src, target, err := Open(Options{File: path, VCH: "vch1"})
	assert.NilError(t, err)
	assert.Assert(t, target == nil, "a file source has no vSphere target")
	got, err := src.Read(context.Background())
	assert.NilError(t, err)
	assert.Equal(t, got.Name, "vch1")
	assert.Equal(t, got.Config.ContainerNetworks[0].Alias, "External-Consumer", "defaults applied")
	assert.NilError(t, src.Close(context.Background()))

	_, err = File{Path: path, VCH: "vch1"}.Read(context.Background())
	assert.NilError(t, err)
	v.Name = "vch2"
	writeDoc(t, path, v)
	_, err = File{Path: path, VCH: "vch1"}.Read(context.Background())
	assert.Error(t, err, "configuration file "+path+` describes VCH "vch2", not "vch1"`)

	_, err = File{Path: filepath.Join(t.TempDir(), "none.json")}.Read(context.Background())
	assert.ErrorContains(t, err, "reading the configuration file")
}

func TestOptionsValidate(t *testing.T) {
	tests := []struct {
		o       Options
		wantErr string
	}{
		{o: Options{File: "f"}},
		{o: Options{VCH: "vch1", Target: "vc"}},
		{o: Options{}, wantErr: "no VCH to serve: give --config FILE, or --vch NAME with --target"},
		{o: Options{File: "f", Target: "vc"}, wantErr: "--config and --target exclude each other: the configuration comes from one of them"},
	}
	for _, tt := range tests {
		err := tt.o.Validate()
		if tt.wantErr == "" {
			assert.NilError(t, err, "%+v", tt.o)
			continue
		}
		assert.Error(t, err, tt.wantErr)
	}
}
