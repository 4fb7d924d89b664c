//go:build linux

package daemon

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	bolt "go.etcd.io/bbolt"
)

// stateFile is the database both drivers share, inside the state directory.
const stateFile = "state.db"

// dbLockTimeout bounds the wait for the database lock, held by a running daemon.
const dbLockTimeout = 3 * time.Second

// openState opens (creating) the state database, root-only. A running daemon holds its lock:
// a second one gives up after dbLockTimeout.
func openState(dir string) (*bolt.DB, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("creating the state directory: %w", err)
	}
	path := filepath.Join(dir, stateFile)
	// The free-page list is rebuilt at open rather than written at every commit: a commit
	// (one per container start) then costs the same however many ports were published and
	// revoked before it.
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: dbLockTimeout, NoFreelistSync: true, FreelistType: bolt.FreelistMapType})
	if errors.Is(err, bolt.ErrTimeout) {
		return nil, fmt.Errorf("state database %q is locked: another vic-endpoint is running with --state-dir %q", path, dir)
	}
	if err != nil {
		return nil, fmt.Errorf("opening the state database %q: %w", path, err)
	}
	return db, nil
}
