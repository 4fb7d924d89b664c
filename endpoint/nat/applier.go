package nat

import (
	"context"
	"fmt"
	"net/netip"
	"sync"
	"time"
)

// Applier programs a State into the kernel: the rules of the networks with iptables-restore
// --noflush, one batch per change, and the published ports as elements of the nftables port
// maps, one netlink transaction per change. It keeps an index of what it applied, so that
// the next change is a diff: a change of published ports only touches the elements of the
// mappings that changed. It is safe for concurrent use.
type Applier struct {
	model *Model
	run   Runner
	maps  PortMaps

	mu      sync.Mutex
	want    wanted // the state last asked for
	applied index  // what the kernel holds after the last successful change
	synced  bool   // applied is known: a full sync has run since start or the last failure
	// generation counts the changes written, so that Check can tell a drift from a change.
	generation int
}

// NewApplier returns an applier for an endpoint whose public address is public. A nil run
// means ExecRunner{} (the iptables commands of this namespace), nil maps NftMaps("") (the
// nftables of this namespace; Linux only: elsewhere the applier needs maps given).
func NewApplier(public netip.Addr, run Runner, maps PortMaps) (*Applier, error) {
	m, err := NewModel(public)
	if err != nil {
		return nil, err
	}
	if run == nil {
		run = ExecRunner{}
	}
	if maps == nil {
		if maps, err = kernelPortMaps(); err != nil {
			return nil, err
		}
	}
	return &Applier{model: m, run: run, maps: maps}, nil
}

// Model is the applier's rule model.
func (a *Applier) Model() *Model { return a.model }

// Desired is the state last asked for, by Apply or ChangePorts.
func (a *Applier) Desired() State {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.want.state()
}

// Apply makes the kernel hold exactly the rules and elements of desired. After a sync, a
// change of ports alone is one netlink transaction, and a change of networks adds one
// iptables-restore exec of -D and -A lines; before the first sync, or when a change fails
// (someone flushed a chain, say), it falls back to Sync. On error the previous state stays
// the desired one, and the next Sync restores it.
func (a *Applier) Apply(ctx context.Context, desired State) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.synced {
		if add, del, ok := a.want.delta(desired); ok {
			return a.applyMappings(ctx, add, del)
		}
	}
	if _, err := a.model.validate(desired); err != nil {
		return err
	}
	if !a.synced {
		return a.syncLocked(ctx, desired)
	}
	want := stateRules(desired)
	next := a.model.newIndex(desired)
	del, add := diffIndex(a.applied, next, want)
	edel, eadd := diffElements(a.applied, next)
	err := a.writeRules(ctx, want, del, add)
	if err == nil {
		err = a.writeElements(edel, eadd)
	}
	if err != nil {
		return a.resync(ctx, desired, err)
	}
	a.applied, a.want = next, wantedOf(desired)
	return nil
}

// ChangePorts publishes the mappings add and revokes the mappings del, leaving the networks
// and every other mapping as they are; a mapping of del that is not published is ignored. It
// costs the same whatever the number of mappings kept: the driver calls it for each
// container's ports.
func (a *Applier) ChangePorts(ctx context.Context, add, del []Mapping) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	del = a.want.published(del)
	if !a.synced {
		desired := a.want.changed(add, del).state()
		if _, err := a.model.validate(desired); err != nil {
			return err
		}
		return a.syncLocked(ctx, desired)
	}
	return a.applyMappings(ctx, add, del)
}

// applyMappings applies a change of published ports alone: only the elements of the mappings
// added and removed are written, whatever the number of mappings kept.
func (a *Applier) applyMappings(ctx context.Context, add, del []Mapping) error {
	nets := State{Networks: a.want.nets}
	dels, adds, err := a.model.change(a.applied, nets, add, del)
	if err != nil {
		return err
	}
	if err := a.writeElements(dels, adds); err != nil {
		return a.resync(ctx, a.want.changed(add, del).state(), err)
	}
	a.applied.apply(a.model, nets, add, del)
	a.want.change(add, del)
	return nil
}

