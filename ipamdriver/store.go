package ipamdriver

import (
	"context"
	"net/netip"
)

// Store keeps pools and leases. Each Driver request is one Update: either everything it wrote
// is kept, or nothing is.
type Store interface {
	// Update runs fn in one read-write transaction, committed when fn returns nil and dropped
	// when it returns an error (which Update returns unchanged). A ctx that ends before the
	// transaction starts leaves the store untouched.
	Update(ctx context.Context, fn func(Tx) error) error
	// View runs fn in one read-only transaction.
	View(ctx context.Context, fn func(Tx) error) error
}

// Tx reads and writes pools and leases inside one transaction. Missing records are not errors:
// getters report them with false, deletes of them do nothing.
type Tx interface {
	Pool(id string) (Pool, bool, error)
	// Pools returns every pool, ordered by ID.
	Pools() ([]Pool, error)
	PutPool(p Pool) error
	// DeletePool removes the pool and all its leases.
	DeletePool(id string) error

	Lease(poolID string, a netip.Addr) (Lease, bool, error)
	// Leases returns the leases of a pool, ordered by address.
	Leases(poolID string) ([]Lease, error)
	// PutLease records a lease in its pool, which must exist.
	PutLease(l Lease) error
	DeleteLease(poolID string, a netip.Addr) error
}
