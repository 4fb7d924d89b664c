package cfw

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"os"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// Docker joins a container to its networks, and publishes its ports, before the container's
// network namespace exists: the namespace is bind-mounted at the sandbox path only when the
// container starts, by Docker's prestart hook, just before it moves the container's interfaces
// in. Firewalls applies a firewall at once when it can, and otherwise as soon as the mount
// table changes and the sandbox has become a namespace: in the window between that mount and
// the interfaces moving in.

// pendingFor is how long a firewall waits for its sandbox: a container that has not started
// by then never will (Docker has rolled the endpoint back).
const pendingFor = 2 * time.Minute

// Firewalls applies container firewalls now or, when the sandbox is not a namespace yet, as
// soon as it is. It is safe for concurrent use; Run must run for deferred firewalls to land.
type Firewalls struct {
	log *slog.Logger

	mu      sync.Mutex
	pending map[pendingKey]pendingRules
	wake    chan struct{}
}

type pendingKey struct{ sandbox, name string }

type pendingRules struct {
	rules Rules
	since time.Time
	// failed is set once an apply into the namespace failed: it is retried, and said once.
	failed bool
}

// NewFirewalls returns a Firewalls that logs the deferred applies it makes or gives up.
func NewFirewalls(log *slog.Logger) *Firewalls {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Firewalls{log: log, pending: map[pendingKey]pendingRules{}, wake: make(chan struct{}, 1)}
}

// Apply sets the firewall of endpoint name in sandbox now, or as soon as the sandbox is a
// network namespace. Bad rules are refused at once either way.
func (f *Firewalls) Apply(sandbox, name string, r Rules) error {
	if err := validName(name); err != nil {
		return err
	}
	if err := r.Validate(); err != nil {
		return err
	}
	k := pendingKey{sandbox, name}
	f.mu.Lock()
	defer f.mu.Unlock()
	err := Apply(sandbox, name, r)
	if !errors.Is(err, ErrNoSandbox) {
		delete(f.pending, k)
		return err
	}
	f.pending[k] = pendingRules{rules: r, since: time.Now()}
	select {
	case f.wake <- struct{}{}:
	default:
	}
	return nil
}

// Remove deletes the firewall of endpoint name, and forgets it if it was still waiting.
func (f *Firewalls) Remove(sandbox, name string) error {
	f.mu.Lock()
	delete(f.pending, pendingKey{sandbox, name})
	f.mu.Unlock()
	return Remove(sandbox, name)
}

// Pending is the number of firewalls waiting for their sandbox.
func (f *Firewalls) Pending() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.pending)
}

// Run lands deferred firewalls until ctx ends. While some wait, it wakes on every change of
// the mount table (and at least every 50 ms); otherwise it sleeps until Apply defers one.
func (f *Firewalls) Run(ctx context.Context) {
	mounts, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		f.log.Warn("cannot watch the mount table: deferred container firewalls land within 50 ms instead", "error", err)
	} else {
		defer mounts.Close()
	}
	for {
		if f.Pending() == 0 {
			select {
			case <-ctx.Done():
				return
			case <-f.wake:
			}
		}
		waitForMount(mounts, 50*time.Millisecond)
		if ctx.Err() != nil {
			return
		}
		f.landPending()
	}
}

// waitForMount returns when the mount table changes or after timeout. Reading the table to
// its end re-arms the notification.
func waitForMount(mounts *os.File, timeout time.Duration) {
	if mounts == nil {
		time.Sleep(timeout)
		return
	}
	_, _ = mounts.Seek(0, io.SeekStart)
	_, _ = io.Copy(io.Discard, mounts)
	fds := []unix.PollFd{{Fd: int32(mounts.Fd()), Events: unix.POLLPRI}}
	_, _ = unix.Poll(fds, int(timeout.Milliseconds()))
}

// landPending applies every deferred firewall whose sandbox has become a namespace.
func (f *Firewalls) landPending() {
	f.mu.Lock()
	defer f.mu.Unlock()
	for k, p := range f.pending {
		err := Apply(k.sandbox, k.name, p.rules)
		waiting := time.Since(p.since) < pendingFor
		switch {
		case errors.Is(err, ErrNoSandbox) && waiting:
			continue
		case errors.Is(err, ErrNoSandbox):
			f.log.Info("a container never started: its firewall is dropped", "sandbox", k.sandbox, "endpoint", k.name)
		case err != nil && waiting:
			// The container runs without its level: try again at the next wake.
			if !p.failed {
				f.log.Warn("cannot set a container's firewall yet: retrying", "sandbox", k.sandbox, "endpoint", k.name, "error", err)
				f.pending[k] = pendingRules{rules: p.rules, since: p.since, failed: true}
			}
			continue
		case err != nil:
			f.log.Error("a container runs without its network's firewall level: setting it kept failing",
				"sandbox", k.sandbox, "endpoint", k.name, "error", err)
		default:
			f.log.Debug("container firewall set once its namespace appeared", "sandbox", k.sandbox, "endpoint", k.name,
				"waited", time.Since(p.since))
		}
		delete(f.pending, k)
	}
}
