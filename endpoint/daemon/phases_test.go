//go:build linux

package daemon

import (
	"bytes"
	"log/slog"
	"testing"
	"time"

	"gotest.tools/v3/assert"
)

func TestPhasesSayEachStepAndTheWholeStart(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	p := newPhases(t0)
	p.done("config", t0.Add(300*time.Millisecond))
	p.done("restore", t0.Add(450*time.Millisecond))
	var b bytes.Buffer
	slog.New(slog.NewTextHandler(&b, &slog.HandlerOptions{ReplaceAttr: dropTime})).Info("serving", p.attrs(t0.Add(500*time.Millisecond))...)
	assert.Equal(t, b.String(), "level=INFO msg=serving config=300ms restore=150ms started_in=500ms\n")
}

func dropTime(_ []string, a slog.Attr) slog.Attr {
	if a.Key == slog.TimeKey {
		return slog.Attr{}
	}
	return a
}
