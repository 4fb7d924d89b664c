package liveconfig

import (
	"context"
	"fmt"
	"log/slog"
	"reflect"
	"sync/atomic"
	"time"

	"github.com/docker-vic/docker-vic/api/vchdoc"
	"github.com/docker-vic/docker-vic/config"
	"github.com/docker-vic/docker-vic/endpoint/uplink"
)

// refreshTimeout bounds one reading of the configuration: a hung vCenter only delays the next.
const refreshTimeout = time.Minute

// Timings of the Refresher's warnings and retries.
const (
	// DefaultSlowAfter is how long a reading may wait for vSphere before the Refresher warns
	// that the configuration served may be stale.
	DefaultSlowAfter = 20 * time.Second
	// retryAfterFailure bounds the wait before the next reading after a failed one.
	retryAfterFailure = 10 * time.Second
	// warnEvery is how often a lasting failure is said again at warning level.
	warnEvery = time.Minute
)

// Refresher reads the VCH's configuration again and applies what can change while containers
// run: the container networks (new ones, ranges, firewall levels) and whether containers get
// VMs in vSphere. A change of the role
// networks, the bridge or the DNS servers takes a restart of the daemon, and it says so.
// A reading that fails, or waits on vSphere for SlowAfter, is said at warning level with the
// revision still served; the first success after that is said at info level.
type Refresher struct {
	Source Source
	Live   *Live
	// Stored, when set, keeps every new document read (see Stored).
	Stored *Stored
	// Behind says that the configuration served was not read from the source at start (the
	// stored one, while vSphere did not answer): Run reads again soon, and says when it caught up.
	Behind bool

	// unapplied is set while Applied has failed for the configuration served.
	unapplied bool
	// Links lists the local links, to match the uplinks of the new configuration; on error the
	// uplinks stay as they are.
	Links func() ([]uplink.Link, error)
	// Overrides are the `--uplink PG=IFACE` overrides.
	Overrides map[string]string
	// Accept is given a new configuration before it is served (the IPAM driver's); an error
	// keeps the old one.
	Accept func(*config.Config) error
	// Applied runs once a new configuration is served (the containers' firewalls); when it
	// fails, the next refresh runs it again even if nothing changed since.
	Applied func(ctx context.Context) error
	// SlowAfter: zero means DefaultSlowAfter.
	SlowAfter time.Duration
	Log       *slog.Logger
}

// Run refreshes until ctx ends: every interval, after a failure or when Behind within
// retryAfterFailure, and when the Source is a Follower, as soon as it tells of a change. While
// following is broken off, it reads every retryAfterFailure instead of every interval.
func (r *Refresher) Run(ctx context.Context, interval time.Duration) {
	retry := min(interval, retryAfterFailure)
	changes := make(chan error, 1)
	if f, ok := r.Source.(Follower); ok {
		done := make(chan struct{})
		defer func() { <-done }()
		go func() {
			defer close(done)
			f.Follow(ctx, retry, func(err error) { tell(changes, err) })
		}()
	}
	st := runState{r: r, stale: r.Behind, retry: retry}
	next := time.Now().Add(interval) // the next reading, unless a change comes first
	if r.Behind {
		next = time.Now().Add(retry)
	}
	timer := time.NewTimer(time.Until(next))
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-timer.C:
		case err := <-changes:
			if err != nil {
				st.followBroke(err)
				if soon := time.Now().Add(retry); soon.Before(next) {
					next = soon
					timer.Reset(retry)
				}
				continue
			}
			st.followErr = nil
		}
		err := r.Refresh(ctx)
		if ctx.Err() != nil {
			return
		}
		st.refreshed(err)
		wait := interval
		if err != nil || st.followErr != nil {
			wait = retry
		}
		next = time.Now().Add(wait)
		timer.Reset(wait)
	}
}

// tell passes err on, keeping only the newest when Run has not taken the previous one: a
// failure after a change means a reading is due all the same.
func tell(ch chan error, err error) {
	for {
		select {
		case ch <- err:
			return
		default:
		}
		select {
		case <-ch:
		default:
		}
	}
}

// runState is what Run says about the configuration served: when readings or following fail
// (at warning level, once every warnEvery), and when it is current again.
type runState struct {
	r *Refresher
	// stale is set from a failure (or Behind) until a reading succeeds while following works.
	stale     bool
	failing   time.Time // since when readings fail; zero while they succeed
	followErr error     // why following broke off; nil while it works
	warned    time.Time
	retry     time.Duration // how often Run reads while readings or following fail
}

