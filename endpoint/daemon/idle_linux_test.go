package daemon_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/docker-vic/docker-vic/endpoint/link"
)

// TestDaemonTearsDownWhenIdle: with --teardown-when-idle (the managed plugin), a daemon stopping
// with a container's network keeps its rules and links, as any daemon; one stopping with
// nothing left removes them all, so that removing the plugin leaves nothing behind.
func TestDaemonTearsDownWhenIdle(t *testing.T) {
	ns := newEndpointVM(t, false)
	dir := t.TempDir()
	cfgPath := writeConfig(t, dir, publicMAC)
	stateDir, sock := filepath.Join(dir, "state"), filepath.Join(dir, "vic.sock")
	args := []string{"--config", cfgPath, "--state-dir", stateDir, "--teardown-when-idle"}

	d := startDaemonWith(t, ns, sock, nil, args...)
	d.stop(t)
	if rules := natRules(t, ns); strings.Contains(rules, ":VIC") {
		t.Fatalf("stopping idle left the vic chains:\n%s", rules)
	}
	if out, err := nft(ns, "list", "table", "ip", "vic"); err == nil {
		t.Fatalf("stopping idle left table ip vic:\n%s", out)
	}
	if !strings.Contains(d.stderr.String(), "nothing of it is left in the kernel") {
		t.Errorf("the teardown was not logged:\n%s", d.stderr)
	}

	d = startDaemonWith(t, ns, sock, nil, args...)
	runContainer(t, newClient(sock))
	moveToContainer(t, ns)
	d.stop(t)
	if rules := natRules(t, ns); !strings.Contains(rules, ":VIC") {
		t.Fatalf("stopping with a container's network removed the vic chains:\n%s", rules)
	}
	if _, err := ns.Link.LinkByName(link.BridgeName(testNet)); err != nil {
		t.Fatalf("stopping with a container's network removed its bridge: %v", err)
	}
}

// A plugin stopped while it rebuilds a lost state keeps the running containers' links and
// rules: its drivers hold nothing only because the rebuild (waiting here for a Docker that
// never answers) has not filled them yet.
func TestDaemonStoppedDuringARebuildKeepsTheKernel(t *testing.T) {
	s := runThenStop(t)
	if err := os.Remove(s.db); err != nil {
		t.Fatal(err)
	}
	d := startDaemonWith(t, s.ns, s.sock, []string{"DOCKER_HOST=unix:///nonexistent/vic-daemon-test/docker.sock"},
		"--config", s.cfgPath, "--state-dir", s.stateDir, "--teardown-when-idle")
	d.stop(t)
	s.kernelKept(t, "after a stop during the rebuild")
	if rules := natRules(t, s.ns); !strings.Contains(rules, ":VIC") {
		t.Fatalf("a stop during the rebuild removed the vic chains:\n%s", rules)
	}
	if strings.Contains(d.stderr.String(), "nothing of it is left in the kernel") {
		t.Fatalf("a stop during the rebuild tore the kernel state down:\n%s", d.stderr)
	}
}
