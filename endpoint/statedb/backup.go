package statedb

import (
	"fmt"
	"os"
	"path/filepath"

	bolt "go.etcd.io/bbolt"
)

// BackupPath is the last good copy of the database.
func (d *DB) BackupPath() string { return filepath.Join(filepath.Dir(d.path), BackupName) }

// Backup copies the database to state.db.bak when its content is trusted and changed since
// the last copy, and reports whether it wrote one. The copy is written beside it and renamed
// over the old one, so that a crash keeps the previous copy whole.
func (d *DB) Backup() (bool, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.lost != "" {
		return false, nil // only a trusted database is worth keeping
	}
	dst := d.BackupPath()
	wrote := false
	err := d.View(func(tx *bolt.Tx) error {
		if tx.ID() == d.backupTx {
			return nil
		}
		if err := writeCopy(tx, dst); err != nil {
			return err
		}
		d.backupTx, wrote = tx.ID(), true
		return nil
	})
	if err != nil {
		return false, fmt.Errorf("backing up state database %q to %q: %w", d.path, dst, err)
	}
	return wrote, nil
}

// writeCopy writes the database as tx sees it to dst, through a temporary file.
func writeCopy(tx *bolt.Tx, dst string) error {
	tmp := dst + ".tmp"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	_, err = tx.WriteTo(f)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, dst)
	}
	if err != nil {
		_ = os.Remove(tmp)
		return err
	}
	if dir, err := os.Open(filepath.Dir(dst)); err == nil {
		_ = dir.Sync()
		dir.Close()
	}
	return nil
}