// resync rebuilds everything after a change failed: a table may have committed while
// another failed, or someone flushed a chain. The change counts as done when the sync is.
func (a *Applier) resync(ctx context.Context, desired State, cause error) error {
	if err := a.syncLocked(ctx, desired); err != nil {
		return fmt.Errorf("applying nat changes: %w; then resyncing: %w", cause, err)
	}
	return nil
}

// maxDeletes is the most -D lines one batch writes. iptables-nft looks each one up in its
// chain, so deleting many rules costs less as one restore that refills the chains.
const maxDeletes = 64

// writeRules writes the rule changes del and add in one restore, or refills the chains with
// want when del is long (the jumps are in place since the last sync).
func (a *Applier) writeRules(ctx context.Context, want, del, add []Rule) error {
	switch {
	case len(del)+len(add) == 0:
		return nil
	case len(del) <= maxDeletes:
		return a.restore(ctx, diffBatch(sortRules(del), sortRules(add)))
	default:
		return a.restore(ctx, restoreText(want, nil, true))
	}
}

// writeElements deletes and adds map elements in one transaction.
func (a *Applier) writeElements(del, add []Element) error {
	if len(del)+len(add) == 0 {
		return nil
	}
	a.generation++
	return a.maps.Change(del, add)
}

// Sync re-programs everything from the desired state: each chain flushed and refilled and
// each jump present exactly once, in one batch, and the table of port maps replaced. Run it
// at start-up and after a flush.
func (a *Applier) Sync(ctx context.Context) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.syncLocked(ctx, a.want.state())
}

// syncLocked programs a validated state from scratch.
func (a *Applier) syncLocked(ctx context.Context, desired State) error {
	a.synced = false
	elems, err := a.model.Elements(desired)
	if err != nil {
		return err
	}
	d, err := a.save(ctx)
	if err != nil {
		return err
	}
	if err := a.restore(ctx, syncBatch(stateRules(desired), d)); err != nil {
		return fmt.Errorf("syncing nat rules: %w", err)
	}
	a.generation++
	if err := a.maps.Sync(elems); err != nil {
		return fmt.Errorf("syncing published ports: %w", err)
	}
	a.applied, a.want, a.synced = a.model.newIndex(desired), wantedOf(desired), true
	return nil
}

// Check compares the kernel with the desired state: missing chains, rules, jumps, table,
// maps or elements (a flush, a firewall reload) and foreign or duplicate ones.
func (a *Applier) Check(ctx context.Context) (Drift, error) {
	// The state is rendered and the kernel read without the lock, so that publishing ports
	// never waits for a check; a change applied meanwhile makes this check moot, not a drift.
	a.mu.Lock()
	desired, gen := a.want.state(), a.generation
	a.mu.Unlock()
	elems, err := a.model.Elements(desired)
	if err != nil {
		return Drift{}, err
	}
	d, err := a.save(ctx)
	if err != nil {
		return Drift{}, err
	}
	md, err := a.maps.Read()
	if err != nil {
		return Drift{}, err
	}
	a.mu.Lock()
	changed := a.generation != gen
	a.mu.Unlock()
	if changed {
		return Drift{}, nil
	}
	out := drift(d, stateRules(desired))
	out.addMaps(md, elems)
	return out, nil
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

// Published reads the port map elements the kernel holds, whatever the applier was asked for:
// after the state database is lost, they are what is left of the host ports picked before.
func (a *Applier) Published() ([]Element, error) {
	d, err := a.maps.Read()
	if err != nil {
		return nil, fmt.Errorf("reading the published ports of table ip %s: %w", TableName, err)
	}
	return sortElements(d.Elements), nil
}

// Teardown removes the jumps, the driver's chains and its nftables table (uninstall,
// tests). The desired state is kept: a later Apply or Sync programs it again.
func (a *Applier) Teardown(ctx context.Context) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.synced = false
	a.applied = index{}
	d, err := a.save(ctx)
	if err != nil {
		return err
	}
	if err := a.restore(ctx, teardownBatch(d)); err != nil {
		return fmt.Errorf("removing nat chains: %w", err)
	}
	a.generation++
	return a.maps.Teardown()
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
