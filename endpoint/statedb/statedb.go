// Package statedb owns the file of the endpoint's state database, which both vic drivers share.
// It opens the file without trusting it blindly: a truncated or damaged file, or one with a
// record its component cannot decode, is moved aside (never a panic), and Lost says when the content cannot be trusted to remove anything from
// the kernel on its word: a missing, empty or damaged database, or a rebuild that did not
// finish. The daemon then rebuilds the state from Docker and the kernel and calls Rebuilt.
// Backup keeps the last good copy next to the database.
package statedb

import (
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"
)

// FileName is the database inside the state directory; BackupName its last good copy.
const (
	FileName   = "state.db"
	BackupName = FileName + ".bak"
)

// damagedSuffix starts the name a damaged database is moved to, before its UTC time.
const damagedSuffix = ".damaged-"

// lockTimeout bounds the wait for the database lock, held by a running daemon: a second one
// gives up after it.
const lockTimeout = 3 * time.Second

// The bucket of this package, and the status of the content it records: complete, or being
// rebuilt (a rebuild that did not finish leaves it so, and the next start rebuilds again).
var (
	bucketStatus = []byte("vic.state")
	keyStatus    = []byte("status")
	statusDone   = []byte("complete")
	statusBusy   = []byte("rebuilding")
)

// DB is the open state database.
type DB struct {
	*bolt.DB
	path string

	mu sync.Mutex
	// lost says why the content cannot be trusted; "" once it can.
	lost string
	// backupTx is the transaction the last backup copied.
	backupTx int
}

// Open opens (creating) the state database in dir, root-only. A damaged file, or one holding a
// record that records cannot decode, is moved aside as state.db.damaged-TIME and an empty
// database takes its place. Lost then says why the content cannot be trusted; an untrusted
// database is emptied and marked as being rebuilt. An error is one sentence naming the file
// and what to do.
func Open(dir string, log *slog.Logger, records ...RecordCheck) (*DB, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("creating the state directory %q: %w", dir, err)
	}
	path := filepath.Join(dir, FileName)
	lost, err := inspect(path, log, records)
	if err != nil {
		return nil, err
	}
	db, err := openBolt(path)
	if errors.Is(err, ErrLocked) {
		return nil, lockedError(path, dir)
	}
	if err != nil {
		return nil, fmt.Errorf("state database %q cannot be opened (%v): move it away and start vic-endpoint again, which rebuilds it from docker and the kernel", path, err)
	}
	d := &DB{DB: db, path: path, backupTx: -1}
	if d.lost, err = d.settle(lost); err != nil {
		db.Close()
		return nil, fmt.Errorf("state database %q: recording its status: %w", path, err)
	}
	return d, nil
}

// inspect says why the file at path cannot be trusted, "" when it looks sound, and moves a
// damaged one aside.
func inspect(path string, log *slog.Logger, records []RecordCheck) (string, error) {
	info, err := os.Stat(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return fmt.Sprintf("state database %q is missing", path), nil
	case err != nil:
		return "", fmt.Errorf("state database %q cannot be read: %w", path, err)
	case info.Size() == 0:
		return fmt.Sprintf("state database %q is empty", path), nil
	}
	checkErr := Check(path, records...)
	if errors.Is(checkErr, ErrLocked) {
		return "", lockedError(path, filepath.Dir(path))
	}
	if checkErr == nil {
		return "", nil
	}
	aside := path + damagedSuffix + time.Now().UTC().Format("20060102T150405Z")
	for i := 1; exists(aside); i++ {
		aside = fmt.Sprintf("%s%s%s.%d", path, damagedSuffix, time.Now().UTC().Format("20060102T150405Z"), i)
	}
	if err := os.Rename(path, aside); err != nil {
		return "", fmt.Errorf("state database %q is damaged (%v) and cannot be moved aside (%v): move it away and start vic-endpoint again", path, checkErr, err)
	}
	log.Error("the state database is damaged: moved aside", "file", path, "damage", checkErr, "kept", aside)
	return fmt.Sprintf("state database %q was damaged (%v) and is kept as %q", path, checkErr, aside), nil
}

