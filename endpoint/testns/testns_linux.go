// Package testns gives kernel tests a network namespace of their own: it skips them without
// root (and fails them instead when VIC_REQUIRE_PRIVILEGED=1, as CI sets), creates named
// namespaces that are removed when the test ends, runs code inside them, and wires them
// together with bridges, veth pairs and addresses. Create, Open, Delete and Names make, open
// and remove namespaces that outlive the process, as `ip netns` does, for test rigs such as
// the testbed.
package testns

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
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

// NS is a named network namespace: one test's (New) or a persistent one (Create, Open).
type NS struct {
	Name   string
	Handle netns.NsHandle
	// Link is a netlink handle working inside the namespace.
	Link *netlink.Handle
}

// New creates a namespace named prefix-<random> (prefix at most 8 characters) and removes it,
// with everything in it, when t ends. Stale namespaces of the same prefix left by a killed run
// are removed first; those of a run still alive, of the same package elsewhere on the machine,
// are left alone (ownerDir records which process made each).
func New(t testing.TB, prefix string) *NS {
	t.Helper()
	RequirePrivileged(t)
	removeStale(prefix)
	name := prefix + "-" + random(4)
	owner := filepath.Join(ownerDir, name)
	if err := os.MkdirAll(ownerDir, 0o700); err == nil {
		_ = os.WriteFile(owner, []byte(strconv.Itoa(os.Getpid())), 0o600) // before it exists
	}
	n, err := Create(name)
	if err != nil {
		_ = os.Remove(owner)
		t.Fatal(err)
	}
	t.Cleanup(func() {
		n.Close()
		_ = Delete(n.Name)
		_ = os.Remove(owner)
	})
	return n
}

// ownerDir holds a file per namespace New made, named after it, holding the pid of the test
// binary that made it.
const ownerDir = "/run/vic-testns"

// Create makes the named namespace name with lo up, like `ip netns add`, or opens it when it
// exists. The namespace outlives the process until Delete removes it; Close releases n only.
func Create(name string) (*NS, error) {
	if n, err := Open(name); err == nil {
		return n, nil
	} else if !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	ns := netns.None()
	err := onLockedThread(func() (err error) {
		ns, err = netns.NewNamed(name) // moves this thread into the new namespace
		return err
	})
	if err != nil {
		if ns.IsOpen() {
			ns.Close()
			_ = Delete(name)
		}
		return nil, fmt.Errorf("creating namespace %q: %w", name, err)
	}
	n, err := wrap(name, ns)
	if err != nil {
		_ = Delete(name)
		return nil, err
	}
	lo, err := n.Link.LinkByName("lo")
	if err == nil {
		err = n.Link.LinkSetUp(lo)
	}
	if err != nil {
		n.Close()
		_ = Delete(name)
		return nil, fmt.Errorf("bringing up lo in namespace %q: %w", name, err)
	}
	return n, nil
}

// Open opens the existing named namespace name; the error wraps os.ErrNotExist when there is
// none.
func Open(name string) (*NS, error) {
	ns, err := netns.GetFromPath(Path(name))
	if err != nil {
		return nil, fmt.Errorf("opening namespace %q: %w", name, err)
	}
	return wrap(name, ns)
}

func wrap(name string, ns netns.NsHandle) (*NS, error) {
	h, err := netlink.NewHandleAt(ns)
	if err != nil {
		ns.Close()
		return nil, fmt.Errorf("netlink handle in namespace %q: %w", name, err)
	}
	return &NS{Name: name, Handle: ns, Link: h}, nil
}

// Close releases n's handles; the namespace itself stays.
func (n *NS) Close() {
	n.Link.Close()
	n.Handle.Close()
}

// Delete removes the named namespace name, like `ip netns delete`; a missing one is fine. The
// namespace goes with its links once no process runs inside it any more.
func Delete(name string) error {
	if _, err := os.Stat(Path(name)); errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err := netns.DeleteNamed(name); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("deleting namespace %q: %w", name, err)
	}
	return nil
}

// Names lists the named namespaces whose names start with prefix, sorted.
func Names(prefix string) ([]string, error) {
	entries, err := os.ReadDir(mountDir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("listing namespaces: %w", err)
	}
	var names []string
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), prefix) {
			names = append(names, e.Name())
		}
	}
	return names, nil
}

// Path is the bind mount of the named namespace name.
func Path(name string) string { return filepath.Join(mountDir, name) }

// mountDir holds the named namespaces' bind mounts, as for `ip netns`.
const mountDir = "/run/netns"

// Do runs fn on a goroutine whose thread is inside the namespace and returns its error. Sockets
// opened by fn stay in the namespace after Do returns. fn runs on another goroutine than the
// caller's: it must return its failures rather than call t.Fatal.
func (n *NS) Do(fn func() error) error {
	return onLockedThread(func() error {
		if err := setns(n.Handle); err != nil {
			return fmt.Errorf("entering %s: %w", n.Name, err)
		}
		return fn()
	})
}

