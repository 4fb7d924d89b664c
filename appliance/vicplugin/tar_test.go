package vicplugin

import (
	"archive/tar"
	"io"
	"os"
	"path/filepath"
	"testing"

	"gotest.tools/v3/assert"
)

// TestTarDir: the archive holds the directory's files with their modes, its symbolic links
// as links and its empty directories, by paths relative to it, owned by root.
func TestTarDir(t *testing.T) {
	dir := t.TempDir()
	for _, d := range []string{"rootfs/usr/sbin", "rootfs/tmp"} {
		assert.NilError(t, os.MkdirAll(filepath.Join(dir, d), 0o755))
	}
	assert.NilError(t, os.Chmod(filepath.Join(dir, "rootfs/tmp"), os.ModeSticky|0o777))
	assert.NilError(t, os.WriteFile(filepath.Join(dir, "config.json"), []byte("{}"), 0o644))
	assert.NilError(t, os.WriteFile(filepath.Join(dir, "rootfs/vic-endpoint"), []byte("#!"), 0o755))
	assert.NilError(t, os.Symlink("usr/sbin", filepath.Join(dir, "rootfs/sbin")))

	r := tarDir(dir)
	defer r.Close()
	got := map[string]string{}
	tr := tar.NewReader(r)
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		assert.NilError(t, err)
		b, err := io.ReadAll(tr)
		assert.NilError(t, err)
		assert.Equal(t, hdr.Uid, 0)
		got[hdr.Name] = string(hdr.Typeflag) + " " + hdr.FileInfo().Mode().String() + " " + hdr.Linkname + string(b)
	}
	assert.DeepEqual(t, got, map[string]string{
		"config.json":         "0 -rw-r--r-- {}",
		"rootfs/":             "5 drwxr-xr-x ",
		"rootfs/sbin":         "2 Lrwxrwxrwx usr/sbin",
		"rootfs/tmp/":         "5 dtrwxrwxrwx ",
		"rootfs/usr/":         "5 drwxr-xr-x ",
		"rootfs/usr/sbin/":    "5 drwxr-xr-x ",
		"rootfs/vic-endpoint": "0 -rwxr-xr-x #!",
	})
}
