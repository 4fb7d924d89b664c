package cfw

import (
	"context"
	"net/netip"
	"os"
	"path/filepath"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/docker-vic/docker-vic/config"
	"github.com/docker-vic/docker-vic/endpoint/testns"
)

// Docker's order: Join (the sandbox path is a plain file, or nothing), then at container start
// a bind mount of the new namespace onto it. The firewall lands right after the mount.
func TestFirewallsLandWhenTheSandboxAppears(t *testing.T) {
	testns.RequirePrivileged(t)
	ns := testns.New(t, "vcd")
	sandbox := filepath.Join(t.TempDir(), "sandbox")
	fw := NewFirewalls(nil)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); fw.Run(ctx) }()
	defer func() { cancel(); <-done }()

	r := Rules{Address: netip.MustParseAddr("203.0.113.140"), Level: config.FirewallClosed}
	if err := fw.Apply(sandbox, "ep1", r); err != nil {
		t.Fatalf("Apply before the sandbox exists: %v, want it deferred", err)
	}
	if err := fw.Apply(sandbox, "ep2", r); err != nil {
		t.Fatal(err)
	}
	if err := fw.Remove(sandbox, "ep2"); err != nil { // rolled back before the start
		t.Fatal(err)
	}
	if n := fw.Pending(); n != 1 {
		t.Fatalf("%d firewalls wait, want 1", n)
	}
	if bad := fw.Apply(sandbox, "ep3", Rules{Address: r.Address, Level: "ajar"}); bad == nil {
		t.Fatal("bad rules were deferred instead of refused")
	}

	if err := os.WriteFile(sandbox, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := unix.Mount(ns.Path(), sandbox, "", unix.MS_BIND, ""); err != nil {
		t.Fatal(err)
	}
	defer unix.Unmount(sandbox, unix.MNT_DETACH)
	start := time.Now()
	for fw.Pending() > 0 {
		if time.Since(start) > 2*time.Second {
			t.Fatal("the firewall did not land within 2 s of the mount")
		}
		time.Sleep(time.Millisecond)
	}
	t.Logf("landed %v after the mount", time.Since(start))
	if _, err := Read(sandbox, "ep1"); err != nil {
		t.Fatalf("the landed firewall: %v", err)
	}
	if _, err := Read(sandbox, "ep2"); err == nil {
		t.Fatal("a removed firewall landed anyway")
	}
}
