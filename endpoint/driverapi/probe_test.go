package driverapi

import (
	"net"
	"path/filepath"
	"testing"
	"time"

	"gotest.tools/v3/assert"
)

func TestAnswersWhileServed(t *testing.T) {
	_, sock := serve(t)
	assert.Assert(t, Answers(sock, time.Second))
}

func TestAnswersNotWithoutAServer(t *testing.T) {
	dir := t.TempDir()
	assert.Assert(t, !Answers(filepath.Join(dir, "none.sock"), time.Second), "no socket file")
	// A socket that accepts but that nobody serves: no answer within the timeout.
	sock := filepath.Join(dir, "mute.sock")
	l, err := net.Listen("unix", sock)
	assert.NilError(t, err)
	defer l.Close()
	start := time.Now()
	assert.Assert(t, !Answers(sock, 100*time.Millisecond), "a socket nobody serves")
	assert.Assert(t, time.Since(start) < 2*time.Second)
}
