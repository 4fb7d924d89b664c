// Package testlog gives tests the text of what their code logs while goroutines of that code
// are still writing it: a Buffer safe for concurrent use, and a debug-level logger over one.
package testlog

import (
	"bytes"
	"log/slog"
	"sync"
)

// Buffer collects writes from any goroutine; tests read it at any time.
type Buffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

// Write implements io.Writer.
func (b *Buffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// String returns what was written so far.
func (b *Buffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// Reset returns what was written so far and forgets it.
func (b *Buffer) Reset() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	s := b.buf.String()
	b.buf.Reset()
	return s
}

// New returns a logger of every level, as text lines ("level=WARN msg=..."), into a new Buffer.
func New() (*slog.Logger, *Buffer) {
	b := &Buffer{}
	return slog.New(slog.NewTextHandler(b, &slog.HandlerOptions{Level: slog.LevelDebug})), b
}