// refreshed records the outcome of a reading.
func (st *runState) refreshed(err error) {
	r := st.r
	if err == nil {
		st.failing = time.Time{}
		if st.stale && st.followErr == nil {
			r.Log.Info("vSphere answers again: the configuration served is current", "revision", r.Live.Revision())
			st.stale, st.warned, r.Behind = false, time.Time{}, false
		}
		return
	}
	st.stale = true
	if st.failing.IsZero() {
		st.failing = time.Now()
	}
	if !st.warn() {
		r.Log.Debug("re-reading the VCH configuration failed again", "error", err)
		return
	}
	r.Log.Warn("re-reading the VCH configuration failed: still serving the configuration read earlier, which may be stale (container networks, firewall levels, container VMs on or off)",
		"revision", r.Live.Revision(), "failing", time.Since(st.failing).Round(time.Second), "error", err)
}

// followBroke records that following broke off with err: said at warning level when the
// configuration served was current until now, and then once every warnEvery.
func (st *runState) followBroke(err error) {
	r := st.r
	wasStale := st.stale
	st.followErr, st.stale = err, true
	if wasStale && !st.warn() {
		r.Log.Debug("following the VCH configuration in vSphere failed again", "error", err)
		return
	}
	st.warned = time.Now()
	r.Log.Warn("following the VCH configuration in vSphere broke off: still serving the configuration read earlier, which may be stale (container networks, firewall levels, container VMs on or off); reading it again until following resumes",
		"revision", r.Live.Revision(), "every", st.retry, "error", err)
}

// warn reports whether a failure is to be said at warning level now, and notes that it is.
func (st *runState) warn() bool {
	if time.Since(st.warned) < warnEvery {
		return false
	}
	st.warned = time.Now()
	return true
}

// Refresh reads the configuration once and serves its container networks when they changed.
// Only a failure to read, or of Applied, is returned.
func (r *Refresher) Refresh(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, refreshTimeout)
	defer cancel()
	v, err := r.read(ctx)
	if err != nil {
		return err
	}
	remember(r.Stored, v, r.Log)
	old, oldUp := r.Live.Get()
	if v.Config.Revision == old.Revision && reflect.DeepEqual(v.Config.ContainerNetworks, old.ContainerNetworks) {
		if r.unapplied {
			return r.apply(ctx, old.Revision)
		}
		return nil
	}
	if !sameOutsideLiveSettings(old, v.Config) {
		r.Log.Warn("the VCH's role networks, bridge or DNS changed in vSphere: restart vic-endpoint to apply them")
	}
	up := oldUp
	if locals, err := r.Links(); err == nil {
		if fresh, err := uplink.Match(v, locals, r.Overrides, r.Log.Debug); err == nil {
			up = fresh
		}
	}
	cfg := *old
	cfg.ContainerNetworks, cfg.Revision = v.Config.ContainerNetworks, v.Config.Revision
	cfg.NoContainerVMs = v.Config.NoContainerVMs
	if err := r.Accept(&cfg); err != nil {
		r.Log.Warn("the new container networks cannot be served: keeping the old ones", "error", err)
		return nil
	}
	r.Live.set(&cfg, up)
	r.Log.Info("the VCH's configuration changed in vSphere: applied", "networks", len(cfg.ContainerNetworks),
		"containerVMs", !cfg.NoContainerVMs, "revision", cfg.Revision)
	return r.apply(ctx, cfg.Revision)
}

// apply runs Applied, and remembers a failure so that the next refresh tries again.
func (r *Refresher) apply(ctx context.Context, revision int) error {
	if err := r.Applied(ctx); err != nil {
		r.unapplied = true
		return fmt.Errorf("applying revision %d to the running containers: %w", revision, err)
	}
	r.unapplied = false
	return nil
}

// read reads the source once, and warns when vSphere has not answered within SlowAfter.
func (r *Refresher) read(ctx context.Context) (*vchdoc.VCH, error) {
	slowAfter := orDefault(r.SlowAfter, DefaultSlowAfter)
	start := time.Now()
	var said atomic.Bool
	slow := time.AfterFunc(slowAfter, func() {
		said.Store(true)
		r.Log.Warn("vSphere has not answered the reading of the VCH configuration yet: the configuration served may be stale",
			"waiting", slowAfter, "revision", r.Live.Revision())
	})
	v, err := r.Source.Read(ctx)
	slow.Stop()
	if err == nil && said.Load() {
		r.Log.Info("vSphere answered the reading of the VCH configuration", "after", time.Since(start).Round(time.Second))
	}
	return v, err
}

// sameOutsideLiveSettings reports whether a and b differ only in what the daemon applies while
// it runs: the container networks, container VMs on or off (and the revision).
func sameOutsideLiveSettings(a, b *config.Config) bool {
	x, y := *a, *b
	x.ContainerNetworks, y.ContainerNetworks = nil, nil
	x.NoContainerVMs, y.NoContainerVMs = false, false
	x.Revision, y.Revision = 0, 0
	return reflect.DeepEqual(x, y)
}
