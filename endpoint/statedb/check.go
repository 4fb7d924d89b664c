package statedb

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"os"
	"runtime/debug"
	"time"

	bolt "go.etcd.io/bbolt"
)

// ErrLocked says that a running vic-endpoint holds the database.
var ErrLocked = errors.New("another vic-endpoint holds it")

// The layout of a bbolt meta page (pages 0 and 1), in the machine's byte order: a 16-byte page
// header, then magic, version, page size, flags, root bucket (page, sequence), freelist page,
// high-water mark (the first page past the data), transaction ID and an FNV-64a checksum of
// the 56 bytes before it.
const (
	metaOffset       = 16
	metaLen          = 56
	boltMagic        = 0xED0CDAED
	boltVersion      = 2
	noFreelist       = ^uint64(0)
	firstMetaReadLen = 0x1000
)

// meta is what Check reads of a meta page.
type meta struct {
	pageSize uint32
	root     uint64
	freelist uint64
	pgid     uint64
	txid     uint64
}

// parseMeta reads the meta page at the start of b, or says why it is not one.
func parseMeta(b []byte) (meta, error) {
	if len(b) < metaOffset+metaLen+8 {
		return meta{}, errors.New("it is shorter than a meta page")
	}
	m := b[metaOffset:]
	e := binary.NativeEndian
	h := fnv.New64a()
	_, _ = h.Write(m[:metaLen])
	switch {
	case e.Uint32(m[0:]) != boltMagic:
		return meta{}, errors.New("it is not a bbolt database")
	case e.Uint32(m[4:]) != boltVersion:
		return meta{}, fmt.Errorf("its format version %d is not %d", e.Uint32(m[4:]), boltVersion)
	case e.Uint64(m[metaLen:]) != h.Sum64():
		return meta{}, errors.New("its meta page fails its checksum")
	}
	return meta{pageSize: e.Uint32(m[8:]), root: e.Uint64(m[16:]), freelist: e.Uint64(m[32:]), pgid: e.Uint64(m[40:]), txid: e.Uint64(m[48:])}, nil
}

// RecordCheck decodes the records one component keeps in the database and returns an error
// for the first that does not decode, naming it ("network record X does not decode: ...").
// A component whose buckets are missing has nothing to check.
type RecordCheck func(tx *bolt.Tx) error

// Check reads the database at path without trusting it: its two meta pages, its size against
// the pages they name (a truncated file is the usual damage, and bbolt panics on it, in
// goroutines nobody can recover), then every bucket, key and value, with faults turned into
// errors, and last the records, decoded by records. It returns nil for a sound database, an
// error wrapping ErrLocked when a running vic-endpoint holds it, and otherwise a short reason
// ("it is truncated: ...").
func Check(path string, records ...RecordCheck) error {
	if err := checkMeta(path); err != nil {
		return err
	}
	return walk(path, records)
}

// checkMeta finds the meta page bbolt would use (the valid one with the higher transaction
// ID) and checks that the file holds every page it names.
func checkMeta(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return err
	}
	size := info.Size()
	first := make([]byte, firstMetaReadLen)
	n, err := f.ReadAt(first, 0)
	if err != nil && !errors.Is(err, io.EOF) {
		return err
	}
	m0, err0 := parseMeta(first[:n])
	pageSize := int64(os.Getpagesize())
	if err0 == nil {
		pageSize = int64(m0.pageSize)
	}
	second := make([]byte, metaOffset+metaLen+8)
	n, err = f.ReadAt(second, pageSize)
	if err != nil && !errors.Is(err, io.EOF) {
		return err
	}
	m1, err1 := parseMeta(second[:n])
	m := m0
	switch {
	case err0 != nil && err1 != nil:
		return err0
	case err0 != nil || err1 == nil && m1.txid > m0.txid:
		m = m1
	}
	if m.pageSize < 512 || m.pageSize&(m.pageSize-1) != 0 {
		return fmt.Errorf("its page size %d is not a power of two", m.pageSize)
	}
	if need := int64(m.pgid) * int64(m.pageSize); m.pgid > 1<<40 || need > size {
		return fmt.Errorf("it is truncated: %d bytes, where its pages need %d", size, need)
	}
	if m.root >= m.pgid || m.freelist != noFreelist && m.freelist >= m.pgid {
		return fmt.Errorf("its meta page names pages past its end (%d)", m.pgid)
	}
	return nil
}

// walkTimeout bounds the wait for the shared lock of a read-only open.
const walkTimeout = 3 * time.Second

// walk opens the database read-only (no free-page scan, which runs in a goroutine of its own)
// and reads every bucket, key and value on this goroutine, where a fault or a panic of bbolt
// becomes an error.
func walk(path string, records []RecordCheck) (err error) {
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("reading its pages failed: %v", r)
		}
	}()
	db, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true, Timeout: walkTimeout})
	if errors.Is(err, bolt.ErrTimeout) {
		return ErrLocked
	}
	if err != nil {
		return err
	}
	defer db.Close()
	return db.View(func(tx *bolt.Tx) error {
		if err := tx.ForEach(func(_ []byte, b *bolt.Bucket) error { return walkBucket(b) }); err != nil {
			return err
		}
		for _, check := range records {
			if err := check(tx); err != nil {
				return err
			}
		}
		return nil
	})
}

func walkBucket(b *bolt.Bucket) error {
	return b.ForEach(func(k, v []byte) error {
		if v == nil {
			if sub := b.Bucket(k); sub != nil {
				return walkBucket(sub)
			}
		}
		return nil
	})
}
