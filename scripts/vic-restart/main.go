//go:build linux

// vic-restart restarts vic-endpoint as a crash would and times how long it takes to be back,
// for `make bench` (scripts/bench.sh): all of the timing happens in this one process, so that
// polling every 10 ms costs no process start per check.
//
//	vic-restart [--flush] --pid-file FILE --log FILE [--socket PATH] [--interval 10ms] [--timeout 60s]
//	vic-restart --count
//
// It counts what the endpoint owns in the kernel (the port maps' elements of table ip vic, the
// rules of its iptables chains and the jumps into them, its bridges and host ends of veths),
// kills the endpoint named by the pid file with SIGKILL, waits until it is gone, with --flush
// removes table ip vic and empties the driver's iptables chains (as a reboot or a firewall
// reload would), then starts the same command line again in a session of its own, its output
// appended to the log file and its pid written to the pid file, as `scripts/testbed.sh
// restart-endpoint` does. From the start of the new process it polls until the plugin socket
// answers Plugin.Activate and the kernel holds as much as before, and prints one line:
//
//	BACK_MS SOCKET_MS KERNEL_MS POLLS
//
// the milliseconds from the start until the end of the first poll that found all of it, until
// the socket first answered, and until the kernel first held all of it; and the polls made.
// With --count it only prints what the kernel holds now: ELEMENTS RULES LINKS.
package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/google/nftables"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/docker-vic/docker-vic/api/portsapi"
	"github.com/docker-vic/docker-vic/endpoint/driverapi"
)

// options are vic-restart's flags.
type options struct {
	count, flush      bool
	pidFile, logFile  string
	socket            string
	interval, timeout time.Duration
}

func main() {
	var o options
	flag.BoolVar(&o.count, "count", false, "print what the kernel holds of the endpoint's (ELEMENTS RULES LINKS) and exit")
	flag.BoolVar(&o.flush, "flush", false, "remove table ip vic and empty the driver's iptables chains while the endpoint is down")
	flag.StringVar(&o.pidFile, "pid-file", "", "the file holding vic-endpoint's pid; the new pid is written there")
	flag.StringVar(&o.logFile, "log", "", "the file the new process's output is appended to")
	flag.StringVar(&o.socket, "socket", portsapi.DefaultSocket, "the plugin socket vic-endpoint serves")
	flag.DurationVar(&o.interval, "interval", 10*time.Millisecond, "time between polls")
	flag.DurationVar(&o.timeout, "timeout", time.Minute, "how long to wait for the endpoint to be back")
	flag.Parse()
	if err := o.validate(flag.Args()); err != nil {
		fmt.Fprintln(os.Stderr, "vic-restart:", err)
		os.Exit(2)
	}
	ctx, cancel := context.WithTimeout(context.Background(), o.timeout+10*time.Second)
	defer cancel()
	var r fmt.Stringer
	var err error
	if o.count {
		r, err = countNow()
	} else {
		r, err = restart(ctx, o)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "vic-restart:", err)
		os.Exit(1)
	}
	fmt.Println(r)
}

func (o options) validate(args []string) error {
	switch {
	case len(args) > 0:
		return fmt.Errorf("unexpected argument %q: vic-restart takes flags only", args[0])
	case o.count:
		return nil
	case o.pidFile == "" || o.logFile == "":
		return errors.New("--pid-file and --log are required")
	case o.interval <= 0 || o.timeout <= 0:
		return errors.New("--interval and --timeout must be positive")
	}
	return nil
}

// counts is what countNow prints.
type counts owned

func (c counts) String() string { return fmt.Sprintf("%d %d %d", c.Elements, c.Rules, c.Links) }

// countNow counts what the kernel holds of the endpoint's.
func countNow() (counts, error) {
	k, closeKernel, err := openKernel()
	if err != nil {
		return counts{}, err
	}
	defer closeKernel()
	o, err := k.count()
	return counts(o), err
}

// openKernel opens the connections of a kernel in this namespace, and a function closing them.
func openKernel() (kernel, func(), error) {
	nft, err := nftables.New(nftables.AsLasting())
	if err != nil {
		return kernel{}, nil, fmt.Errorf("connecting to nf_tables: %w", err)
	}
	nl, err := netlink.NewHandle()
	if err != nil {
		_ = nft.CloseLasting()
		return kernel{}, nil, fmt.Errorf("opening a netlink handle: %w", err)
	}
	return kernel{nft: nft, nl: nl}, func() { nl.Close(); _ = nft.CloseLasting() }, nil
}

// result is what one restart took.
type result struct {
	back, socket, kernel time.Duration
	polls                int
}

func (r result) String() string {
	return fmt.Sprintf("%d %d %d %d", r.back.Milliseconds(), r.socket.Milliseconds(), r.kernel.Milliseconds(), r.polls)
}

