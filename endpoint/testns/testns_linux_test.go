//go:build linux

package testns

import (
	"errors"
	"os"
	"slices"
	"testing"

	"github.com/vishvananda/netlink"
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
