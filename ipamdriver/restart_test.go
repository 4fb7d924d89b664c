package ipamdriver

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/docker/go-plugins-helpers/ipam"
)

// restartState is what a first run of the driver handed out.
type restartState struct {
	pool, second string
	handedOut    map[string]bool // addresses with prefix length, gateway included
}

// firstRun creates two bridge networks and starts containers on the first.
func firstRun(t *testing.T, d *Driver) restartState {
	t.Helper()
	st := restartState{handedOut: map[string]bool{}}
	st.pool = requestPool(t, d, ipam.RequestPoolRequest{}).PoolID
	st.second = requestPool(t, d, ipam.RequestPoolRequest{}).PoolID
	st.handedOut[requestAddress(t, d, st.pool, "", gatewayOpts)] = true
	for range 10 {
		st.handedOut[requestAddress(t, d, st.pool, "", macOpts("02:42:ac:10:00:02"))] = true
	}
	return st
}

// checkSecondRun asserts that a driver restarted on the state of firstRun hands out nothing twice.
func checkSecondRun(t *testing.T, d *Driver, st restartState) {
	t.Helper()
	for range 10 {
		a := requestAddress(t, d, st.pool, "", nil)
		if st.handedOut[a] {
			t.Fatalf("after the restart, address %s was handed out a second time", a)
		}
		st.handedOut[a] = true
	}
	if _, err := d.RequestAddress(context.Background(), &ipam.RequestAddressRequest{PoolID: st.pool, Address: "172.16.0.1"}); err == nil {
		t.Fatal("after the restart, the gateway 172.16.0.1 was handed out to a container")
	}
	if got := requestPool(t, d, ipam.RequestPoolRequest{}).Pool; got != "172.18.0.0/16" {
		t.Fatalf("after the restart, RequestPool = %s, want 172.18.0.0/16 past the two pools in use", got)
	}
	if err := d.ReleasePool(context.Background(), &ipam.ReleasePoolRequest{PoolID: st.second}); err != nil {
		t.Fatal(err)
	}
}

func TestRestartKeepsEveryAllocation(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.db")
	db := openBolt(t, path)
	st := firstRun(t, newDriver(t, testConfig(), newBoltStore(t, db), nil))
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}

	db = openBolt(t, path)
	checkSecondRun(t, newDriver(t, testConfig(), newBoltStore(t, db), nil), st)
}

func TestCrashKeepsEveryAllocation(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "state.db")
	db := openBolt(t, path)
	st := firstRun(t, newDriver(t, testConfig(), newBoltStore(t, db), nil))
	// The file as it is on disk while the database is still open: what a crash leaves.
	image, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	crashed := filepath.Join(dir, "crashed.db")
	if err := os.WriteFile(crashed, image, 0o600); err != nil {
		t.Fatal(err)
	}

	checkSecondRun(t, newDriver(t, testConfig(), newBoltStore(t, openBolt(t, crashed)), nil), st)
}