// restart kills the endpoint, starts it again and waits until it is back.
func restart(ctx context.Context, o options) (result, error) {
	pid, err := readPID(o.pidFile)
	if err != nil {
		return result{}, err
	}
	argv, dir, err := commandOf(pid)
	if err != nil {
		return result{}, err
	}
	k, closeKernel, err := openKernel()
	if err != nil {
		return result{}, err
	}
	defer closeKernel()
	before, err := k.count()
	if err != nil {
		return result{}, err
	}
	if err := kill(ctx, pid); err != nil {
		return result{}, err
	}
	if o.flush {
		if err := k.flush(); err != nil {
			return result{}, err
		}
	}
	log, err := os.OpenFile(o.logFile, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return result{}, fmt.Errorf("opening the endpoint's log: %w", err)
	}
	defer log.Close()
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Dir, cmd.Stdout, cmd.Stderr = dir, log, log
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return result{}, fmt.Errorf("starting %s: %w", argv[0], err)
	}
	exited := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		close(exited)
	}()
	if err := os.WriteFile(o.pidFile, []byte(strconv.Itoa(cmd.Process.Pid)+"\n"), 0o644); err != nil {
		return result{}, fmt.Errorf("writing the pid file: %w", err)
	}
	return poll(ctx, o, k, before, start, exited)
}

// poll waits until the socket answers and the kernel holds before again, every o.interval.
func poll(ctx context.Context, o options, k kernel, before owned, start time.Time, exited <-chan struct{}) (result, error) {
	var r result
	answered, inKernel := false, false
	var now owned
	tick := time.NewTicker(o.interval)
	defer tick.Stop()
	deadline := time.After(o.timeout)
	for {
		r.polls++
		if !answered && driverapi.Answers(o.socket, time.Second) {
			answered, r.socket = true, time.Since(start)
		}
		var err error
		if now, err = k.count(); err != nil {
			return r, err
		}
		if now == before && !inKernel {
			inKernel, r.kernel = true, time.Since(start)
		}
		if answered && now == before {
			r.back = time.Since(start)
			return r, nil
		}
		select {
		case <-tick.C:
		case <-exited:
			return r, errors.New("vic-endpoint stopped after its restart: see its log")
		case <-deadline:
			return r, fmt.Errorf("vic-endpoint was not back within %s of its restart: the socket answered: %t; the kernel holds %s of %s", o.timeout, answered, now, before)
		case <-ctx.Done():
			return r, ctx.Err()
		}
	}
}

// readPID reads the pid file and checks that it names a running vic-endpoint.
func readPID(path string) (int, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, fmt.Errorf("reading the pid file: %w", err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || pid <= 0 {
		return 0, fmt.Errorf("pid file %q holds no pid", path)
	}
	comm, _ := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid))
	if strings.TrimSpace(string(comm)) != "vic-endpoint" {
		return 0, fmt.Errorf("pid %d of %q is not a running vic-endpoint", pid, path)
	}
	return pid, nil
}

// commandOf is the command line and working directory of process pid.
func commandOf(pid int) ([]string, string, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	if err != nil {
		return nil, "", fmt.Errorf("reading the command line of pid %d: %w", pid, err)
	}
	argv := splitCmdline(b)
	if len(argv) == 0 {
		return nil, "", fmt.Errorf("pid %d has an empty command line", pid)
	}
	dir, err := os.Readlink(fmt.Sprintf("/proc/%d/cwd", pid))
	if err != nil {
		return nil, "", fmt.Errorf("reading the working directory of pid %d: %w", pid, err)
	}
	return argv, dir, nil
}

// splitCmdline splits /proc/PID/cmdline, NUL-terminated arguments, into argv.
func splitCmdline(b []byte) []string {
	b = bytes.TrimSuffix(b, []byte{0})
	if len(b) == 0 {
		return nil
	}
	return strings.Split(string(b), "\x00")
}

// kill sends SIGKILL to pid and waits until it is gone (or a zombie: dead, waiting for its
// parent).
func kill(ctx context.Context, pid int) error {
	if err := unix.Kill(pid, unix.SIGKILL); err != nil && !errors.Is(err, unix.ESRCH) {
		return fmt.Errorf("killing vic-endpoint (pid %d): %w", pid, err)
	}
	for {
		stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil || processState(stat) == 'Z' {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("vic-endpoint (pid %d) did not die: %w", pid, ctx.Err())
		case <-time.After(5 * time.Millisecond):
		}
	}
}

// processState is the state letter of a /proc/PID/stat line: the field after the command
// name in parentheses, which may itself hold parentheses and blanks.
func processState(stat []byte) byte {
	i := bytes.LastIndexByte(stat, ')')
	if i < 0 || i+2 >= len(stat) {
		return 0
	}
	return stat[i+2]
}
