//go:build linux

package testns

import (
	"errors"
	"fmt"
	"os"
	"runtime"
	"slices"
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
