//go:build linux

package testns

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
	"gotest.tools/v3/assert"
)

// persistent creates the named namespace name for one test and deletes it when the test ends,
// whatever the test did with it.
func persistent(t *testing.T, name string) *NS {
	t.Helper()
	RequirePrivileged(t)
	_ = Delete(name)
	n, err := Create(name)
	assert.NilError(t, err)
	t.Cleanup(func() {
		n.Close()
		_ = Delete(name)
	})
	return n
}

func TestCreateKeepsTheNamespaceAfterClose(t *testing.T) {
	n := persistent(t, "tns-keep")
	br := &netlink.Bridge{LinkAttrs: netlink.LinkAttrs{Name: "d0"}}
	assert.NilError(t, n.Link.LinkAdd(br))
	n.Close()

	again, err := Open("tns-keep")
	assert.NilError(t, err)
	defer again.Close()
	_, err = again.Link.LinkByName("d0")
	assert.NilError(t, err, "the link made before Close is still in the namespace")
	lo, err := again.Link.LinkByName("lo")
	assert.NilError(t, err)
	assert.Check(t, lo.Attrs().Flags&1 != 0, "lo is up")
}

func TestCreateTwiceOpensTheSameNamespace(t *testing.T) {
	n := persistent(t, "tns-twice")
	assert.NilError(t, n.Link.LinkAdd(&netlink.Bridge{LinkAttrs: netlink.LinkAttrs{Name: "d0"}}))

	second, err := Create("tns-twice")
	assert.NilError(t, err)
	defer second.Close()
	_, err = second.Link.LinkByName("d0")
	assert.NilError(t, err, "the second Create sees the first one's link")
}

func TestDeleteRemovesAndMissingIsDone(t *testing.T) {
	persistent(t, "tns-del")
	assert.NilError(t, Delete("tns-del"))
	_, err := Open("tns-del")
	assert.Check(t, errors.Is(err, os.ErrNotExist), "open after delete: %v", err)
	assert.NilError(t, Delete("tns-del"), "deleting a missing namespace is done")
}

func TestNamesListsByPrefix(t *testing.T) {
	persistent(t, "tns-list-a")
	persistent(t, "tns-list-b")
	persistent(t, "tns-other")

	names, err := Names("tns-list-")
	assert.NilError(t, err)
	assert.DeepEqual(t, names, []string{"tns-list-a", "tns-list-b"})
	all, err := Names("tns-")
	assert.NilError(t, err)
	assert.Check(t, slices.Contains(all, "tns-other"))
}

func TestNewRemovesItsNamespaceWhenTheTestEnds(t *testing.T) {
	var name string
	t.Run("inner", func(t *testing.T) {
		name = New(t, "tns").Name
		_, err := os.Stat(Path(name))
		assert.NilError(t, err)
	})
	_, err := os.Stat(Path(name))
	assert.Check(t, errors.Is(err, os.ErrNotExist), "namespace %q after its test: %v", name, err)
}

// threadNS names the network namespace of thread tid of this process ("net:[INODE]"), or ""
// when the thread is gone.
func threadNS(tid int) string {
	s, err := os.Readlink(fmt.Sprintf("/proc/self/task/%d/ns/net", tid))
	if err != nil {
		return ""
	}
	return s
}

