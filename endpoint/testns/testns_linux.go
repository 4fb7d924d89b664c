// Package testns gives kernel tests a network namespace of their own: it skips them without
// root (and fails them instead when VIC_REQUIRE_PRIVILEGED=1, as CI sets), creates named
// namespaces that are removed when the test ends, and runs code inside them.
package testns

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"runtime"
	"strings"
	"sync"
	"testing"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
)

// RequirePrivileged skips t unless it runs as root; with VIC_REQUIRE_PRIVILEGED=1 it fails instead.
func RequirePrivileged(t testing.TB) {
	t.Helper()
	if os.Geteuid() == 0 {
		return
	}
	if os.Getenv("VIC_REQUIRE_PRIVILEGED") == "1" {
		t.Fatal("this kernel test needs root and VIC_REQUIRE_PRIVILEGED=1 forbids skipping it")
	}
	t.Skip("kernel test: needs root")
}

// NS is a named network namespace made for one test.
type NS struct {
	Name   string
	Handle netns.NsHandle
	// Link is a netlink handle working inside the namespace.
	Link *netlink.Handle
}

// New creates a namespace named prefix-<random> (prefix at most 8 characters) and removes it,
// with everything in it, when t ends. Stale namespaces of the same prefix left by a killed run
// are removed first.
func New(t testing.TB, prefix string) *NS {
	t.Helper()
	RequirePrivileged(t)
	removeStale(prefix)
	name := prefix + "-" + random(4)
	var ns netns.NsHandle
	err := withLockedThread(func() error {
		orig, err := netns.Get()
		if err != nil {
			return err
		}
		defer orig.Close()
		defer netns.Set(orig)
		ns, err = netns.NewNamed(name)
		return err
	})
	if err != nil {
		t.Fatalf("creating namespace %s: %v", name, err)
	}
	h, err := netlink.NewHandleAt(ns)
	if err != nil {
		t.Fatalf("netlink handle in %s: %v", name, err)
	}
	n := &NS{Name: name, Handle: ns, Link: h}
	t.Cleanup(func() {
		h.Close()
		ns.Close()
		_ = netns.DeleteNamed(name)
	})
	if err := n.Do(func() error {
		lo, err := netlink.LinkByName("lo")
		if err != nil {
			return err
		}
		return netlink.LinkSetUp(lo)
	}); err != nil {
		t.Fatalf("bringing up lo in %s: %v", name, err)
	}
	return n
}

// Do runs fn on a goroutine whose thread is inside the namespace and returns its error. Sockets
// opened by fn stay in the namespace after Do returns.
func (n *NS) Do(fn func() error) error {
	errc := make(chan error, 1)
	go func() {
		errc <- withLockedThread(func() error {
			orig, err := netns.Get()
			if err != nil {
				return err
			}
			defer orig.Close()
			if err := netns.Set(n.Handle); err != nil {
				return fmt.Errorf("entering %s: %w", n.Name, err)
			}
			defer netns.Set(orig)
			return fn()
		})
	}()
	return <-errc
}

// Path is the namespace's bind mount, usable as a Docker-style sandbox key.
func (n *NS) Path() string { return "/var/run/netns/" + n.Name }

func withLockedThread(fn func() error) error {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	return fn()
}

// removeStale deletes, once per test binary, the namespaces of prefix left by a killed run.
// Each package uses its own prefix, and one package's tests never run twice at once.
func removeStale(prefix string) {
	staleMu.Lock()
	defer staleMu.Unlock()
	if staleDone[prefix] {
		return
	}
	staleDone[prefix] = true
	entries, _ := os.ReadDir("/var/run/netns")
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), prefix+"-") {
			_ = netns.DeleteNamed(e.Name())
		}
	}
}

var (
	staleMu   sync.Mutex
	staleDone = map[string]bool{}
)

func random(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
