package ipamdriver

import (
	"context"
	"errors"
	"net/netip"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"go.etcd.io/bbolt"
)

// openBolt opens a bbolt database at path, closed when the test ends.
func openBolt(t *testing.T, path string) *bbolt.DB {
	t.Helper()
	db, err := bbolt.Open(path, 0o600, &bbolt.Options{Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func newBoltStore(t *testing.T, db *bbolt.DB) *BoltStore {
	t.Helper()
	s, err := NewBoltStore(db)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// storeKinds runs a test against every Store implementation.
func storeKinds(t *testing.T, test func(t *testing.T, s Store)) {
	t.Run("memory", func(t *testing.T) { test(t, NewMemStore()) })
	t.Run("bbolt", func(t *testing.T) {
		test(t, newBoltStore(t, openBolt(t, filepath.Join(t.TempDir(), "state.db"))))
	})
}

var (
	testPool = Pool{
		ID:        "vic/198.51.100.0/24@cn",
		Subnet:    netip.MustParsePrefix("198.51.100.0/24"),
		Ranges:    ranges("198.51.100.10-198.51.100.20"),
		Gateway:   netip.MustParseAddr("198.51.100.1"),
		Last:      netip.MustParseAddr("198.51.100.11"),
		PortGroup: "cn",
	}
	testLease = Lease{PoolID: testPool.ID, Address: netip.MustParseAddr("198.51.100.11"), Bits: 24, MAC: "02:42:c6:33:64:0b"}
)

func update(t *testing.T, s Store, fn func(Tx) error) {
	t.Helper()
	if err := s.Update(context.Background(), fn); err != nil {
		t.Fatal(err)
	}
}

func view(t *testing.T, s Store, fn func(Tx) error) {
	t.Helper()
	if err := s.View(context.Background(), fn); err != nil {
		t.Fatal(err)
	}
}

func TestStoreRoundTrip(t *testing.T) {
	storeKinds(t, func(t *testing.T, s Store) {
		other := Pool{ID: "vic/172.16.0.0/16", Subnet: netip.MustParsePrefix("172.16.0.0/16")}
		update(t, s, func(tx Tx) error {
			if err := tx.PutPool(testPool); err != nil {
				return err
			}
			if err := tx.PutPool(other); err != nil {
				return err
			}
			return tx.PutLease(testLease)
		})
		view(t, s, func(tx Tx) error {
			got, ok, err := tx.Pool(testPool.ID)
			if err != nil || !ok || !reflect.DeepEqual(got, testPool) {
				t.Errorf("Pool = %+v, %v, %v; want %+v", got, ok, err, testPool)
			}
			pools, err := tx.Pools()
			if err != nil || len(pools) != 2 || pools[0].ID != other.ID || pools[1].ID != testPool.ID {
				t.Errorf("Pools = %+v, %v; want both pools by ID", pools, err)
			}
			l, ok, err := tx.Lease(testPool.ID, testLease.Address)
			if err != nil || !ok || l != testLease {
				t.Errorf("Lease = %+v, %v, %v; want %+v", l, ok, err, testLease)
			}
			leases, err := tx.Leases(testPool.ID)
			if err != nil || len(leases) != 1 || leases[0] != testLease {
				t.Errorf("Leases = %+v, %v; want [%+v]", leases, err, testLease)
			}
			return nil
		})
	})
}

func TestStoreLeasesInAddressOrder(t *testing.T) {
	storeKinds(t, func(t *testing.T, s Store) {
		update(t, s, func(tx Tx) error {
			if err := tx.PutPool(testPool); err != nil {
				return err
			}
			for _, a := range []string{"198.51.100.20", "198.51.100.3", "198.51.100.100"} {
				if err := tx.PutLease(Lease{PoolID: testPool.ID, Address: netip.MustParseAddr(a), Bits: 24}); err != nil {
					return err
				}
			}
			return nil
		})
		view(t, s, func(tx Tx) error {
			leases, _ := tx.Leases(testPool.ID)
			var got []string
			for _, l := range leases {
				got = append(got, l.Address.String())
			}
			if want := []string{"198.51.100.3", "198.51.100.20", "198.51.100.100"}; !reflect.DeepEqual(got, want) {
				t.Errorf("Leases = %v, want %v", got, want)
			}
			return nil
		})
	})
}

func TestStoreMissingIsNotAnError(t *testing.T) {
	storeKinds(t, func(t *testing.T, s Store) {
		update(t, s, func(tx Tx) error {
			if _, ok, err := tx.Pool("vic/10.0.0.0/8"); ok || err != nil {
				t.Errorf("Pool of a missing pool = %v, %v", ok, err)
			}
			if _, ok, err := tx.Lease("vic/10.0.0.0/8", netip.MustParseAddr("10.0.0.1")); ok || err != nil {
				t.Errorf("Lease of a missing pool = %v, %v", ok, err)
			}
			if leases, err := tx.Leases("vic/10.0.0.0/8"); len(leases) != 0 || err != nil {
				t.Errorf("Leases of a missing pool = %v, %v", leases, err)
			}
			if err := tx.DeleteLease("vic/10.0.0.0/8", netip.MustParseAddr("10.0.0.1")); err != nil {
				t.Errorf("DeleteLease of a missing pool: %v", err)
			}
			return tx.DeletePool("vic/10.0.0.0/8")
		})
	})
}

func TestStoreLeaseNeedsItsPool(t *testing.T) {
	storeKinds(t, func(t *testing.T, s Store) {
		err := s.Update(context.Background(), func(tx Tx) error { return tx.PutLease(testLease) })
		if !errors.Is(err, ErrUnknownPool) {
			t.Fatalf("PutLease without its pool = %v, want an ErrUnknownPool error", err)
		}
	})
}

func TestStoreDeletePoolDropsItsLeases(t *testing.T) {
	storeKinds(t, func(t *testing.T, s Store) {
		update(t, s, func(tx Tx) error {
			if err := tx.PutPool(testPool); err != nil {
				return err
			}
			return tx.PutLease(testLease)
		})
		update(t, s, func(tx Tx) error { return tx.DeletePool(testPool.ID) })
		update(t, s, func(tx Tx) error { return tx.PutPool(testPool) })
		view(t, s, func(tx Tx) error {
			if leases, _ := tx.Leases(testPool.ID); len(leases) != 0 {
				t.Errorf("a pool made again after its deletion has leases %v", leases)
			}
			return nil
		})
	})
}

func TestStoreUpdateFailureKeepsNothing(t *testing.T) {
	storeKinds(t, func(t *testing.T, s Store) {
		boom := errors.New("boom")
		err := s.Update(context.Background(), func(tx Tx) error {
			if err := tx.PutPool(testPool); err != nil {
				return err
			}
			if err := tx.PutLease(testLease); err != nil {
				return err
			}
			return boom
		})
		if !errors.Is(err, boom) {
			t.Fatalf("Update = %v, want the error of fn", err)
		}
		view(t, s, func(tx Tx) error {
			if pools, _ := tx.Pools(); len(pools) != 0 {
				t.Errorf("a failed update left pools %v", pools)
			}
			return nil
		})
	})
}

func TestStoreUpdateAfterDeadlineKeepsNothing(t *testing.T) {
	storeKinds(t, func(t *testing.T, s Store) {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		err := s.Update(ctx, func(tx Tx) error { return tx.PutPool(testPool) })
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("Update with an ended context = %v, want context.Canceled", err)
		}
		view(t, s, func(tx Tx) error {
			if pools, _ := tx.Pools(); len(pools) != 0 {
				t.Errorf("an update with an ended context left pools %v", pools)
			}
			return nil
		})
	})
}

func TestBoltStoreWaitsForBusyDatabaseUntilDeadline(t *testing.T) {
	db := openBolt(t, filepath.Join(t.TempDir(), "state.db"))
	s := newBoltStore(t, db)
	busy, err := db.Begin(true) // another component of the daemon holds the write lock
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	err = s.Update(ctx, func(tx Tx) error { return tx.PutPool(testPool) })
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Update on a busy database = %v, want context.DeadlineExceeded", err)
	}
	if waited := time.Since(start); waited > 2*time.Second {
		t.Fatalf("Update returned after %s, long past its deadline", waited)
	}
	if err := busy.Rollback(); err != nil {
		t.Fatal(err)
	}
	update(t, s, func(tx Tx) error { return nil }) // the abandoned transaction has run by now
	view(t, s, func(tx Tx) error {
		if pools, _ := tx.Pools(); len(pools) != 0 {
			t.Errorf("an update abandoned at its deadline later wrote pools %v", pools)
		}
		return nil
	})
}

func TestBoltStoreSharesTheDatabase(t *testing.T) {
	db := openBolt(t, filepath.Join(t.TempDir(), "state.db"))
	if err := db.Update(func(tx *bbolt.Tx) error {
		b, err := tx.CreateBucket([]byte("netdriver"))
		if err != nil {
			return err
		}
		return b.Put([]byte("k"), []byte("v"))
	}); err != nil {
		t.Fatal(err)
	}
	s := newBoltStore(t, db)
	update(t, s, func(tx Tx) error { return tx.PutPool(testPool) })
	if err := db.View(func(tx *bbolt.Tx) error {
		var names []string
		err := tx.ForEach(func(name []byte, _ *bbolt.Bucket) error {
			names = append(names, string(name))
			return nil
		})
		if want := []string{"netdriver", BoltBucket}; !reflect.DeepEqual(names, want) {
			t.Errorf("buckets = %v, want %v", names, want)
		}
		if v := tx.Bucket([]byte("netdriver")).Get([]byte("k")); string(v) != "v" {
			t.Errorf("the other component's data changed to %q", v)
		}
		return err
	}); err != nil {
		t.Fatal(err)
	}
}
