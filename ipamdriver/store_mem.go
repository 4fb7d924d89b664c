package ipamdriver

import (
	"context"
	"maps"
	"net/netip"
	"slices"
	"strings"
	"sync"
)

// MemStore is a Store in memory, for tests: an Update works on a copy that replaces the state
// only when fn succeeds.
type MemStore struct {
	mu    sync.Mutex
	state memState
}

type memState struct {
	pools  map[string]Pool
	leases map[string]map[netip.Addr]Lease
}

// NewMemStore returns an empty store.
func NewMemStore() *MemStore {
	return &MemStore{state: memState{pools: map[string]Pool{}, leases: map[string]map[netip.Addr]Lease{}}}
}

// Update implements Store.
func (s *MemStore) Update(ctx context.Context, fn func(Tx) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	work := s.state.clone()
	if err := fn(&memTx{state: work}); err != nil {
		return err
	}
	s.state = work
	return nil
}

// View implements Store.
func (s *MemStore) View(ctx context.Context, fn func(Tx) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return fn(&memTx{state: s.state, readOnly: true})
}

func (m memState) clone() memState {
	out := memState{pools: make(map[string]Pool, len(m.pools)), leases: make(map[string]map[netip.Addr]Lease, len(m.leases))}
	for id, p := range m.pools {
		out.pools[id] = p.clone()
	}
	for id, ls := range m.leases {
		out.leases[id] = maps.Clone(ls)
	}
	return out
}

type memTx struct {
	state    memState
	readOnly bool
}

func (t *memTx) writable() error {
	if t.readOnly {
		return newError(ErrInvalid, "writing to the IPAM state inside a read-only transaction")
	}
	return nil
}

func (t *memTx) Pool(id string) (Pool, bool, error) {
	p, ok := t.state.pools[id]
	return p.clone(), ok, nil
}

func (t *memTx) Pools() ([]Pool, error) {
	out := make([]Pool, 0, len(t.state.pools))
	for _, p := range t.state.pools {
		out = append(out, p.clone())
	}
	slices.SortFunc(out, func(a, b Pool) int { return strings.Compare(a.ID, b.ID) })
	return out, nil
}

func (t *memTx) PutPool(p Pool) error {
	if err := t.writable(); err != nil {
		return err
	}
	t.state.pools[p.ID] = p.clone()
	if t.state.leases[p.ID] == nil {
		t.state.leases[p.ID] = map[netip.Addr]Lease{}
	}
	return nil
}

func (t *memTx) DeletePool(id string) error {
	if err := t.writable(); err != nil {
		return err
	}
	delete(t.state.pools, id)
	delete(t.state.leases, id)
	return nil
}

func (t *memTx) Lease(poolID string, a netip.Addr) (Lease, bool, error) {
	l, ok := t.state.leases[poolID][a]
	return l, ok, nil
}

func (t *memTx) Leases(poolID string) ([]Lease, error) {
	ls := t.state.leases[poolID]
	if len(ls) == 0 {
		return nil, nil
	}
	out := slices.Collect(maps.Values(ls))
	slices.SortFunc(out, func(a, b Lease) int { return a.Address.Compare(b.Address) })
	return out, nil
}

func (t *memTx) PutLease(l Lease) error {
	if err := t.writable(); err != nil {
		return err
	}
	ls, ok := t.state.leases[l.PoolID]
	if _, exists := t.state.pools[l.PoolID]; !exists || !ok {
		return newError(ErrUnknownPool, "recording address %s: pool %q does not exist", l.Address, l.PoolID)
	}
	ls[l.Address] = l
	return nil
}

func (t *memTx) DeleteLease(poolID string, a netip.Addr) error {
	if err := t.writable(); err != nil {
		return err
	}
	delete(t.state.leases[poolID], a)
	return nil
}
