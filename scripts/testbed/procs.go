//go:build linux

package main

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/docker-vic/docker-vic/endpoint/driverapi"
)

// pidOf is the pid in the testbed's file NAME.pid when that process still runs comm; 0 if not.
func (tb *testbed) pidOf(name, comm string) int {
	b, err := os.ReadFile(tb.path(name + ".pid"))
	if err != nil {
		return 0
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || pid <= 0 {
		return 0
	}
	c, err := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid))
	if err != nil || strings.TrimSpace(string(c)) != comm {
		return 0
	}
	return pid
}

// stopPID signals pid and waits up to 10 s for it to go, sending KILL after that.
func stopPID(pid int, sig unix.Signal) {
	if pid <= 0 || unix.Kill(pid, sig) != nil {
		return
	}
	for range 100 {
		if !processRuns(pid) {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	_ = unix.Kill(pid, unix.SIGKILL)
	time.Sleep(200 * time.Millisecond)
}

// processRuns tells whether pid exists and is not a zombie waiting for its parent.
func processRuns(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	// The state follows the command name in parentheses: "pid (comm) S ...".
	i := bytes.LastIndexByte(b, ')')
	return i < 0 || i+2 >= len(b) || b[i+2] != 'Z'
}

// startDetached starts cmd in a session of its own, so that it outlives the testbed command
// and no terminal signal reaches it, and returns a channel closed when it exits.
func startDetached(cmd *exec.Cmd) (<-chan struct{}, error) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting %s: %w", filepath.Base(cmd.Path), err)
	}
	exited := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		close(exited)
	}()
	return exited, nil
}

// socketAnswers tells whether a plugin serves socket.
func socketAnswers(socket string) bool { return driverapi.Answers(socket, 2*time.Second) }

// tail is the last n lines of a file, indented, for messages.
func tail(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return "    " + strings.Join(lines, "\n    ")
}

// firstLine is the first line of text, for one-sentence errors.
func firstLine(text string) string {
	line, _, _ := strings.Cut(strings.TrimSpace(text), "\n")
	return line
}
