package nat

import (
	"context"
	"fmt"
	"net/netip"
	"sync"
	"time"
)

// Applier programs a State into the kernel with iptables-restore --noflush, one batch per
// change, and keeps an index of what it applied so that the next change is a diff: a change of
// published ports only renders the rules of the mappings that changed. It is safe for
// concurrent use.
type Applier struct {
	model *Model
	run   Runner

	mu      sync.Mutex
	desired State // the last state asked for
	applied index // what the kernel holds after the last successful batch
	synced  bool  // applied is known: a full sync has run since start or the last failure
	// generation counts the batches written, so that Check can tell a drift from a change.
	generation int
}

// NewApplier returns an applier for an endpoint whose public address is public. A nil run
// means ExecRunner{} (the iptables commands of this namespace).
func NewApplier(public netip.Addr, run Runner) (*Applier, error) {
	m, err := NewModel(public)
	if err != nil {
		return nil, err
	}
	if run == nil {
		run = ExecRunner{}
	}
	return &Applier{model: m, run: run}, nil
}

// Model is the applier's rule model.
func (a *Applier) Model() *Model { return a.model }

// Desired is the state last passed to Apply.
func (a *Applier) Desired() State {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.desired
}

// Apply makes the kernel hold exactly the rules of desired. After a sync, a change is one
// iptables-restore exec of -D and -A lines (none if nothing changed); before the first sync,
// or when a batch fails (someone flushed a chain, say), it falls back to Sync. On error the
// previous state stays the desired one, and the next Sync restores it.
func (a *Applier) Apply(ctx context.Context, desired State) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.synced {
		if add, del, ok := mappingDelta(a.desired, desired); ok {
			return a.applyMappings(ctx, desired, add, del)
		}
	}
	want, err := a.model.Rules(desired)
	if err != nil {
		return err
	}
	if !a.synced {
		return a.syncLocked(ctx, desired, want)
	}
	next := a.model.newIndex(desired)
	del, add := diffIndex(a.applied, next, want)
	return a.commit(ctx, desired, next, del, add)
}

// ChangePorts publishes the mappings add and revokes the mappings del, leaving the networks
// and every other mapping as they are. It costs the same whatever the number of mappings
// kept: the driver calls it for each container's ports.
func (a *Applier) ChangePorts(ctx context.Context, add, del []Mapping) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	desired := State{Networks: a.desired.Networks, Ports: withoutMappings(a.desired.Ports, del, len(add))}
	desired.Ports = append(desired.Ports, add...)
	if !a.synced {
		want, err := a.model.Rules(desired)
		if err != nil {
			return err
		}
		return a.syncLocked(ctx, desired, want)
	}
	return a.applyMappings(ctx, desired, add, del)
}

// withoutMappings returns a new slice of ports less one occurrence of each of del, with room
// for extra more: states are replaced whole, never changed in place.
func withoutMappings(ports, del []Mapping, extra int) []Mapping {
	out := make([]Mapping, 0, len(ports)+extra)
	if len(del) == 0 {
		return append(out, ports...)
	}
	drop := make(map[Mapping]int, len(del))
	for _, m := range del {
		drop[m]++
	}
	for _, p := range ports {
		if drop[p] > 0 {
			drop[p]--
			continue
		}
		out = append(out, p)
	}
	return out
}

// applyMappings applies a change of published ports alone: only the rules of the mappings
// added and removed are rendered, whatever the number of mappings kept.
func (a *Applier) applyMappings(ctx context.Context, desired State, add, del []Mapping) error {
	dels, adds, err := a.model.change(a.applied, desired, add, del)
	if err != nil {
		return err
	}
	resynced, err := a.batch(ctx, desired, dels, adds)
	if err != nil || resynced {
		return err // a resync rebuilt the index from desired
	}
	a.applied.apply(a.model, desired, add, del)
	a.desired = desired
	return nil
}

// commit writes one change and, on success, makes next the applied index.
func (a *Applier) commit(ctx context.Context, desired State, next index, del, add []Rule) error {
	resynced, err := a.batch(ctx, desired, del, add)
	if err != nil || resynced {
		return err
	}
	a.applied, a.desired = next, desired
	return nil
}

// maxDeletes is the most -D lines one batch writes. iptables-nft looks each one up in its
// chain, so deleting hundreds of rules (a container with a port range) costs less as one
// resync that refills the chains.
const maxDeletes = 64

