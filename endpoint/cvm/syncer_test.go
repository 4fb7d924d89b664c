package cvm

import (
	"context"
	"reflect"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vmware/govmomi/session"
	"github.com/vmware/govmomi/vim25"

	"github.com/docker-vic/docker-vic/config"
	"github.com/docker-vic/docker-vic/vsphere"
)

// runSyncer starts s on its own goroutine and returns a function that stops it and waits.
func runSyncer(ctx context.Context, s *Syncer) (stop func()) {
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		s.Run(ctx)
	}()
	return func() {
		cancel()
		wg.Wait()
	}
}

// waitSynced waits until s has reconciled its latest Set.
func waitSynced(t *testing.T, s *Syncer) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		st := s.Status()
		if st.Wanted > 0 && st.Synced == st.Wanted && st.LastError == nil {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("not synced: %+v", s.Status())
}

// fast makes a Syncer retry within milliseconds.
func fast(s *Syncer) *Syncer {
	s.RetryMin, s.RetryMax = 5*time.Millisecond, 50*time.Millisecond
	return s
}

// sharedClient connects by handing out the test's client, counting the calls.
func sharedClient(c *vim25.Client, calls *atomic.Int32) Connect {
	return func(context.Context) (*vim25.Client, func(context.Context) error, error) {
		calls.Add(1)
		return c, func(context.Context) error { return nil }, nil
	}
}

func TestSyncerWaitsForFirstSet(t *testing.T) {
	withVCH(t, func(e *env) {
		e.addVM("stale-container", map[string]string{config.KeyContainerVCH: "vch1", config.KeyContainerID: idJob})
		var calls atomic.Int32
		s := fast(NewSyncer(sharedClient(e.c, &calls), Options{VCH: "vch1"}))
		stop := runSyncer(e.ctx, s)
		time.Sleep(100 * time.Millisecond)
		if got := e.containerVMs("vch1"); len(got) != 1 || calls.Load() != 0 {
			t.Errorf("before any Set: container VMs %q, %d connections; want the stale VM kept and no connection", got, calls.Load())
		}

		s.Set(nil) // the daemon now knows there is no container
		waitSynced(t, s)
		if got := e.containerVMs("vch1"); len(got) != 0 {
			t.Errorf("after Set(nil): container VMs %q, want none", got)
		}
		stop()
	})
}

func TestSyncerRidesOutVCenterDown(t *testing.T) {
	withVCH(t, func(e *env) {
		var calls atomic.Int32
		var failures atomic.Int32
		s := fast(NewSyncer(sharedClient(e.c, &calls), Options{VCH: "vch1"}))
		s.Failed = func(error) { failures.Add(1) }
		stop := runSyncer(e.ctx, s)
		defer stop()

		s.Set([]Container{container("web", idWeb, true, "vch1")})
		waitSynced(t, s)

		// vCenter is unreachable while containers come and go: Set never blocks.
		e.net.down.Store(true)
		start := time.Now()
		s.Set([]Container{container("web", idWeb, false, "vch1")})
		s.Set([]Container{container("web", idWeb, false, "vch1"), container("db", idDB, true, "cn1")})
		if d := time.Since(start); d > 50*time.Millisecond {
			t.Errorf("Set took %s while vCenter was down", d)
		}
		for deadline := time.Now().Add(10 * time.Second); failures.Load() < 3; time.Sleep(5 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("%d failed attempts while vCenter was down, want retries", failures.Load())
			}
		}
		if st := s.Status(); st.LastError == nil || st.Synced == st.Wanted {
			t.Errorf("status while vCenter is down: %+v", st)
		}

		e.net.down.Store(false)
		waitSynced(t, s)
		vms := e.vms()
		if got := e.containerVMs("vch1"); !reflect.DeepEqual(got, []string{"db-2b3c4d5e6f70", "web-1a2b3c4d5e6f"}) {
			t.Errorf("container VMs %q", got)
		}
		if vms["web-1a2b3c4d5e6f"].powerState != "poweredOff" || vms["db-2b3c4d5e6f70"].powerState != "poweredOn" {
			t.Errorf("web %s, db %s; want poweredOff, poweredOn", vms["web-1a2b3c4d5e6f"].powerState, vms["db-2b3c4d5e6f70"].powerState)
		}
		if calls.Load() < 2 {
			t.Errorf("%d connections, want a new one after the connection was lost", calls.Load())
		}
	})
}

