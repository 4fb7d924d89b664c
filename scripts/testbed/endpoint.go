//go:build linux

package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// credentialsFile is the root-only file vic-endpoint reads the vSphere user and password from,
// written once by `up` and used by every start of the endpoint.
const credentialsFile = "credentials"

// endpointArgs are vic-endpoint's flags on the testbed: the target without the login, which
// comes from the credentials file.
func (tb *testbed) endpointArgs(vs vsphere) []string {
	return []string{"--vch", vchName, "--target", vs.bare(), "--thumbprint", vs.thumbprint,
		"--credentials", tb.path(credentialsFile), "--state-dir", tb.path("state"),
		"--log-level", "debug"}
}

// startEndpoint starts vic-endpoint in the background and waits until its socket answers.
func (tb *testbed) startEndpoint(ctx context.Context, vs vsphere) error {
	if _, err := os.Stat(tb.path(credentialsFile)); err != nil {
		return fmt.Errorf("vic-endpoint needs the credentials file: %w", err)
	}
	if socketAnswers(pluginSocket) {
		return fmt.Errorf("another process serves %q: stop it first (only one vic plugin can serve a Docker engine)", pluginSocket)
	}
	if err := os.Remove(pluginSocket); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("removing the stale socket %q: %w", pluginSocket, err)
	}
	if err := os.MkdirAll(tb.path("state"), 0o700); err != nil {
		return fmt.Errorf("making the endpoint's state directory: %w", err)
	}
	logPath := tb.path("endpoint.log")
	logFile, err := createPrivate(logPath, true)
	if err != nil {
		return err
	}
	defer logFile.Close()
	cmd := exec.Command(filepath.Join(tb.bin, "vic-endpoint"), tb.endpointArgs(vs)...)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	exited, err := startDetached(cmd)
	if err != nil {
		return err
	}
	pid := cmd.Process.Pid
	if err := os.WriteFile(tb.path("endpoint.pid"), []byte(strconv.Itoa(pid)+"\n"), 0o644); err != nil {
		_ = cmd.Process.Kill()
		return fmt.Errorf("writing the endpoint's pid file: %w", err)
	}
	for range 300 {
		if socketAnswers(pluginSocket) {
			tb.logf("vic-endpoint (pid %d) serves %s; log %s", pid, pluginSocket, logPath)
			return nil
		}
		select {
		case <-exited:
			fmt.Fprintln(tb.stderr, tail(logPath, 20))
			return fmt.Errorf("vic-endpoint stopped before it served %q", pluginSocket)
		case <-ctx.Done():
			return fmt.Errorf("interrupted while vic-endpoint started: %w", ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
	fmt.Fprintln(tb.stderr, tail(logPath, 20))
	return fmt.Errorf("vic-endpoint did not serve %q within 30 s", pluginSocket)
}

// stopEndpoint removes the container networks' Docker networks (Docker asks the driver, so
// only while it serves), stops vic-endpoint and then tears down what it left in the kernel.
func (tb *testbed) stopEndpoint(ctx context.Context) {
	if pid := tb.pidOf("endpoint", "vic-endpoint"); pid != 0 {
		tb.removeAliasNetworks(ctx)
		tb.logf("stopping vic-endpoint (pid %d)", pid)
		stopPID(pid, unix.SIGTERM)
		// A socket file left by a killed endpoint would make Docker dial a dead socket.
		if !socketAnswers(pluginSocket) {
			_ = os.Remove(pluginSocket)
		}
	}
	exe := filepath.Join(tb.bin, "vic-endpoint")
	if st, err := os.Stat(tb.path("state")); err != nil || !st.IsDir() {
		return
	}
	if _, err := os.Stat(exe); err != nil {
		return
	}
	cmd := exec.CommandContext(ctx, exe, "teardown", "--state-dir", tb.path("state"))
	cmd.Stdout, cmd.Stderr = tb.stderr, tb.stderr
	if err := cmd.Run(); err != nil {
		tb.logf("warning: vic-endpoint teardown: %v", err)
	}
}

// removeAliasNetworks removes the Docker networks vic-endpoint made for the container networks.
func (tb *testbed) removeAliasNetworks(ctx context.Context) {
	for _, c := range containerNets {
		ictx, cancel := context.WithTimeout(ctx, 20*time.Second)
		driver, _ := exec.CommandContext(ictx, "docker", "network", "inspect", "--format", "{{.Driver}}", c.Alias).Output()
		cancel()
		if strings.TrimSpace(string(driver)) != "vic" {
			continue
		}
		rctx, cancel := context.WithTimeout(ctx, 60*time.Second)
		out, err := exec.CommandContext(rctx, "docker", "network", "rm", c.Alias).CombinedOutput()
		cancel()
		if err != nil {
			tb.logf("warning: docker network rm %s: %s", c.Alias, firstLine(string(out)))
		}
	}
}

// restartEndpoint kills vic-endpoint with SIGKILL, as a crash would, and starts it again with
// the same target and the same credentials file.
func (tb *testbed) restartEndpoint(ctx context.Context) error {
	if err := needRoot(); err != nil {
		return err
	}
	if err := tb.lock(ctx); err != nil {
		return err
	}
	defer tb.unlock()
	_, vars, err := tb.readEnv()
	if err != nil {
		return err
	}
	vs, err := vsphereFromEnv(vars)
	if err != nil {
		return err
	}
	if pid := tb.pidOf("endpoint", "vic-endpoint"); pid != 0 {
		tb.logf("kill -9 vic-endpoint (pid %d)", pid)
		if err := unix.Kill(pid, unix.SIGKILL); err != nil {
			return fmt.Errorf("killing vic-endpoint (pid %d): %w", pid, err)
		}
		for processRuns(pid) {
			if err := sleep(ctx, 50*time.Millisecond); err != nil {
				return err
			}
		}
	}
	return tb.startEndpoint(ctx, vs)
}
