package statedb

import (
	"bytes"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	bolt "go.etcd.io/bbolt"

	"github.com/docker-vic/docker-vic/endpoint/testlog"
)

var bucketData = []byte("netdriver.networks")

// logger returns a logger writing into buf.
func logger(buf *testlog.Buffer) *slog.Logger { return slog.New(slog.NewTextHandler(buf, nil)) }

// open opens the database in dir, failing the test on error.
func open(t *testing.T, dir string) (*DB, *testlog.Buffer) {
	t.Helper()
	var buf testlog.Buffer
	d, err := Open(dir, logger(&buf))
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { d.Close() })
	return d, &buf
}

// writeRecords puts n records into a data bucket of d.
func writeRecords(t *testing.T, d *DB, n int) {
	t.Helper()
	err := d.Update(func(tx *bolt.Tx) error {
		b, err := tx.CreateBucketIfNotExists(bucketData)
		if err != nil {
			return err
		}
		for i := range n {
			k := []byte(strings.Repeat("k", 8) + string(rune('a'+i%26)) + string(rune('a'+i/26%26)) + string(rune('a'+i/676)))
			if err := b.Put(k, bytes.Repeat([]byte{'v'}, 300)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// records counts the records of the data bucket of d.
func records(t *testing.T, d *DB) int {
	t.Helper()
	n := 0
	err := d.View(func(tx *bolt.Tx) error {
		if b := tx.Bucket(bucketData); b != nil {
			n = b.Stats().KeyN
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// goodDatabase makes a trusted database in dir holding 2000 records and closes it.
func goodDatabase(t *testing.T, dir string) string {
	t.Helper()
	d, err := Open(dir, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Rebuilt(); err != nil {
		t.Fatal(err)
	}
	writeRecords(t, d, 2000)
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	return filepath.Join(dir, FileName)
}

func damagedCopies(t *testing.T, dir string) []string {
	t.Helper()
	m, err := filepath.Glob(filepath.Join(dir, FileName+damagedSuffix+"*"))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestOpenMissingOrEmptyIsNotTrusted(t *testing.T) {
	for _, tt := range []struct{ name, want string }{{"Missing", "is missing"}, {"ZeroBytes", "is empty"}} {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			if tt.name == "ZeroBytes" {
				if err := os.WriteFile(filepath.Join(dir, FileName), nil, 0o600); err != nil {
					t.Fatal(err)
				}
			}
			d, _ := open(t, dir)
			if got := d.Lost(); !strings.Contains(got, tt.want) || !strings.Contains(got, d.Path()) {
				t.Fatalf("Lost() = %q, want it to name %s and say it %s", got, d.Path(), tt.want)
			}
			if wrote, err := d.Backup(); wrote || err != nil {
				t.Fatalf("Backup() of an untrusted database = %v, %v: want nothing written", wrote, err)
			}
			if err := d.Rebuilt(); err != nil {
				t.Fatal(err)
			}
			if got := d.Lost(); got != "" {
				t.Fatalf("after Rebuilt, Lost() = %q", got)
			}
			d.Close()
			d, _ = open(t, dir)
			if got := d.Lost(); got != "" {
				t.Fatalf("a rebuilt database opened again is not trusted: %q", got)
			}
		})
	}
}

func TestOpenDamagedMovesItAside(t *testing.T) {
	tests := []struct {
		name   string
		damage func(t *testing.T, path string)
		want   string
	}{{
		name:   "TruncatedToTwoPages",
		damage: func(t *testing.T, path string) { truncate(t, path, 8192) },
		want:   "it is truncated",
	}, {
		name:   "TruncatedToHalf",
		damage: func(t *testing.T, path string) { truncate(t, path, size(t, path)/2) },
		want:   "it is truncated",
	}, {
		name:   "TruncatedInsideTheFirstPage",
		damage: func(t *testing.T, path string) { truncate(t, path, 100) },
		want:   "",
	}, {
		name:   "NotBbolt",
		damage: func(t *testing.T, path string) { write(t, path, 0, bytes.Repeat([]byte("not a database "), 1000)) },
		want:   "it is not a bbolt database",
	}, {
		name: "GarbageInsideAPage",
		damage: func(t *testing.T, path string) {
			write(t, path, 0, []byte{}) // keep the size
			for off := int64(3 * 4096); off < size(t, path); off += 4096 {
				write(t, path, off, bytes.Repeat([]byte{0xA5}, 64))
			}
		},
		want: "reading its pages failed",
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			path := goodDatabase(t, dir)
			tt.damage(t, path)
			d, log := open(t, dir)
			lost := d.Lost()
			if !strings.Contains(lost, "was damaged") || !strings.Contains(lost, tt.want) || !strings.Contains(lost, path) {
				t.Fatalf("Lost() = %q, want it to name %s, say it was damaged and why (%q)", lost, path, tt.want)
			}
			kept := damagedCopies(t, dir)
			if len(kept) != 1 || !strings.Contains(lost, kept[0]) {
				t.Fatalf("damaged copies %q, want one, named in %q", kept, lost)
			}
			if !strings.Contains(log.String(), "the state database is damaged: moved aside") {
				t.Errorf("the damage was not logged:\n%s", log)
			}
			if n := records(t, d); n != 0 {
				t.Fatalf("the new database holds %d records, want none", n)
			}
			t.Log(lost)
			writeRecords(t, d, 10) // the new database works
		})
	}
}

// TestOpenUndecodableRecordMovesItAside: a database bbolt reads well but holding a record its
// component cannot decode is damaged like a truncated one: moved aside and not trusted. The
// checks see every record of a sound one and let it be.
func TestOpenUndecodableRecordMovesItAside(t *testing.T) {
	dir := t.TempDir()
	path := goodDatabase(t, dir)
	var seen int
	countV := func(tx *bolt.Tx) error {
		seen = 0
		return tx.Bucket(bucketData).ForEach(func(k, v []byte) error {
			seen++
			if !bytes.Equal(v, bytes.Repeat([]byte{'v'}, 300)) {
				return fmt.Errorf("network record %q does not decode: %q is no record", k, v[:8])
			}
			return nil
		})
	}
	d, err := Open(dir, slog.New(slog.DiscardHandler), countV)
	if err != nil {
		t.Fatal(err)
	}
	if d.Lost() != "" || seen != 2000 {
		t.Fatalf("a sound database: Lost() = %q, %d records checked", d.Lost(), seen)
	}
	err = d.Update(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketData).Put([]byte("kkkkkkkkzzz"), []byte("\x00garbled{"))
	})
	if err != nil {
		t.Fatal(err)
	}
	d.Close()

	var buf testlog.Buffer
	d, err = Open(dir, logger(&buf), countV)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	defer d.Close()
	lost := d.Lost()
	want := `network record "kkkkkkkkzzz" does not decode`
	if !strings.Contains(lost, "was damaged") || !strings.Contains(lost, want) || !strings.Contains(lost, path) {
		t.Fatalf("Lost() = %q, want it to name %s and the record (%s)", lost, path, want)
	}
	if kept := damagedCopies(t, dir); len(kept) != 1 || !strings.Contains(lost, kept[0]) {
		t.Fatalf("damaged copies %q, want one, named in %q", kept, lost)
	}
	if !strings.Contains(buf.String(), "the state database is damaged: moved aside") {
		t.Errorf("the damage was not logged:\n%s", buf.String())
	}
}

func TestCheckSoundDatabase(t *testing.T) {
	path := goodDatabase(t, t.TempDir())
	if err := Check(path); err != nil {
		t.Fatalf("Check of a sound database: %v", err)
	}
}

func TestOpenUnfinishedRebuildIsNotTrusted(t *testing.T) {
	dir := t.TempDir()
	d, err := Open(dir, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	writeRecords(t, d, 5) // a rebuild half done, then a crash
	d.Close()
	d, _ = open(t, dir)
	if got := d.Lost(); !strings.Contains(got, "holds a rebuild that did not finish") {
		t.Fatalf("Lost() = %q, want the unfinished rebuild named", got)
	}
	if n := records(t, d); n != 0 {
		t.Fatalf("the half rebuild left %d records: want them dropped before the next rebuild", n)
	}
}

func TestOpenOlderDatabases(t *testing.T) {
	for _, tt := range []struct {
		name    string
		records int
		trusted bool
	}{{"WithRecords", 3, true}, {"WithEmptyBucketsOnly", 0, false}} {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			db, err := bolt.Open(filepath.Join(dir, FileName), 0o600, nil)
			if err != nil {
				t.Fatal(err)
			}
			err = db.Update(func(tx *bolt.Tx) error {
				b, err := tx.CreateBucket(bucketData)
				for i := 0; err == nil && i < tt.records; i++ {
					err = b.Put([]byte{byte(i)}, []byte("{}"))
				}
				return err
			})
			if err != nil {
				t.Fatal(err)
			}
			db.Close()
			d, _ := open(t, dir)
			if got := d.Lost(); (got == "") != tt.trusted {
				t.Fatalf("Lost() = %q, want trusted %v", got, tt.trusted)
			}
		})
	}
}

func TestBackupKeepsTheLastGoodCopy(t *testing.T) {
	dir := t.TempDir()
	goodDatabase(t, dir)
	d, _ := open(t, dir)
	if wrote, err := d.Backup(); !wrote || err != nil {
		t.Fatalf("first Backup() = %v, %v: want a copy", wrote, err)
	}
	if wrote, err := d.Backup(); wrote || err != nil {
		t.Fatalf("Backup() without a change = %v, %v: want no copy", wrote, err)
	}
	if err := Check(d.BackupPath()); err != nil {
		t.Fatalf("the backup is not sound: %v", err)
	}
	writeRecords(t, d, 2100)
	if wrote, err := d.Backup(); !wrote || err != nil {
		t.Fatalf("Backup() after a change = %v, %v: want a copy", wrote, err)
	}
	b, err := bolt.Open(d.BackupPath(), 0o600, &bolt.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	_ = b.View(func(tx *bolt.Tx) error {
		if n := tx.Bucket(bucketData).Stats().KeyN; n != 2100 {
			t.Errorf("the backup holds %d records, want 2100", n)
		}
		return nil
	})
	if _, err := os.Stat(d.BackupPath() + ".tmp"); err == nil {
		t.Error("the backup left its temporary file")
	}
}

func TestOpenLockedBySecondDaemon(t *testing.T) {
	dir := t.TempDir()
	d, _ := open(t, dir)
	_, err := Open(dir, slog.New(slog.DiscardHandler))
	want := `state database "` + d.Path() + `" is locked: another vic-endpoint is running with --state-dir "` + dir + `"`
	if err == nil || err.Error() != want {
		t.Fatalf("second Open: %v, want %q", err, want)
	}
	if _, err := Lock(dir); err == nil || err.Error() != want {
		t.Fatalf("Lock while open: %v, want %q", err, want)
	}
	d.Close()
	release, err := Lock(dir)
	if err != nil {
		t.Fatalf("Lock after close: %v", err)
	}
	release()
}

func truncate(t *testing.T, path string, n int64) {
	t.Helper()
	if err := os.Truncate(path, n); err != nil {
		t.Fatal(err)
	}
}

func size(t *testing.T, path string) int64 {
	t.Helper()
	info, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return info.Size()
}

func write(t *testing.T, path string, off int64, b []byte) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteAt(b, off); err != nil {
		t.Fatal(err)
	}
}

// vic-endpoint teardown takes the lock of a damaged database without reading it.
func TestLockIgnoresDamage(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, FileName), bytes.Repeat([]byte("not a database "), 1000), 0o600); err != nil {
		t.Fatal(err)
	}
	release, err := Lock(dir)
	if err != nil {
		t.Fatalf("Lock of a damaged database: %v", err)
	}
	release()
	release, err = Lock(t.TempDir())
	if err != nil {
		t.Fatalf("Lock without a database: %v", err)
	}
	release()
}
