//go:build linux

package daemon

import (
	"log/slog"
	"time"
)

// phases times the steps of a start, for the line that says the daemon serves: how long
// reading the configuration, opening the state, building the drivers and restoring the kernel
// took (`make bench` reads them to say where a restart's time goes).
type phases struct {
	began, last time.Time
	steps       []any // slog attributes, in order
}

func newPhases(now time.Time) *phases { return &phases{began: now, last: now} }

// done records that step name ended at now.
func (p *phases) done(name string, now time.Time) {
	p.steps = append(p.steps, slog.Duration(name, now.Sub(p.last)))
	p.last = now
}

// attrs are the steps and, last, the whole start until now, as slog attributes.
func (p *phases) attrs(now time.Time) []any {
	return append(append([]any(nil), p.steps...), slog.Duration("started_in", now.Sub(p.began)))
}
