package daemon_test

import (
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
	if !strings.Contains(d.stderr.String(), "nothing of vic-endpoint is left in the kernel") {
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
