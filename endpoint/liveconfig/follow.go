package liveconfig

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/vmware/govmomi/fault"
	"github.com/vmware/govmomi/property"
	"github.com/vmware/govmomi/vim25/methods"
	"github.com/vmware/govmomi/vim25/types"

	"github.com/docker-vic/docker-vic/vsphere"
)

// Timings of Follow.
const (
	// DefaultMaxWait bounds one wait for a change of the endpoint VM: vSphere answers "nothing
	// changed" after it, which shows that the session still works.
	DefaultMaxWait = 15 * time.Second
	// lateAfter is how much longer than MaxWait a wait may take before the session is taken
	// for dead (a vCenter that takes connections and answers nothing); never more than MaxWait.
	lateAfter = 10 * time.Second
	// followRetryMin is the first wait before following again after a failure; it doubles up
	// to the retry bound Run gives.
	followRetryMin = time.Second
)

// followed are the properties of the endpoint VM that a reading of the VCH depends on: its
// configuration (extraConfig), its NICs and its power state.
var followedProperties = []string{"config.extraConfig", "config.hardware.device", "runtime.powerState"}

// Follower is a Source that can tell when what it reads may have changed.
type Follower interface {
	Source
	// Follow calls changed(nil) each time what Read returns may have changed, the first time
	// as soon as it follows (what changed while nobody followed), and changed(err) when
	// following broke off; then it follows again, waiting at most retryMax between attempts.
	// It returns when ctx ends.
	Follow(ctx context.Context, retryMax time.Duration, changed func(error))
}

// Follow implements Follower: it waits for changes of the endpoint VM with a property
// collector of its own (WaitForUpdatesEx, each wait bounded by MaxWait so that a dead session
// is noticed), on the session Read uses. A failure drops the session, as a failed reading does.
func (s *VSphere) Follow(ctx context.Context, retryMax time.Duration, changed func(error)) {
	retry := min(followRetryMin, retryMax)
	for {
		followed, cleanup, err := s.follow(ctx, changed)
		if ctx.Err() == nil {
			changed(err) // said before the cleanup, which may wait on a stalled vCenter
		}
		cleanup(err)
		if ctx.Err() != nil {
			return
		}
		if followed {
			retry = min(followRetryMin, retryMax)
		}
		if !sleep(ctx, retry) {
			return
		}
		retry = min(2*retry, retryMax)
	}
}

// follow follows the endpoint VM until a failure, which it returns, or until ctx ends. It
// reports whether it got as far as one answer, and returns what lets go of its collector and,
// after a failure, of the session.
func (s *VSphere) follow(ctx context.Context, changed func(error)) (followed bool, cleanup func(error), err error) {
	cleanup = func(error) {}
	sess, ref, err := s.endpoint(ctx)
	if err != nil {
		return false, cleanup, err
	}
	c := sess.Client
	actx, cancel := context.WithTimeout(ctx, refreshTimeout)
	pc, err := property.DefaultCollector(c).Create(actx)
	if err == nil {
		_, err = pc.CreateFilter(actx, types.CreateFilter{Spec: types.PropertyFilterSpec{
			ObjectSet: []types.ObjectSpec{{Obj: ref}},
			PropSet:   []types.PropertySpec{{Type: ref.Type, PathSet: followedProperties}},
		}})
	}
	cancel()
	cleanup = func(err error) {
		if err != nil {
			if fault.Is(err, &types.ManagedObjectNotFound{}) || errors.Is(err, vsphere.ErrScopeGone) {
				s.forget()
			}
			s.drop(ctx, sess) // its collectors go with it
			return
		}
		if pc != nil {
			dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), logoutTimeout)
			_ = pc.Destroy(dctx)
			cancel()
		}
	}
	if err != nil {
		return false, cleanup, fmt.Errorf("following endpoint VM %s: %w", ref.Value, err)
	}

	maxWait := orDefault(s.MaxWait, DefaultMaxWait)
	seconds := int32(max(maxWait/time.Second, 1))
	deadline := maxWait + min(lateAfter, maxWait)
	req := types.WaitForUpdatesEx{This: pc.Reference(), Options: &types.WaitOptions{MaxWaitSeconds: &seconds}}
	for {
		wctx, cancel := context.WithTimeout(ctx, deadline)
		res, err := methods.WaitForUpdatesEx(wctx, c, &req)
		late := wctx.Err() == context.DeadlineExceeded && ctx.Err() == nil
		cancel()
		switch {
		case ctx.Err() != nil:
			return followed, cleanup, nil
		case late:
			return followed, cleanup, fmt.Errorf("vSphere has not answered the watch of endpoint VM %s for %s", ref.Value, deadline)
		case err != nil:
			return followed, cleanup, fmt.Errorf("following endpoint VM %s: %w", ref.Value, err)
		}
		followed = true
		set := res.Returnval
		if set == nil {
			continue // nothing changed within MaxWait
		}
		req.Version = set.Version
		for _, fs := range set.FilterSet {
			for _, u := range fs.ObjectSet {
				if u.Kind == types.ObjectUpdateKindLeave {
					return followed, cleanup, fmt.Errorf("following endpoint VM %s: %w", ref.Value, vsphere.ErrScopeGone)
				}
			}
		}
		if len(set.FilterSet) > 0 {
			changed(nil)
		}
	}
}

// endpoint returns the session and the endpoint VM to follow, reading the VCH when its
// endpoint VM is not known yet.
func (s *VSphere) endpoint(ctx context.Context) (*vsphere.Session, types.ManagedObjectReference, error) {
	ctx, cancel := context.WithTimeout(ctx, refreshTimeout)
	defer cancel()
	s.mu.Lock()
	defer s.mu.Unlock()
	sess, err := s.session(ctx)
	if err != nil {
		return nil, types.ManagedObjectReference{}, err
	}
	if s.scope == nil {
		if _, err := s.read(ctx); err != nil {
			_ = s.logout(ctx)
			return nil, types.ManagedObjectReference{}, err
		}
	}
	if s.scope == nil {
		return nil, types.ManagedObjectReference{}, fmt.Errorf("VCH %q: %w", s.VCH, ErrNoConfiguration)
	}
	return sess, s.scope.Endpoint, nil
}

// forget lets go of the scope: the next reading scans the datacenter for the endpoint VM.
func (s *VSphere) forget() {
	s.mu.Lock()
	s.scope = nil
	s.mu.Unlock()
}
