package liveconfig

import (
	"context"
	"net"
	"net/netip"
	"net/url"
	"reflect"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"gotest.tools/v3/assert"

	"github.com/docker-vic/docker-vic/config"
	"github.com/docker-vic/docker-vic/endpoint/uplink"
	"github.com/docker-vic/docker-vic/vsphere/sim"
)

// hour is a reading interval no test waits for: what a test sees comes from following.
const hour = time.Hour

// followBed is a Refresher of VCH vch1 in the in-process vCenter b, following it.
type followBed struct {
	*refreshBed
	b   *simBed
	src *VSphere
	cfg *config.Config
}

// newFollowBed serves vch1 from b as the daemon does, over its public NIC, and runs the
// Refresher with an interval of an hour until the test ends.
func newFollowBed(t *testing.T, b *simBed, cfg *config.Config, maxWait time.Duration) *followBed {
	t.Helper()
	src, _, err := Open(b.opts)
	assert.NilError(t, err)
	t.Cleanup(func() { _ = src.Close(context.Background()) })
	vs := src.(*VSphere)
	vs.MaxWait = maxWait
	v, err := src.Read(context.Background())
	assert.NilError(t, err)
	links := []uplink.Link{{Name: "ens192", MAC: nicMAC(v.NICs, "VM Network"), Addrs: []netip.Prefix{netip.MustParsePrefix("198.51.100.7/24")}}}
	f := &followBed{refreshBed: newRefreshBed(t, src, links), b: b, src: vs, cfg: cfg}
	runRefresher(t, f.refreshBed, hour)
	return f
}

// configure stores revision rev of the configuration in vSphere, with container network
// External-Consumer at firewall level fw, as `docker vic configure` does.
func (f *followBed) configure(t *testing.T, rev int, fw config.Firewall) *config.Config {
	t.Helper()
	next := f.cfg.Clone()
	next.Revision = rev
	next.ContainerNetworks = []config.ContainerNetwork{{PortGroup: "External-Consumer", Alias: "consumer", Firewall: fw}}
	next.ApplyDefaults()
	assert.NilError(t, sim.ConfigureVCH(context.Background(), f.b.client, next))
	return next
}

