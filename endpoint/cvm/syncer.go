package cvm

import (
	"context"
	"errors"
	"net/url"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/vmware/govmomi/fault"
	"github.com/vmware/govmomi/vim25"
	"github.com/vmware/govmomi/vim25/types"

	"github.com/docker-vic/docker-vic/vsphere"
)

// Default timings of a Syncer.
const (
	DefaultRetryMin = time.Second
	DefaultRetryMax = time.Minute
	DefaultResync   = 5 * time.Minute
	DefaultAttempt  = 2 * time.Minute
	// DefaultSlowAfter is how long an attempt waits for vSphere before Slow is told.
	DefaultSlowAfter = 20 * time.Second
	logoutTimeout    = 5 * time.Second
)

// Connect opens a vSphere session. It returns the client and a function that ends the session.
type Connect func(ctx context.Context) (client *vim25.Client, logout func(context.Context) error, err error)

// Syncer keeps the container VMs in step with the containers from a goroutine of its own. Set
// records the latest desired state and returns at once; Run reconciles it, retries with backoff
// while vCenter is unreachable, logs in again when the session is lost, and reconciles again
// every Resync to undo changes made behind its back. Only the latest state matters, so nothing
// is lost while vCenter is away: the next success converges to it.
type Syncer struct {
	connect Connect
	opts    Options

	// RetryMin and RetryMax bound the wait after a failed attempt, doubled at each failure;
	// Resync is the wait after a success; Attempt bounds one attempt; SlowAfter is how long an
	// attempt waits before Slow is told. Zero means the default.
	RetryMin, RetryMax, Resync, Attempt, SlowAfter time.Duration
	// Failed, when set, receives the error of each failed attempt.
	Failed func(error)
	// Slow, when set, is told once per attempt that has waited SlowAfter for vSphere, from a
	// goroutine of its own: a stalled vCenter fails no call until Attempt has passed.
	Slow func(waited time.Duration)
	// Recovered, when set, is told of the first success after failed or slow attempts, with
	// how long the container VMs were behind.
	Recovered func(behind time.Duration)

	wake chan struct{}

	mu     sync.Mutex
	want   []Container
	status Status
}

// Status tells how far the Syncer got.
type Status struct {
	// Wanted counts the calls of Set; Synced is the value Wanted had at the last success.
	Wanted, Synced uint64
	// LastSuccess is the time of the last success, LastError the error of the last attempt
	// (nil after a success).
	LastSuccess time.Time
	LastError   error
}

// NewSyncer returns a Syncer that logs in with connect and reconciles the container VMs of the
// VCH of o.
func NewSyncer(connect Connect, o Options) *Syncer {
	return &Syncer{connect: connect, opts: o, wake: make(chan struct{}, 1)}
}

// Set records the desired containers and wakes Run. It never blocks on vSphere. Until the
// first Set, Run does nothing: an empty list would destroy every container VM.
func (s *Syncer) Set(want []Container) {
	s.mu.Lock()
	s.want = slices.Clone(want)
	if s.want == nil {
		s.want = []Container{}
	}
	s.status.Wanted++
	s.mu.Unlock()
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// Status returns the progress of the Syncer.
func (s *Syncer) Status() Status {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.status
}

// login is the Syncer's session and the Reconciler working through it, kept between attempts
// so that the Reconciler remembers where the VCH is.
type login struct {
	client *vim25.Client
	logout func(context.Context) error
	r      *Reconciler
}

// Run reconciles until ctx ends, then logs out.
func (s *Syncer) Run(ctx context.Context) {
	var sess login
	drop := func() {
		if sess.logout != nil {
			lctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), logoutTimeout)
			_ = sess.logout(lctx) // the session may already be gone
			cancel()
		}
		sess = login{}
	}
	defer drop()

	retry := orDefault(s.RetryMin, DefaultRetryMin)
	var behindSince time.Time // since when attempts fail or wait on vSphere; zero when in step
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-s.wake:
		case <-timer.C:
		}
		want, gen, ok := s.desired()
		if !ok {
			continue
		}
		start := time.Now()
		slow, err := s.watchedAttempt(ctx, &sess, want)
		if ctx.Err() != nil {
			return
		}
		if (err != nil || slow) && behindSince.IsZero() {
			behindSince = start
		}
		next := orDefault(s.Resync, DefaultResync)
		if err != nil {
			if sessionLost(err) {
				drop()
			}
			next = retry
			retry = min(2*retry, orDefault(s.RetryMax, DefaultRetryMax))
			if s.Failed != nil {
				s.Failed(err)
			}
		} else {
			retry = orDefault(s.RetryMin, DefaultRetryMin)
		}
		s.record(gen, err)
		if err == nil && !behindSince.IsZero() {
			if s.Recovered != nil {
				s.Recovered(time.Since(behindSince))
			}
			behindSince = time.Time{}
		}
		timer.Stop()
		timer.Reset(next)
	}
}

// watchedAttempt is attempt, telling Slow when it waits SlowAfter, and reporting whether it did.
func (s *Syncer) watchedAttempt(ctx context.Context, sess *login, want []Container) (slow bool, err error) {
	after := orDefault(s.SlowAfter, DefaultSlowAfter)
	var waited atomic.Bool
	t := time.AfterFunc(after, func() {
		waited.Store(true)
		if s.Slow != nil {
			s.Slow(after)
		}
	})
	err = s.attempt(ctx, sess, want)
	t.Stop()
	return waited.Load(), err
}

// attempt logs in when needed and reconciles once.
func (s *Syncer) attempt(ctx context.Context, sess *login, want []Container) error {
	ctx, cancel := context.WithTimeout(ctx, orDefault(s.Attempt, DefaultAttempt))
	defer cancel()
	if sess.client == nil {
		c, l, err := s.connect(ctx)
		if err != nil {
			return err
		}
		r, err := New(c, s.opts)
		if err != nil {
			lctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), logoutTimeout)
			_ = l(lctx)
			cancel()
			return err
		}
		*sess = login{client: c, logout: l, r: r}
	}
	return sess.r.Reconcile(ctx, want)
}

func (s *Syncer) desired() ([]Container, uint64, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.want, s.status.Wanted, s.want != nil
}

func (s *Syncer) record(gen uint64, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.status.LastError = err
	if err == nil {
		s.status.Synced = gen
		s.status.LastSuccess = time.Now()
	}
}

// sessionLost reports whether err says the connection or the session is gone, so that the
// next attempt logs in again.
func sessionLost(err error) bool {
	var ue *url.Error
	return errors.As(err, &ue) || fault.Is(err, &types.NotAuthenticated{}) || errors.Is(err, context.DeadlineExceeded)
}

func orDefault(d, def time.Duration) time.Duration {
	if d > 0 {
		return d
	}
	return def
}

// ConnectTarget returns a Connect that logs in to t through package vsphere, as the daemon
// does to read its VCH.
func ConnectTarget(t *vsphere.Target) Connect {
	return func(ctx context.Context) (*vim25.Client, func(context.Context) error, error) {
		s, err := vsphere.Connect(ctx, t)
		if err != nil {
			return nil, nil, err
		}
		return s.Client, s.Logout, nil
	}
}