// The helpers below build what kernel tests wire between namespaces. They fail t, so call
// them from the test's goroutine.

// LinkUp gives link name of the namespace the addresses cidrs ("198.51.100.2/24") and brings it
// up.
func (n *NS) LinkUp(t testing.TB, name string, cidrs ...string) {
	t.Helper()
	l, err := n.Link.LinkByName(name)
	if err != nil {
		t.Fatalf("finding link %q in %s: %v", name, n.Name, err)
	}
	for _, c := range cidrs {
		addr, err := netlink.ParseAddr(c)
		if err == nil {
			err = n.Link.AddrAdd(l, addr)
		}
		if err != nil {
			t.Fatalf("adding %s to link %q in %s: %v", c, name, n.Name, err)
		}
	}
	if err := n.Link.LinkSetUp(l); err != nil {
		t.Fatalf("setting link %q up in %s: %v", name, n.Name, err)
	}
}

// Bridge creates a Linux bridge in the namespace with the addresses cidrs, up.
func (n *NS) Bridge(t testing.TB, name string, cidrs ...string) {
	t.Helper()
	if err := n.Link.LinkAdd(&netlink.Bridge{LinkAttrs: netlink.LinkAttrs{Name: name}}); err != nil {
		t.Fatalf("creating bridge %q in %s: %v", name, n.Name, err)
	}
	n.LinkUp(t, name, cidrs...)
}

// Plug joins the namespace to another with a veth pair: end name here, a port of bridge unless
// bridge is "", and end peer in to, with the addresses cidrs. Both ends come up.
func (n *NS) Plug(t testing.TB, name, bridge string, to *NS, peer string, cidrs ...string) {
	t.Helper()
	attrs := netlink.LinkAttrs{Name: name}
	if bridge != "" {
		br, err := n.Link.LinkByName(bridge)
		if err != nil {
			t.Fatalf("finding bridge %q in %s: %v", bridge, n.Name, err)
		}
		attrs.MasterIndex = br.Attrs().Index
	}
	veth := &netlink.Veth{LinkAttrs: attrs, PeerName: peer, PeerNamespace: netlink.NsFd(to.Handle)}
	if err := n.Link.LinkAdd(veth); err != nil {
		t.Fatalf("creating veth %q in %s to %q in %s: %v", name, n.Name, peer, to.Name, err)
	}
	n.LinkUp(t, name)
	to.LinkUp(t, peer, cidrs...)
}

// Path is the namespace's bind mount, usable as a Docker-style sandbox key.
func (n *NS) Path() string { return Path(n.Name) }

// setns moves the calling thread into a namespace; tests replace it to make the way back fail.
var setns = netns.Set

// errGoexit is what Do returns when fn never returned (t.Fatal or runtime.Goexit inside it).
var errGoexit = errors.New("the function run in the namespace did not return (t.Fatal inside Do?)")

// onLockedThread runs fn on a new goroutine locked to its thread, then moves the thread back to
// the namespace it started in. fn may move the thread to another namespace. Only a thread that
// made it back is unlocked: one that could not go back stays locked, so the Go runtime ends it
// with the goroutine instead of running other goroutines in the wrong namespace.
func onLockedThread(fn func() error) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		err := errGoexit
		defer func() { errc <- err }()
		orig, gerr := netns.Get()
		if gerr != nil {
			err = fmt.Errorf("reading the thread's namespace: %w", gerr)
			return // still locked: nothing was changed, but nothing is lost by ending the thread
		}
		defer orig.Close()
		defer func() {
			if berr := setns(orig); berr != nil {
				err = errors.Join(err, fmt.Errorf("returning to the original namespace (the thread ends): %w", berr))
				return
			}
			runtime.UnlockOSThread()
		}()
		err = fn()
	}()
	return <-errc
}

// removeStale deletes, once per test binary, the namespaces of prefix left by a killed run:
// those whose maker is no longer alive, or unknown. Each package uses its own prefix.
func removeStale(prefix string) {
	staleMu.Lock()
	defer staleMu.Unlock()
	if staleDone[prefix] {
		return
	}
	staleDone[prefix] = true
	names, _ := Names(prefix + "-")
	for _, name := range names {
		if ownerAlive(name) {
			continue
		}
		_ = Delete(name)
		_ = os.Remove(filepath.Join(ownerDir, name))
	}
}

// ownerAlive reports whether the process that made namespace name still runs.
func ownerAlive(name string) bool {
	b, err := os.ReadFile(filepath.Join(ownerDir, name))
	if err != nil {
		return false
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || pid <= 0 {
		return false
	}
	return unix.Kill(pid, 0) == nil
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