func TestSyncerLogsInAgainAfterSessionLoss(t *testing.T) {
	withVCH(t, func(e *env) {
		login := ConnectTarget(&vsphere.Target{URL: e.c.URL(), User: "user", Password: "pass", Insecure: true})
		var mu sync.Mutex
		var clients []*vim25.Client
		connect := func(ctx context.Context) (*vim25.Client, func(context.Context) error, error) {
			c, logout, err := login(ctx)
			if err == nil {
				mu.Lock()
				clients = append(clients, c)
				mu.Unlock()
			}
			return c, logout, err
		}
		s := fast(NewSyncer(connect, Options{VCH: "vch1"}))
		stop := runSyncer(e.ctx, s)
		defer stop()

		s.Set([]Container{container("web", idWeb, true, "vch1")})
		waitSynced(t, s)

		// The session ends behind the Syncer's back (vCenter restarted, or an admin killed it).
		mu.Lock()
		first := clients[0]
		mu.Unlock()
		if err := session.NewManager(first).Logout(e.ctx); err != nil {
			t.Fatal(err)
		}

		s.Set([]Container{container("web", idWeb, false, "vch1")})
		waitSynced(t, s)
		if st := e.vms()["web-1a2b3c4d5e6f"].powerState; st != "poweredOff" {
			t.Errorf("web %s, want poweredOff", st)
		}
		mu.Lock()
		n := len(clients)
		mu.Unlock()
		if n != 2 {
			t.Errorf("%d logins, want 2", n)
		}
	})
}

// TestSyncerSaysWhenVCenterStalls: an attempt that waits on a stalled vCenter is told to Slow
// long before it times out, and the success once vCenter answers again to Recovered.
func TestSyncerSaysWhenVCenterStalls(t *testing.T) {
	withVCH(t, func(e *env) {
		var calls atomic.Int32
		s := fast(NewSyncer(sharedClient(e.c, &calls), Options{VCH: "vch1"}))
		s.SlowAfter = time.Second
		var slow, recovered atomic.Int32
		var behind atomic.Int64
		s.Slow = func(time.Duration) { slow.Add(1) }
		s.Recovered = func(d time.Duration) { recovered.Add(1); behind.Store(int64(d)) }
		stop := runSyncer(e.ctx, s)
		defer stop()
		s.Set([]Container{container("web", idWeb, true, "vch1")})
		waitSynced(t, s)
		if slow.Load() != 0 || recovered.Load() != 0 {
			t.Fatalf("a prompt vCenter: %d slow, %d recovered; want none", slow.Load(), recovered.Load())
		}

		e.net.stalled.Store(true)
		s.Set([]Container{container("web", idWeb, false, "vch1")})
		for deadline := time.Now().Add(5 * time.Second); slow.Load() == 0; time.Sleep(5 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatal("a stalled vCenter was not told to Slow within 5 s")
			}
		}
		e.net.stalled.Store(false)
		waitSynced(t, s)
		if recovered.Load() != 1 || time.Duration(behind.Load()) < time.Second {
			t.Errorf("recovered %d times after %s behind; want once, after at least 1s", recovered.Load(), time.Duration(behind.Load()))
		}
		if slow.Load() != 1 {
			t.Errorf("slow told %d times for one stalled attempt", slow.Load())
		}
		if st := e.vms()["web-1a2b3c4d5e6f"].powerState; st != "poweredOff" {
			t.Errorf("web %s, want poweredOff", st)
		}
	})
}
