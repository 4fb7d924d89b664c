package dockerwatch

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"

	"gotest.tools/v3/assert"
)

// TestOnceLog: a standing problem is a warning once, then debug lines; changed, gone for a
// round, or carried over a round that could not look, it is judged as a user would expect.
func TestOnceLog(t *testing.T) {
	var buf bytes.Buffer
	o := onceLog{log: slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))}
	levels := func() string {
		var out []string
		for _, l := range strings.Split(strings.TrimSpace(buf.String()), "\n") {
			level, _, _ := strings.Cut(strings.TrimPrefix(l[strings.Index(l, "level="):], "level="), " ")
			out = append(out, level)
		}
		buf.Reset()
		return strings.Join(out, " ")
	}

	o.warn("a", "problem", "n", 1)
	o.endRound()
	o.warn("a", "problem", "n", 1)
	o.endRound()
	assert.Equal(t, levels(), "WARN DEBUG", "the same problem twice")

	o.warn("a", "problem", "n", 2)
	o.endRound()
	assert.Equal(t, levels(), "WARN", "the problem changed")

	o.endRound() // a round without it
	o.warn("a", "problem", "n", 2)
	o.endRound()
	assert.Equal(t, levels(), "WARN", "the problem came back")

	o.carryOver() // a round that could not look
	o.warn("a", "problem", "n", 2)
	o.endRound()
	assert.Equal(t, levels(), "DEBUG", "the problem after a round that could not look")
}
