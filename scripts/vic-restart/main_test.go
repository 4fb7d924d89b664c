//go:build linux

package main

import (
	"testing"
	"time"

	"gotest.tools/v3/assert"
)

func TestSplitCmdline(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want []string
	}{
		{"/bin/vic-endpoint\x00--vch\x00vch testbed\x00", []string{"/bin/vic-endpoint", "--vch", "vch testbed"}},
		{"/bin/vic-endpoint\x00\x00", []string{"/bin/vic-endpoint", ""}},
		{"", nil},
	} {
		assert.DeepEqual(t, splitCmdline([]byte(tc.in)), tc.want)
	}
}

func TestProcessStateSkipsTheCommandName(t *testing.T) {
	assert.Equal(t, processState([]byte("42 (vic-endpoint) S 1 42 42 0")), byte('S'))
	assert.Equal(t, processState([]byte("42 (a) Z (b)) Z 1 42")), byte('Z'))
	assert.Equal(t, processState([]byte("42 (cut")), byte(0))
}

func TestOptionsRefuseWhatCannotRun(t *testing.T) {
	ok := options{pidFile: "p", logFile: "l", interval: time.Millisecond, timeout: time.Second}
	assert.NilError(t, ok.validate(nil))
	assert.ErrorContains(t, ok.validate([]string{"now"}), `unexpected argument "now"`)
	noPID := ok
	noPID.pidFile = ""
	assert.ErrorContains(t, noPID.validate(nil), "--pid-file and --log are required")
	still := ok
	still.interval = 0
	assert.ErrorContains(t, still.validate(nil), "must be positive")
}
