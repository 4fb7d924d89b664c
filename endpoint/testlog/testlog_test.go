package testlog

import (
	"strings"
	"sync"
	"testing"
)

func TestBufferConcurrentWrites(t *testing.T) {
	log, buf := New()
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for range 25 {
				log.Debug("line")
				_ = buf.String()
			}
		})
	}
	wg.Wait()
	if got := strings.Count(buf.Reset(), "level=DEBUG msg=line"); got != 100 {
		t.Errorf("%d lines, want 100", got)
	}
	if buf.String() != "" {
		t.Errorf("Reset left %q", buf.String())
	}
}
