//go:build linux

// Command vic-testbed is the testbed of SPEC.md §9: a whole VCH on this one machine, for the
// tests and the demo. scripts/testbed.sh builds it into bin/ and runs it:
//
//	vic-testbed up                start vcsim, create VCH vch-testbed, wire it, start vic-endpoint,
//	                              print the export lines
//	vic-testbed up --appliance    start vcsim as a vCenter on the management wire, the wires and
//	                              their machines, and the harness that boots VMs under qemu; no
//	                              VCH: `docker vic create` makes one that boots (appliance.go)
//	vic-testbed env               print the export lines of the running testbed again
//	vic-testbed restart-endpoint  kill -9 vic-endpoint and start it again (reliability tests)
//	vic-testbed down [--force]    remove all of it; safe to run twice
//
// It runs bin/vcsim, bin/docker-vic and bin/vic-endpoint from the directory of its own
// executable. Progress goes to stderr; stdout carries only the export lines. The environment
// says where and for whom: VIC_TESTBED_DIR (default /tmp/vic-testbed), VIC_TESTBED_OWNER (the
// process the testbed belongs to; default the parent), VIC_TESTBED_WAIT (seconds an `up` waits
// for another owner's testbed, default 900), VIC_TESTBED_KEEP (a failed `up` leaves everything
// for a look).
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"syscall"
	"time"
)

const usage = "usage: scripts/testbed.sh up [--appliance]|down [--force]|env|restart-endpoint"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	tb, err := fromEnv(os.Stdout, os.Stderr)
	if err == nil {
		err = tb.run(ctx, os.Args[1:])
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "testbed: %v\n", err)
		stop()
		os.Exit(1)
	}
}

// testbed is one invocation: where the testbed lives and who asks.
type testbed struct {
	// dir holds the testbed's files: pid files, logs, env, credentials, the endpoint's state.
	dir string
	// bin holds vcsim, docker-vic and vic-endpoint; root is the repository (for make build).
	bin, root string
	// owner is the process the testbed belongs to while it is up.
	owner int
	// wait bounds how long an `up` waits for another owner's testbed.
	wait time.Duration
	// keep leaves a failed `up` in place.
	keep bool

	stdout, stderr io.Writer
	// lockPath serializes the testbed's commands; lockFile is it, held (see lock.go).
	lockPath string
	lockFile *os.File
}

func fromEnv(stdout, stderr io.Writer) (*testbed, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("finding the testbed's own executable: %w", err)
	}
	bin := filepath.Dir(exe)
	tb := &testbed{
		dir:      "/tmp/vic-testbed",
		bin:      bin,
		root:     filepath.Dir(bin),
		owner:    os.Getppid(),
		lockPath: lockPath,
		wait:     900 * time.Second,
		keep:     os.Getenv("VIC_TESTBED_KEEP") != "",
		stdout:   stdout,
		stderr:   stderr,
	}
	if d := os.Getenv("VIC_TESTBED_DIR"); d != "" {
		if tb.dir, err = filepath.Abs(d); err != nil {
			return nil, fmt.Errorf("VIC_TESTBED_DIR %q: %w", d, err)
		}
	}
	if tb.dir == "/" {
		return nil, errors.New("VIC_TESTBED_DIR must not be /: down removes the whole directory")
	}
	if s := os.Getenv("VIC_TESTBED_OWNER"); s != "" {
		if tb.owner, err = strconv.Atoi(s); err != nil || tb.owner <= 0 {
			return nil, fmt.Errorf("VIC_TESTBED_OWNER %q is not a process ID", s)
		}
	}
	if s := os.Getenv("VIC_TESTBED_WAIT"); s != "" {
		secs, err := strconv.Atoi(s)
		if err != nil || secs < 0 {
			return nil, fmt.Errorf("VIC_TESTBED_WAIT %q is not a number of seconds", s)
		}
		tb.wait = time.Duration(secs) * time.Second
	}
	return tb, nil
}

func (tb *testbed) run(ctx context.Context, args []string) error {
	if len(args) == 0 {
		return errors.New(usage)
	}
	switch cmd, rest := args[0], args[1:]; {
	case cmd == "up" && len(rest) == 0:
		return tb.up(ctx)
	case cmd == "up" && len(rest) == 1 && rest[0] == "--appliance":
		return tb.upAppliance(ctx)
	case cmd == harnessCommand && len(rest) == 0:
		return tb.runHarness(ctx)
	case cmd == "down" && (len(rest) == 0 || len(rest) == 1 && rest[0] == "--force"):
		return tb.downCommand(ctx, len(rest) == 1)
	case cmd == "env" && len(rest) == 0:
		return tb.printEnv()
	case cmd == "restart-endpoint" && len(rest) == 0:
		return tb.restartEndpoint(ctx)
	}
	return errors.New(usage)
}

// logf prints one line of progress on stderr.
func (tb *testbed) logf(format string, args ...any) {
	fmt.Fprintf(tb.stderr, "testbed: "+format+"\n", args...)
}

// path is a file of the testbed's directory.
func (tb *testbed) path(name string) string { return filepath.Join(tb.dir, name) }

func needRoot() error {
	if os.Geteuid() != 0 {
		return errors.New("the testbed needs root (network namespaces, links, iptables)")
	}
	return nil
}

// writePrivate writes a file only root may read: the testbed's files hold the vSphere password.
func writePrivate(path string, data []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return fmt.Errorf("writing %q: %w", path, err)
	}
	// The file may have existed with a wider mode.
	if err := f.Chmod(0o600); err != nil {
		f.Close()
		return fmt.Errorf("making %q root-only: %w", path, err)
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return fmt.Errorf("writing %q: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("writing %q: %w", path, err)
	}
	return nil
}

// createPrivate opens a new root-only file for a child process's output.
func createPrivate(path string, appendTo bool) (*os.File, error) {
	flags := os.O_WRONLY | os.O_CREATE | os.O_TRUNC
	if appendTo {
		flags = os.O_WRONLY | os.O_CREATE | os.O_APPEND
	}
	f, err := os.OpenFile(path, flags, 0o600)
	if err != nil {
		return nil, fmt.Errorf("opening %q: %w", path, err)
	}
	if err := f.Chmod(0o600); err != nil {
		f.Close()
		return nil, fmt.Errorf("making %q root-only: %w", path, err)
	}
	return f, nil
}