// batch writes del and add in one restore, or resyncs when del is long. When the batch fails
// (a table may have committed while another failed, or someone flushed a chain) it rebuilds
// everything with a sync too. resynced says that applied and desired were rebuilt.
func (a *Applier) batch(ctx context.Context, desired State, del, add []Rule) (resynced bool, err error) {
	if len(del)+len(add) == 0 {
		return false, nil
	}
	if len(del) <= maxDeletes {
		err = a.restore(ctx, diffBatch(sortRules(del), sortRules(add)))
		if err == nil {
			return false, nil
		}
	}
	want, rerr := a.model.Rules(desired)
	if rerr != nil {
		return false, rerr
	}
	if err == nil {
		// Many deletions: refill the chains in one batch; the jumps are in place since the
		// last sync.
		if err = a.restore(ctx, restoreText(want, nil, true)); err == nil {
			a.applied, a.desired = a.model.newIndex(desired), desired
			return true, nil
		}
	}
	if serr := a.syncLocked(ctx, desired, want); serr != nil {
		return false, fmt.Errorf("applying %d nat rule changes: %v; then resyncing: %w", len(del)+len(add), err, serr)
	}
	return true, nil
}

// Sync re-programs everything from the desired state: each chain flushed and refilled and
// each jump present exactly once, in one batch. Run it at start-up and after a flush.
func (a *Applier) Sync(ctx context.Context) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	want, err := a.model.Rules(a.desired)
	if err != nil {
		return err
	}
	return a.syncLocked(ctx, a.desired, want)
}

func (a *Applier) syncLocked(ctx context.Context, desired State, want []Rule) error {
	a.synced = false
	d, err := a.save(ctx)
	if err != nil {
		return err
	}
	if err := a.restore(ctx, syncBatch(want, d.jumps)); err != nil {
		return fmt.Errorf("syncing nat rules: %w", err)
	}
	a.applied, a.desired, a.synced = a.model.newIndex(desired), desired, true
	return nil
}

// Check compares the kernel with the desired state: missing chains, rules or jumps (a flush,
// a firewall reload) and foreign or duplicate ones.
func (a *Applier) Check(ctx context.Context) (Drift, error) {
	// The rules are rendered and the dump read without the lock, so that publishing ports
	// never waits for a check; a change applied meanwhile makes this check moot, not a drift.
	a.mu.Lock()
	desired, gen := a.desired, a.generation
	a.mu.Unlock()
	want, err := a.model.Rules(desired) // states are replaced whole, never changed in place
	if err != nil {
		return Drift{}, err
	}
	d, err := a.save(ctx)
	if err != nil {
		return Drift{}, err
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.generation != gen {
		return Drift{}, nil
	}
	return drift(d, want), nil
}

// Repair runs Check and, when the kernel drifted, Sync. It returns the drift it found.
func (a *Applier) Repair(ctx context.Context) (Drift, error) {
	d, err := a.Check(ctx)
	if err != nil || d.Clean() {
		return d, err
	}
	if err := a.Sync(ctx); err != nil {
		return d, fmt.Errorf("repairing nat rules (%d missing, %d extra): %w", len(d.Missing), len(d.Extra), err)
	}
	return d, nil
}

// Watch runs Repair every interval until ctx ends. report, when not nil, hears of every
// drift repaired and every error; Watch itself logs nothing.
func (a *Applier) Watch(ctx context.Context, interval time.Duration, report func(Drift, error)) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		d, err := a.Repair(ctx)
		if report != nil && (err != nil || !d.Clean()) && ctx.Err() == nil {
			report(d, err)
		}
	}
}

// Teardown removes the jumps and the driver's chains (uninstall, tests). The desired state
// is kept: a later Apply or Sync programs it again.
func (a *Applier) Teardown(ctx context.Context) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.synced = false
	d, err := a.save(ctx)
	if err != nil {
		return err
	}
	if err := a.restore(ctx, teardownBatch(d.jumps)); err != nil {
		return fmt.Errorf("removing nat chains: %w", err)
	}
	a.applied = index{}
	return nil
}

func (a *Applier) save(ctx context.Context) (dump, error) {
	out, err := a.run.Run(ctx, nil, "iptables-save")
	if err != nil {
		return dump{}, fmt.Errorf("reading iptables rules: %w", err)
	}
	return parseSave(string(out)), nil
}

func (a *Applier) restore(ctx context.Context, batch string) error {
	a.generation++
	_, err := a.run.Run(ctx, []byte(batch), "iptables-restore", "--noflush", "--wait")
	return err
}
