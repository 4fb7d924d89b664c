//go:build linux

package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// One testbed at a time: there is one plugin socket per Docker engine. The testbed's commands
// serialize on a lock file; `up` records its owner, and while that owner runs another `up`
// waits for it and a `down` from anyone else is refused unless forced. A testbed whose owner is
// gone is stale: the next `up` clears it.

// lockWait bounds how long a command waits for another one holding the lock.
const lockWait = 10 * time.Minute

// lock takes the lock file (kept open, and so held, until unlock or the process ends; children
// do not inherit it).
func (tb *testbed) lock(ctx context.Context) error {
	if err := os.MkdirAll(filepath.Dir(tb.lockPath), 0o755); err != nil {
		return fmt.Errorf("making the directory of lock %q: %w", tb.lockPath, err)
	}
	f, err := os.OpenFile(tb.lockPath, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return fmt.Errorf("opening lock %q: %w", tb.lockPath, err)
	}
	deadline := time.Now().Add(lockWait)
	for {
		err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB)
		if err == nil {
			tb.lockFile = f
			return nil
		}
		if !errors.Is(err, unix.EWOULDBLOCK) {
			f.Close()
			return fmt.Errorf("locking %q: %w", tb.lockPath, err)
		}
		if time.Now().After(deadline) {
			f.Close()
			return fmt.Errorf("another testbed command has held %q for %s", tb.lockPath, lockWait)
		}
		if err := sleep(ctx, 100*time.Millisecond); err != nil {
			f.Close()
			return err
		}
	}
}

func (tb *testbed) unlock() {
	if tb.lockFile != nil {
		tb.lockFile.Close()
		tb.lockFile = nil
	}
}

// liveOwner is the process the running testbed belongs to, when that process still runs and
// is not the caller's owner.
func (tb *testbed) liveOwner() (int, bool) {
	b, err := os.ReadFile(tb.path("owner"))
	if err != nil {
		return 0, false
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || pid <= 0 || pid == tb.owner {
		return pid, false
	}
	return pid, processExists(pid)
}

// waitForOwner waits, without the lock, while another live process owns the testbed.
func (tb *testbed) waitForOwner(ctx context.Context) error {
	const step = 5 * time.Second
	var waited time.Duration
	for {
		pid, live := tb.liveOwner()
		if !live {
			return nil
		}
		if waited == 0 {
			tb.logf("a testbed is up for pid %d (%s); waiting for it to finish", pid, commandLine(pid))
		}
		if waited >= tb.wait {
			return fmt.Errorf("the testbed of pid %d is still in use after %s (scripts/testbed.sh down --force takes it away)", pid, tb.wait)
		}
		tb.unlock()
		if err := sleep(ctx, step); err != nil {
			return err
		}
		waited += step
		if err := tb.lock(ctx); err != nil {
			return err
		}
	}
}

// processExists tells whether a process pid exists (a zombie counts).
func processExists(pid int) bool {
	err := unix.Kill(pid, 0)
	return err == nil || errors.Is(err, unix.EPERM)
}

// commandLine is the start of pid's command line, for messages.
func commandLine(pid int) string {
	b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	return truncate(strings.TrimSpace(strings.ReplaceAll(string(b), "\x00", " ")), 80)
}

// sleep waits d or until ctx is done.
func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return fmt.Errorf("interrupted: %w", ctx.Err())
	case <-t.C:
		return nil
	}
}
