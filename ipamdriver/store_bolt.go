package ipamdriver

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"sync/atomic"

	"go.etcd.io/bbolt"
)

// BoltBucket is the top-level bucket of the driver in a bbolt database; the other components
// sharing the database keep out of it.
const BoltBucket = "vic-ipam"

var (
	poolsBucket  = []byte("pools")  // PoolID -> Pool (JSON)
	leasesBucket = []byte("leases") // PoolID -> bucket of address -> Lease (JSON)
)

// errAbandoned stops a transaction whose caller gave up before it started.
var errAbandoned = errors.New("transaction abandoned")

// BoltStore is a Store in a bbolt database. Every Update is one bbolt transaction, synced to
// disk before it returns.
type BoltStore struct {
	db *bbolt.DB
}

// NewBoltStore returns a store in db, which the caller opened and closes. It creates the
// driver's bucket if the database has none yet.
func NewBoltStore(db *bbolt.DB) (*BoltStore, error) {
	err := db.Update(func(tx *bbolt.Tx) error {
		root, err := tx.CreateBucketIfNotExists([]byte(BoltBucket))
		if err != nil {
			return err
		}
		for _, name := range [][]byte{poolsBucket, leasesBucket} {
			if _, err := root.CreateBucketIfNotExists(name); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("creating bucket %q in the state database %s: %w", BoltBucket, db.Path(), err)
	}
	return &BoltStore{db: db}, nil
}

// CheckRecords decodes every pool and lease record in tx and returns an error naming the first
// that does not decode: the state database is then damaged (see endpoint/statedb).
func CheckRecords(tx *bbolt.Tx) error {
	root := tx.Bucket([]byte(BoltBucket))
	if root == nil || root.Bucket(poolsBucket) == nil {
		return nil
	}
	t := &boltTx{root: root}
	pools, err := t.Pools()
	if err != nil {
		return err
	}
	for _, p := range pools {
		if root.Bucket(leasesBucket) == nil {
			break
		}
		if _, err := t.Leases(p.ID); err != nil {
			return err
		}
	}
	return nil
}

// Update implements Store. While the database is busy with another writer, Update waits until
// ctx ends; a transaction that has started runs to its end, so that what the caller is told is
// what the disk holds.
func (s *BoltStore) Update(ctx context.Context, fn func(Tx) error) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("waiting for the IPAM state database: %w", err)
	}
	const (
		waiting int32 = iota
		running
		abandoned
	)
	var state atomic.Int32
	done := make(chan error, 1)
	go func() {
		done <- s.db.Update(func(btx *bbolt.Tx) error {
			if !state.CompareAndSwap(waiting, running) {
				return errAbandoned
			}
			return fn(&boltTx{root: btx.Bucket([]byte(BoltBucket))})
		})
	}()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		if state.CompareAndSwap(waiting, abandoned) {
			return fmt.Errorf("waiting for the IPAM state database: %w", ctx.Err())
		}
		return <-done
	}
}

// View implements Store.
func (s *BoltStore) View(ctx context.Context, fn func(Tx) error) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("reading the IPAM state database: %w", err)
	}
	return s.db.View(func(btx *bbolt.Tx) error {
		return fn(&boltTx{root: btx.Bucket([]byte(BoltBucket))})
	})
}

// boltTx is a Tx over the driver's bucket.
type boltTx struct {
	root *bbolt.Bucket
}

func (t *boltTx) Pool(id string) (Pool, bool, error) {
	v := t.root.Bucket(poolsBucket).Get([]byte(id))
	if v == nil {
		return Pool{}, false, nil
	}
	var p Pool
	if err := json.Unmarshal(v, &p); err != nil {
		return Pool{}, false, fmt.Errorf("reading pool %q from the state database: %w", id, err)
	}
	return p, true, nil
}

