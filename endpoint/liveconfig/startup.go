package liveconfig

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/docker-vic/docker-vic/api/vchdoc"
	"github.com/docker-vic/docker-vic/vsphere"
)

// Default timings of Startup.
const (
	// DefaultStoredWait bounds the first reading when a configuration is stored: past it the
	// daemon serves the stored one, and the Refresher catches up.
	DefaultStoredWait = 15 * time.Second
	// DefaultRetryMax bounds the wait between readings while there is nothing stored to serve.
	DefaultRetryMax = 15 * time.Second
	// DefaultSayEvery is how often the daemon says that it still waits for vSphere.
	DefaultSayEvery = time.Minute
	retryMin        = time.Second
)

// Startup reads the VCH the daemon starts with. With Stored set (a vSphere source), what it
// reads is stored, and when vSphere does not answer within StoredWait the stored document is
// served instead, said at warning level with its revision. With nothing stored it waits for
// vSphere, retrying, and says so every SayEvery; an answer that will not change by waiting (no
// such VCH, a refused login or certificate) ends the wait with that error.
type Startup struct {
	Source Source
	// Stored, when set, keeps the last document read and stands in for vSphere.
	Stored *Stored
	Log    *slog.Logger
	// StoredWait, RetryMax and SayEvery: zero means DefaultStoredWait, DefaultRetryMax and
	// DefaultSayEvery.
	StoredWait, RetryMax, SayEvery time.Duration
	// Waiting, when set, is told of each failed reading while the daemon waits for vSphere.
	Waiting func(err error)
}

// Read returns the VCH to serve, and stale when it is the stored document because vSphere did
// not answer.
func (s Startup) Read(ctx context.Context) (v *vchdoc.VCH, stale bool, err error) {
	if s.Stored == nil {
		v, err := s.Source.Read(ctx)
		return v, false, err
	}
	stored, err := s.Stored.Load()
	if err != nil {
		if !errors.Is(err, ErrNothingStored) {
			s.Log.Warn("the stored configuration cannot stand in for vSphere", "error", err)
		}
		v, err := s.wait(ctx)
		return v, false, err
	}
	if vs, ok := s.Source.(*VSphere); ok && stored.ID != "" {
		vs.hintEndpoint(stored.ID)
	}
	rctx, cancel := context.WithTimeout(ctx, orDefault(s.StoredWait, DefaultStoredWait))
	v, err = s.Source.Read(rctx)
	cancel()
	if err == nil {
		remember(s.Stored, v, s.Log)
		return v, false, nil
	}
	if ctx.Err() != nil {
		return nil, false, ctx.Err()
	}
	s.Log.Warn("vSphere does not answer at start: serving the configuration stored earlier, which may be stale, until vSphere answers",
		"vch", stored.Name, "revision", stored.Config.Revision, "stored", s.Stored.Path, "error", err)
	return stored, true, nil
}

// wait reads until vSphere answers or ctx ends.
func (s Startup) wait(ctx context.Context) (*vchdoc.VCH, error) {
	start := time.Now()
	retry := retryMin
	var said time.Time
	for {
		rctx, cancel := context.WithTimeout(ctx, refreshTimeout)
		v, err := s.Source.Read(rctx)
		cancel()
		switch {
		case err == nil:
			if !said.IsZero() {
				s.Log.Info("vSphere answers: serving the VCH's configuration", "revision", v.Config.Revision, "waited", time.Since(start).Round(time.Second))
			}
			remember(s.Stored, v, s.Log)
			return v, nil
		case ctx.Err() != nil:
			return nil, ctx.Err()
		case final(err):
			return nil, err
		}
		if s.Waiting != nil {
			s.Waiting(err)
		}
		if said.IsZero() || time.Since(said) >= orDefault(s.SayEvery, DefaultSayEvery) {
			s.Log.Warn("vSphere does not answer and no configuration is stored: waiting for vSphere before serving the vic drivers",
				"vch", s.Stored.VCH, "waited", time.Since(start).Round(time.Second), "error", err)
			said = time.Now()
		} else {
			s.Log.Debug("vSphere does not answer yet", "error", err, "retry", retry)
		}
		if !sleep(ctx, retry) {
			return nil, ctx.Err()
		}
		retry = min(2*retry, orDefault(s.RetryMax, DefaultRetryMax))
	}
}

// final reports whether vSphere answered err: waiting will not change it.
func final(err error) bool {
	var untrusted *vsphere.UntrustedError
	var mismatch *vsphere.ThumbprintMismatchError
	return errors.Is(err, vsphere.ErrNotFound) || errors.Is(err, vsphere.ErrBadLogin) || errors.Is(err, ErrNoConfiguration) ||
		errors.As(err, &untrusted) || errors.As(err, &mismatch)
}

// remember stores v when stored is set; a failure is only logged: the daemon serves v anyway.
func remember(stored *Stored, v *vchdoc.VCH, log *slog.Logger) {
	if stored == nil {
		return
	}
	wrote, err := stored.Save(v)
	switch {
	case err != nil:
		log.Warn("the VCH's configuration is served but not stored: a start while vSphere does not answer would serve an older one, or none", "error", err)
	case wrote:
		log.Debug("stored the VCH's configuration", "revision", v.Config.Revision, "path", stored.Path)
	}
}

// sleep waits d, or less when ctx ends (false).
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

func orDefault(d, def time.Duration) time.Duration {
	if d > 0 {
		return d
	}
	return def
}
