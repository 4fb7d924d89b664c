package liveconfig

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"gotest.tools/v3/assert"
)

// TestStoredSaveAndLoad: the document is written root-only, read back as served, rewritten
// only when it changed (not for the counts of container VMs), and refused for another VCH.
func TestStoredSaveAndLoad(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "state")
	s := &Stored{Path: filepath.Join(dir, StoredFile), VCH: "vch1"}
	_, err := s.Load()
	assert.Assert(t, errors.Is(err, ErrNothingStored), "got %v", err)

	v := testDoc()
	v.Config.Revision = 3
	wrote, err := s.Save(v)
	assert.NilError(t, err)
	assert.Assert(t, wrote)
	st, err := os.Stat(s.Path)
	assert.NilError(t, err)
	assert.Equal(t, st.Mode().Perm(), os.FileMode(0o600))
	dirSt, err := os.Stat(dir)
	assert.NilError(t, err)
	assert.Equal(t, dirSt.Mode().Perm(), os.FileMode(0o700))

	got, err := (&Stored{Path: s.Path, VCH: "vch1"}).Load()
	assert.NilError(t, err)
	assert.Equal(t, got.Config.Revision, 3)
	assert.Equal(t, got.NICs[0].MAC, "00:50:56:aa:bb:01")

	v.Containers, v.Running = 7, 5
	wrote, err = s.Save(v)
	assert.NilError(t, err)
	assert.Assert(t, !wrote, "the counts of container VMs rewrote the file")
	wrote, err = (&Stored{Path: s.Path, VCH: "vch1"}).Save(v)
	assert.NilError(t, err)
	assert.Assert(t, !wrote, "a new Stored rewrote the same document")

	v.Config.Revision = 4
	wrote, err = s.Save(v)
	assert.NilError(t, err)
	assert.Assert(t, wrote, "a new revision was not stored")
	entries, err := os.ReadDir(dir)
	assert.NilError(t, err)
	assert.Equal(t, len(entries), 1, "temporary files left: %v", entries)

	_, err = (&Stored{Path: s.Path, VCH: "vch2"}).Load()
	assert.Error(t, err, "stored configuration "+s.Path+` describes VCH "vch1", not "vch2": it is not used`)
}

// TestStoredSaveFailureLeavesNothing: a write that fails leaves no temporary file behind.
func TestStoredSaveFailureLeavesNothing(t *testing.T) {
	dir := t.TempDir()
	s := &Stored{Path: filepath.Join(dir, StoredFile), VCH: "vch1"}
	assert.NilError(t, os.MkdirAll(filepath.Join(s.Path, "in-the-way"), 0o700))
	_, err := s.Save(testDoc())
	assert.ErrorContains(t, err, `storing the configuration of VCH "vch1"`)
	entries, err := os.ReadDir(dir)
	assert.NilError(t, err)
	assert.Equal(t, len(entries), 1, "left behind: %v", entries)
}
