package liveconfig

import (
	"os"
	"path/filepath"
	"testing"

	"gotest.tools/v3/assert"
)

func TestReadCredentials(t *testing.T) {
	dir := t.TempDir()
	write := func(name, text string, mode os.FileMode) string {
		p := filepath.Join(dir, name)
		assert.NilError(t, os.WriteFile(p, []byte(text), mode))
		assert.NilError(t, os.Chmod(p, mode))
		return p
	}
	good := write("good", "# vSphere\nVIC_USER=admin\nVIC_PASSWORD='s3cret=x'\n", 0o600)
	creds, err := readCredentials(good)
	assert.NilError(t, err)
	assert.DeepEqual(t, creds, map[string]string{"VIC_USER": "admin", "VIC_PASSWORD": "s3cret=x"})

	open := write("open", "VIC_USER=admin\n", 0o644)
	_, err = readCredentials(open)
	assert.Error(t, err, "credentials file "+open+" is open to group or others (mode 0644): make it root-only with chmod 600")

	bad := write("bad", "VIC_TARGET=vc\n", 0o600)
	_, err = readCredentials(bad)
	assert.Error(t, err, "credentials file "+bad+" line 1: want VIC_USER, VIC_PASSWORD, GOVC_USERNAME or GOVC_PASSWORD=VALUE")

	empty := write("empty", "# nothing\n", 0o600)
	_, err = readCredentials(empty)
	assert.Error(t, err, "credentials file "+empty+" holds no credentials")
}