// appliedWithin waits until the change was applied n times. It never fails holding the bed's
// lock: the Refresher, stopped at the end of the test, would wait for it for ever.
func (f *followBed) appliedWithin(t *testing.T, n int, limit time.Duration) {
	t.Helper()
	start := time.Now()
	for {
		f.mu.Lock()
		applied := f.applied
		f.mu.Unlock()
		switch {
		case applied == n:
			return
		case applied > n || time.Since(start) > limit:
			t.Fatalf("applied %d times within %s, want %d:\n%s", applied, limit, n, f.logs)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// servedWithin waits until revision rev is served, and returns how long that took.
func (f *followBed) servedWithin(t *testing.T, rev int, limit time.Duration) time.Duration {
	t.Helper()
	start := time.Now()
	for f.r.Live.Revision() != rev {
		if time.Since(start) > limit {
			t.Fatalf("revision %d not served within %s (serving %d):\n%s", rev, limit, f.r.Live.Revision(), f.logs)
		}
		time.Sleep(5 * time.Millisecond)
	}
	return time.Since(start)
}

// TestFollowServesAConfigureAtOnce: what `docker vic configure` stores in vSphere is served
// within a second, long before the reading interval, on the one session the readings use.
func TestFollowServesAConfigureAtOnce(t *testing.T) {
	cfg := testConfig()
	b := startSim(t, cfg, "", "vch1", "External-Consumer")
	f := newFollowBed(t, b, cfg, 0)
	first := f.src.sess

	next := f.configure(t, 2, config.FirewallPeers)
	took := f.servedWithin(t, 2, 5*time.Second)
	assert.Assert(t, took < time.Second, "served after %s", took)
	assert.Assert(t, reflect.DeepEqual(f.r.Live.ContainerNetworks(), next.ContainerNetworks),
		"serving %+v, want %+v", f.r.Live.ContainerNetworks(), next.ContainerNetworks)
	// The revision is served before the change is applied to the rest of the daemon.
	f.appliedWithin(t, 1, time.Second)

	f.configure(t, 3, config.FirewallOpen)
	f.servedWithin(t, 3, time.Second)
	f.src.mu.Lock()
	same := f.src.sess == first
	f.src.mu.Unlock()
	assert.Assert(t, same, "following logged in again")
	assert.Assert(t, !strings.Contains(f.logs.String(), "level=WARN"), f.logs.String())
}

// TestFollowResumesAfterVCenterRestarts: with vCenter stopped, following breaks off, said at
// warning level with the revision served; once vCenter runs again on the same address,
// following resumes by itself and serves what was configured meanwhile, and the next configure
// at once.
func TestFollowResumesAfterVCenterRestarts(t *testing.T) {
	cfg := testConfig()
	b := startSim(t, cfg, "", "vch1", "External-Consumer")
	f := newFollowBed(t, b, cfg, time.Second)
	f.configure(t, 2, config.FirewallPeers)
	f.servedWithin(t, 2, time.Second)

	addr := b.server.URL.Host
	b.server.CloseClientConnections()
	b.server.Close()
	// Following breaks off, or a reading in flight fails first: either says so.
	stale := regexp.MustCompile(`level=WARN msg="(following the VCH configuration in vSphere broke off|re-reading the VCH configuration failed): still serving the configuration read earlier, which may be stale \(container networks, firewall levels, container VMs on or off\)[^"]*" revision=2`)
	deadline := time.Now().Add(10 * time.Second)
	for !stale.MatchString(f.logs.String()) {
		if time.Now().After(deadline) {
			t.Fatalf("no warning that the configuration may be stale within 10 s:\n%s", f.logs)
		}
		time.Sleep(10 * time.Millisecond)
	}

	b.server = sim.Restart(b.model, &url.URL{Host: addr, User: simLogin})
	t.Cleanup(b.server.Close)
	f.configure(t, 3, config.FirewallOpen)
	f.servedWithin(t, 3, 20*time.Second)
	waitForLine(t, f.logs, `level=INFO msg="vSphere answers again: the configuration served is current"`)

	f.configure(t, 4, config.FirewallClosed)
	took := f.servedWithin(t, 4, 5*time.Second)
	assert.Assert(t, took < time.Second, "served after %s: following did not resume", took)
}

// stallableRelay relays connections to target; while stalled it passes nothing on, as a vCenter
// whose process is stopped (SIGSTOP): connections stay open and no answer comes.
type stallableRelay struct {
	addr    string
	stalled atomic.Bool
}

func newStallableRelay(t *testing.T, target string) *stallableRelay {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	assert.NilError(t, err)
	r := &stallableRelay{addr: l.Addr().String()}
	var mu sync.Mutex
	var conns []net.Conn
	t.Cleanup(func() {
		l.Close()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	})
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			up, err := net.Dial("tcp", target)
			if err != nil {
				c.Close()
				continue
			}
			mu.Lock()
			conns = append(conns, c, up)
			mu.Unlock()
			go r.pipe(up, c)
			go r.pipe(c, up)
		}
	}()
	return r
}

// pipe copies from src to dst, holding what it read while the relay is stalled.
func (r *stallableRelay) pipe(dst, src net.Conn) {
	defer dst.Close()
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		for r.stalled.Load() {
			time.Sleep(5 * time.Millisecond)
		}
		if n > 0 {
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

// TestFollowNoticesAStalledVCenter: a vCenter that stops answering (its process stopped) is
// noticed within MaxWait and a grace, said at warning level with the revision served, and
// following resumes once it answers again.
func TestFollowNoticesAStalledVCenter(t *testing.T) {
	cfg := testConfig()
	b := startSim(t, cfg, "", "vch1", "External-Consumer")
	relay := newStallableRelay(t, b.server.URL.Host)
	b.opts = simOptions(t, "vch1", relay.addr)
	f := newFollowBed(t, b, cfg, time.Second)
	f.configure(t, 2, config.FirewallPeers)
	f.servedWithin(t, 2, time.Second)

	relay.stalled.Store(true)
	start := time.Now()
	waitForLine(t, f.logs, `level=WARN msg="following the VCH configuration in vSphere broke off`)
	assert.Assert(t, time.Since(start) < 5*time.Second, "noticed after %s", time.Since(start))
	waitForLine(t, f.logs, `revision=2 every=10s error="vSphere has not answered the watch of endpoint VM`)

	relay.stalled.Store(false)
	waitForLine(t, f.logs, `level=INFO msg="vSphere answers again: the configuration served is current" revision=2`)
	f.configure(t, 3, config.FirewallOpen)
	took := f.servedWithin(t, 3, 5*time.Second)
	assert.Assert(t, took < time.Second, "served after %s: following did not resume", took)
}
