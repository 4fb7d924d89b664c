package ipamdriver

import (
	"context"
	"os"
	"testing"

	"github.com/docker/go-plugins-helpers/ipam"
)

// TestMain makes PoolIDs predictable: most tests compare them whole.
func TestMain(m *testing.M) {
	newNonce = func() string { return "" }
	os.Exit(m.Run())
}

// A stale network that Docker cleans up after the driver lost its state must not release the
// pool a newer network got on the same subnet.
func TestStaleReleaseKeepsTheNewerPool(t *testing.T) {
	defer func(old func() string) { newNonce = old }(newNonce)
	nonces := []string{"0000aaaa", "0000bbbb"}
	newNonce = func() string { n := nonces[0]; nonces = nonces[1:]; return n }
	ctx := context.Background()

	first := newDriver(t, testConfig(), nil, nil)
	stale, err := first.RequestPool(ctx, &ipam.RequestPoolRequest{})
	if err != nil {
		t.Fatal(err)
	}
	// The endpoint is rebuilt with empty state; a new network gets the same subnet.
	d := newDriver(t, testConfig(), nil, nil)
	fresh, err := d.RequestPool(ctx, &ipam.RequestPoolRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if stale.Pool != fresh.Pool || stale.PoolID == fresh.PoolID {
		t.Fatalf("want the same subnet under two IDs, got %s and %s", stale.PoolID, fresh.PoolID)
	}
	if err := d.ReleasePool(ctx, &ipam.ReleasePoolRequest{PoolID: stale.PoolID}); err != nil {
		t.Fatal(err)
	}
	if _, err := d.RequestAddress(ctx, &ipam.RequestAddressRequest{PoolID: fresh.PoolID}); err != nil {
		t.Fatalf("the newer network lost its pool to a stale release: %v", err)
	}
}
