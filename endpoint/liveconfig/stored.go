package liveconfig

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"

	"github.com/docker-vic/docker-vic/api/vchdoc"
)

// StoredFile is the name of the stored VCH document in the state directory.
const StoredFile = vchdoc.StoredFile

// ErrNothingStored says that no VCH document has been stored yet: the daemon never read its
// VCH from vSphere with this state directory.
var ErrNothingStored = errors.New("no VCH configuration is stored")

// Stored is the last VCH document read from vSphere, kept in the state directory so that the
// daemon can start while vCenter does not answer. It holds what `docker vic inspect NAME
// --format json` shows (the configuration with its revision, the endpoint VM's NICs and MACs):
// nothing secret. It is written atomically, root-only, and only when it changed.
type Stored struct {
	// Path is the file, StoredFile in the state directory.
	Path string
	// VCH is the VCH served: a document of another VCH is not used.
	VCH string

	mu   sync.Mutex
	last []byte // what the file holds, once read or written
}

// Load returns the stored document with the defaults of its configuration applied, or an error
// matching ErrNothingStored when there is none.
func (s *Stored) Load() (*vchdoc.VCH, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, err := os.Stat(s.Path); errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("%w in %s", ErrNothingStored, s.Path)
	}
	v, err := vchdoc.Read(s.Path)
	if err != nil {
		return nil, err
	}
	if v.Name != s.VCH {
		return nil, fmt.Errorf("stored configuration %s describes VCH %q, not %q: it is not used", s.Path, v.Name, s.VCH)
	}
	v.Config.ApplyDefaults()
	return v, nil
}

// Save stores v unless the file already holds the same document, and reports whether it wrote.
// The counts of container VMs, which change with every container, are left out.
func (s *Stored) Save(v *vchdoc.VCH) (bool, error) {
	doc := *v
	doc.Containers, doc.Running = 0, 0
	var buf bytes.Buffer
	if err := vchdoc.Write(&buf, &doc); err != nil {
		return false, fmt.Errorf("storing the configuration of VCH %q: %w", v.Name, err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.last == nil {
		s.last, _ = os.ReadFile(s.Path) // none yet, or unreadable: written below
	}
	if bytes.Equal(s.last, buf.Bytes()) {
		return false, nil
	}
	if err := writeAtomic(s.Path, buf.Bytes()); err != nil {
		return false, fmt.Errorf("storing the configuration of VCH %q: %w", v.Name, err)
	}
	s.last = buf.Bytes()
	return true, nil
}

// writeAtomic replaces path with data, root-only: a crash leaves the old file or the new one,
// never a part of either.
func writeAtomic(path string, data []byte) (err error) {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	if err := f.Chmod(0o600); err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		return err
	}
	if err := f.Sync(); err != nil {
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Rename(f.Name(), path); err != nil {
		return err
	}
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync() // the rename survives a power loss where the file system allows it
		d.Close()
	}
	return nil
}