func exists(path string) bool {
	_, err := os.Lstat(path)
	return err == nil
}

func lockedError(path, dir string) error {
	return fmt.Errorf("state database %q is locked: another vic-endpoint is running with --state-dir %q", path, dir)
}

// openBolt opens the database read-write, turning a panic of bbolt into an error. The free
// pages are found again at open rather than written at every commit: a commit (one per
// container start) then costs the same however many ports were published and revoked before.
func openBolt(path string) (db *bolt.DB, err error) {
	defer func() {
		if r := recover(); r != nil {
			db, err = nil, fmt.Errorf("bbolt failed: %v", r)
		}
	}()
	db, err = bolt.Open(path, 0o600, &bolt.Options{Timeout: lockTimeout, NoFreelistSync: true, FreelistType: bolt.FreelistMapType})
	if errors.Is(err, bolt.ErrTimeout) {
		return nil, ErrLocked
	}
	return db, err
}

// settle reads the recorded status and returns why the content cannot be trusted: lost, a
// rebuild that did not finish, or no content at all. An untrusted database is emptied and
// marked as being rebuilt; a trusted one written by an older version is marked complete.
func (d *DB) settle(lost string) (string, error) {
	err := d.Update(func(tx *bolt.Tx) error {
		var status []byte
		if b := tx.Bucket(bucketStatus); b != nil {
			status = b.Get(keyStatus)
		}
		hasData := false
		_ = tx.ForEach(func(name []byte, b *bolt.Bucket) error {
			hasData = hasData || string(name) != string(bucketStatus) && holdsValues(b)
			return nil
		})
		switch {
		case lost != "":
		case string(status) == string(statusBusy):
			lost = fmt.Sprintf("state database %q holds a rebuild that did not finish", d.path)
		case status == nil && !hasData:
			lost = fmt.Sprintf("state database %q is empty", d.path)
		case status == nil:
			return putStatus(tx, statusDone) // written before the status was recorded
		default:
			return nil
		}
		var names [][]byte
		_ = tx.ForEach(func(name []byte, _ *bolt.Bucket) error {
			names = append(names, append([]byte(nil), name...))
			return nil
		})
		for _, name := range names {
			if err := tx.DeleteBucket(name); err != nil {
				return err
			}
		}
		return putStatus(tx, statusBusy)
	})
	return lost, err
}

// holdsValues reports whether b or a bucket inside it holds a value: buckets alone are what
// the drivers create at every start.
func holdsValues(b *bolt.Bucket) bool {
	found := false
	_ = b.ForEach(func(k, v []byte) error {
		if v != nil {
			found = true
		} else if sub := b.Bucket(k); sub != nil && holdsValues(sub) {
			found = true
		}
		if found {
			return errStop
		}
		return nil
	})
	return found
}

// errStop ends a ForEach early.
var errStop = errors.New("stop")

func putStatus(tx *bolt.Tx, status []byte) error {
	b, err := tx.CreateBucketIfNotExists(bucketStatus)
	if err != nil {
		return err
	}
	return b.Put(keyStatus, status)
}

// Path is the database's file.
func (d *DB) Path() string { return d.path }

// Lost says why the content cannot be trusted to remove kernel state on its word, "" when it
// can.
func (d *DB) Lost() string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.lost
}

// Rebuilt records that the state was rebuilt in full: the content is trusted from now on.
func (d *DB) Rebuilt() error {
	if err := d.Update(func(tx *bolt.Tx) error { return putStatus(tx, statusDone) }); err != nil {
		return fmt.Errorf("state database %q: recording the end of the rebuild: %w", d.path, err)
	}
	d.mu.Lock()
	d.lost = ""
	d.mu.Unlock()
	return nil
}