func (t *boltTx) Pools() ([]Pool, error) {
	var out []Pool
	err := t.root.Bucket(poolsBucket).ForEach(func(k, v []byte) error {
		var p Pool
		if err := json.Unmarshal(v, &p); err != nil {
			return fmt.Errorf("pool record %q does not decode: %w", k, err)
		}
		out = append(out, p)
		return nil
	})
	return out, err
}

func (t *boltTx) PutPool(p Pool) error {
	v, err := json.Marshal(p)
	if err != nil {
		return fmt.Errorf("encoding pool %q: %w", p.ID, err)
	}
	if err := t.root.Bucket(poolsBucket).Put([]byte(p.ID), v); err != nil {
		return fmt.Errorf("writing pool %q to the state database: %w", p.ID, err)
	}
	if _, err := t.root.Bucket(leasesBucket).CreateBucketIfNotExists([]byte(p.ID)); err != nil {
		return fmt.Errorf("writing the leases of pool %q to the state database: %w", p.ID, err)
	}
	return nil
}

func (t *boltTx) DeletePool(id string) error {
	leases := t.root.Bucket(leasesBucket)
	if leases.Bucket([]byte(id)) != nil {
		if err := leases.DeleteBucket([]byte(id)); err != nil {
			return fmt.Errorf("deleting the leases of pool %q from the state database: %w", id, err)
		}
	}
	if err := t.root.Bucket(poolsBucket).Delete([]byte(id)); err != nil {
		return fmt.Errorf("deleting pool %q from the state database: %w", id, err)
	}
	return nil
}

func (t *boltTx) Lease(poolID string, a netip.Addr) (Lease, bool, error) {
	b := t.root.Bucket(leasesBucket).Bucket([]byte(poolID))
	if b == nil {
		return Lease{}, false, nil
	}
	v := b.Get(leaseKey(a))
	if v == nil {
		return Lease{}, false, nil
	}
	var l Lease
	if err := json.Unmarshal(v, &l); err != nil {
		return Lease{}, false, fmt.Errorf("reading lease %s of pool %q from the state database: %w", a, poolID, err)
	}
	return l, true, nil
}

func (t *boltTx) Leases(poolID string) ([]Lease, error) {
	b := t.root.Bucket(leasesBucket).Bucket([]byte(poolID))
	if b == nil {
		return nil, nil
	}
	var out []Lease
	err := b.ForEach(func(k, v []byte) error {
		var l Lease
		if err := json.Unmarshal(v, &l); err != nil {
			return fmt.Errorf("a lease record of pool %q does not decode: %w", poolID, err)
		}
		out = append(out, l)
		return nil
	})
	return out, err
}

func (t *boltTx) PutLease(l Lease) error {
	b := t.root.Bucket(leasesBucket).Bucket([]byte(l.PoolID))
	if b == nil || t.root.Bucket(poolsBucket).Get([]byte(l.PoolID)) == nil {
		return newError(ErrUnknownPool, "recording address %s: pool %q does not exist", l.Address, l.PoolID)
	}
	v, err := json.Marshal(l)
	if err != nil {
		return fmt.Errorf("encoding lease %s of pool %q: %w", l.Address, l.PoolID, err)
	}
	if err := b.Put(leaseKey(l.Address), v); err != nil {
		return fmt.Errorf("writing lease %s of pool %q to the state database: %w", l.Address, l.PoolID, err)
	}
	return nil
}

func (t *boltTx) DeleteLease(poolID string, a netip.Addr) error {
	b := t.root.Bucket(leasesBucket).Bucket([]byte(poolID))
	if b == nil {
		return nil
	}
	if err := b.Delete(leaseKey(a)); err != nil {
		return fmt.Errorf("deleting lease %s of pool %q from the state database: %w", a, poolID, err)
	}
	return nil
}

// leaseKey is an address as 4 bytes, so that leases are listed in address order.
func leaseKey(a netip.Addr) []byte {
	b := a.As4()
	return b[:]
}
