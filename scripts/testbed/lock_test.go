//go:build linux

package main

import (
	"context"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"gotest.tools/v3/assert"
)

func lockTestbed(t *testing.T, dir string, owner int) *testbed {
	t.Helper()
	return &testbed{dir: dir, owner: owner, lockPath: filepath.Join(dir, "lock"), stderr: io.Discard}
}

func TestLockWaitsForTheHolder(t *testing.T) {
	dir := t.TempDir()
	holder := lockTestbed(t, dir, 1)
	assert.NilError(t, holder.lock(context.Background()))

	other := lockTestbed(t, dir, 1)
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	assert.ErrorContains(t, other.lock(ctx), "interrupted")

	holder.unlock()
	assert.NilError(t, other.lock(context.Background()))
	other.unlock()
}

func TestLiveOwner(t *testing.T) {
	dir := t.TempDir()
	sleeper := exec.Command("sleep", "30")
	assert.NilError(t, sleeper.Start())
	defer func() {
		_ = sleeper.Process.Kill()
		_ = sleeper.Wait()
	}()
	live := sleeper.Process.Pid
	gone := exec.Command("true")
	assert.NilError(t, gone.Run())

	tests := []struct {
		name  string
		owner string
		self  int
		want  bool
	}{
		{"another live process", strconv.Itoa(live), 1, true},
		{"the caller's own owner", strconv.Itoa(live), live, false},
		{"a process that is gone", strconv.Itoa(gone.Process.Pid), 1, false},
		{"no owner file", "", 1, false},
		{"garbage", "x", 1, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_ = os.Remove(filepath.Join(dir, "owner"))
			if tt.owner != "" {
				assert.NilError(t, os.WriteFile(filepath.Join(dir, "owner"), []byte(tt.owner+"\n"), 0o644))
			}
			_, got := lockTestbed(t, dir, tt.self).liveOwner()
			assert.Equal(t, got, tt.want)
		})
	}
}

func TestWaitForOwnerGivesUpAfterTheWait(t *testing.T) {
	dir := t.TempDir()
	sleeper := exec.Command("sleep", "30")
	assert.NilError(t, sleeper.Start())
	defer func() {
		_ = sleeper.Process.Kill()
		_ = sleeper.Wait()
	}()
	assert.NilError(t, os.WriteFile(filepath.Join(dir, "owner"), []byte(strconv.Itoa(sleeper.Process.Pid)), 0o644))
	tb := lockTestbed(t, dir, 1)
	assert.NilError(t, tb.lock(context.Background()))
	defer tb.unlock()
	err := tb.waitForOwner(context.Background())
	assert.ErrorContains(t, err, "still in use after 0s")
}
