package statedb

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"golang.org/x/sys/unix"
)

// Lock takes the lock a running vic-endpoint holds on the database in dir, without reading the
// file, which may be damaged: teardown needs only to know that no daemon runs. A missing
// database needs no lock. Call the function returned to release it.
func Lock(dir string) (func(), error) {
	path := filepath.Join(dir, FileName)
	f, err := os.OpenFile(path, os.O_RDONLY, 0)
	if errors.Is(err, fs.ErrNotExist) {
		return func() {}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("state database %q cannot be opened: %w", path, err)
	}
	for end := time.Now().Add(lockTimeout); ; time.Sleep(50 * time.Millisecond) {
		err = unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB)
		if err == nil {
			return func() { f.Close() }, nil
		}
		if !errors.Is(err, unix.EWOULDBLOCK) || time.Now().After(end) {
			break
		}
	}
	f.Close()
	if errors.Is(err, unix.EWOULDBLOCK) {
		return nil, lockedError(path, dir)
	}
	return nil, fmt.Errorf("state database %q: taking its lock: %w", path, err)
}