func TestDoRunsInsideAndReturnsTheThread(t *testing.T) {
	n := New(t, "vtn")
	tid := 0
	if err := n.Do(func() error {
		tid = unix.Gettid()
		h, err := netns.Get()
		if err != nil {
			return err
		}
		defer h.Close()
		if !h.Equal(n.Handle) {
			return errors.New("fn does not run inside the namespace")
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if got, want := threadNS(tid), threadNS(unix.Gettid()); got != "" && got != want {
		t.Fatalf("the thread Do used went back to the pool in %s, not in %s", got, want)
	}
	if err := n.Do(func() error { return errors.New("refused") }); err == nil || err.Error() != "refused" {
		t.Fatalf("Do returned %v, want fn's error", err)
	}
}

func TestDoReturnsWhenFnExitsTheGoroutine(t *testing.T) {
	n := New(t, "vtn")
	if err := n.Do(func() error { runtime.Goexit(); return nil }); !errors.Is(err, errGoexit) {
		t.Fatalf("Do = %v, want errGoexit", err)
	}
}

// A thread that cannot leave the test's namespace must never run another goroutine: Do keeps it
// locked, and the runtime ends it with its goroutine.
func TestDoEndsAThreadThatCannotReturn(t *testing.T) {
	n := New(t, "vtn")
	defer func() { setns = netns.Set }()
	setns = func(h netns.NsHandle) error {
		if h.Equal(n.Handle) {
			return netns.Set(h)
		}
		return errors.New("refused for the test")
	}
	// A goroutine that exits locked to the process's main thread parks it instead of ending
	// it: try again on another thread.
	for range 5 {
		tid := 0
		err := n.Do(func() error { tid = unix.Gettid(); return nil })
		if err == nil || !strings.Contains(err.Error(), "refused for the test") {
			// nil: a thread left in the namespace by an earlier try ran this one, and went back
			// to "its" namespace without a failure.
			t.Fatalf("Do = %v, want the failed return reported", err)
		}
		if tid == os.Getpid() {
			continue
		}
		for deadline := time.Now().Add(5 * time.Second); threadNS(tid) != ""; time.Sleep(10 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("thread %d, left in %s, still runs", tid, threadNS(tid))
			}
		}
		return
	}
	t.Skip("every try ran on the main thread")
}

// Two namespaces plugged into a bridge of a third reach each other at the addresses given.
func TestPlugIntoBridgeCarriesTraffic(t *testing.T) {
	wire, a, b := New(t, "vtn"), New(t, "vtn"), New(t, "vtn")
	wire.Bridge(t, "br0", "198.51.100.1/24")
	wire.Plug(t, "w-a", "br0", a, "eth0", "198.51.100.10/24")
	wire.Plug(t, "w-b", "br0", b, "eth0", "198.51.100.20/24", "203.0.113.20/24")

	br, err := wire.Link.LinkByName("br0")
	if err != nil {
		t.Fatal(err)
	}
	for _, port := range []string{"w-a", "w-b"} {
		l, err := wire.Link.LinkByName(port)
		if err != nil || l.Attrs().MasterIndex != br.Attrs().Index || l.Attrs().OperState == netlink.OperDown {
			t.Fatalf("%s is not an up port of br0: %v", port, err)
		}
	}
	eth0, err := b.Link.LinkByName("eth0")
	if err != nil {
		t.Fatal(err)
	}
	addrs, err := b.Link.AddrList(eth0, netlink.FAMILY_V4)
	if err != nil || len(addrs) != 2 {
		t.Fatalf("b's eth0 has addresses %v (%v), want two", addrs, err)
	}

	var l net.Listener
	if err := b.Do(func() (err error) { l, err = net.Listen("tcp4", "198.51.100.20:80"); return err }); err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		if c, err := l.Accept(); err == nil {
			_, _ = io.WriteString(c, "b")
			c.Close()
		}
	}()
	var got []byte
	if err := a.Do(func() error {
		c, err := net.DialTimeout("tcp4", "198.51.100.20:80", 2*time.Second)
		if err != nil {
			return err
		}
		defer c.Close()
		_ = c.SetDeadline(time.Now().Add(2 * time.Second))
		got, err = io.ReadAll(c)
		return err
	}); err != nil || string(got) != "b" {
		t.Fatalf("a dialled b through the bridge: %q, %v", got, err)
	}
}

// A stale namespace is one whose maker is gone, or unknown: another run's, still alive, is left
// to it.
func TestRemoveStaleKeepsTheNamespacesOfLiveRuns(t *testing.T) {
	RequirePrivileged(t)
	dead := exec.Command("true")
	if err := dead.Run(); err != nil {
		t.Fatal(err)
	}
	owners := map[string]string{"tstale-live": "1", "tstale-dead": strconv.Itoa(dead.Process.Pid), "tstale-none": ""}
	for name, pid := range owners {
		n, err := Create(name)
		if err != nil {
			t.Fatal(err)
		}
		n.Close()
		t.Cleanup(func() { _ = Delete(name); _ = os.Remove(filepath.Join(ownerDir, name)) })
		if pid != "" {
			if err := os.MkdirAll(ownerDir, 0o700); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(ownerDir, name), []byte(pid), 0o600); err != nil {
				t.Fatal(err)
			}
		}
	}
	removeStale("tstale")
	names, err := Names("tstale-")
	if err != nil || len(names) != 1 || names[0] != "tstale-live" {
		t.Fatalf("after removeStale: %v, %v; want tstale-live only", names, err)
	}
}
