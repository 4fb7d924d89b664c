package dhcp

import (
	"context"
	"sync"
)

// keyLocks serializes the calls about one MAC on one port group, and lets calls about other
// MACs run at the same time.
type keyLocks struct {
	mu sync.Mutex
	m  map[key]*keyLock
}

type keyLock struct {
	held chan struct{} // holds one token while locked
	refs int
}

// lock waits for k, or for ctx to end, and returns the unlock function.
func (kl *keyLocks) lock(ctx context.Context, k key) (func(), error) {
	kl.mu.Lock()
	if kl.m == nil {
		kl.m = map[key]*keyLock{}
	}
	l := kl.m[k]
	if l == nil {
		l = &keyLock{held: make(chan struct{}, 1)}
		kl.m[k] = l
	}
	l.refs++
	kl.mu.Unlock()

	done := func() {
		kl.mu.Lock()
		defer kl.mu.Unlock()
		if l.refs--; l.refs == 0 {
			delete(kl.m, k)
		}
	}
	select {
	case l.held <- struct{}{}:
		return func() { <-l.held; done() }, nil
	case <-ctx.Done():
		done()
		return nil, ctx.Err()
	}
}
