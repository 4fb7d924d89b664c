package liveconfig

import (
	"context"
	"errors"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"gotest.tools/v3/assert"

	"github.com/docker-vic/docker-vic/api/vchdoc"
	"github.com/docker-vic/docker-vic/config"
	"github.com/docker-vic/docker-vic/endpoint/testlog"
	"github.com/docker-vic/docker-vic/endpoint/uplink"
	"github.com/docker-vic/docker-vic/vsphere/sim"
)

// testLinks carry testDoc's NICs; eth4 carries the NIC of container network External-Consumer.
var testLinks = []uplink.Link{
	{Name: "eth0", MAC: "00:50:56:aa:bb:01", Addrs: []netip.Prefix{netip.MustParsePrefix("198.51.100.2/24")}},
	{Name: "eth1", MAC: "00:50:56:aa:bb:02"},
	{Name: "eth4", MAC: "00:50:56:aa:bb:04"},
}

// refreshBed is a Refresher whose Accept and Applied record their calls, logging into logs.
type refreshBed struct {
	r    *Refresher
	logs *testlog.Buffer

	mu        sync.Mutex
	accepted  []*config.Config
	acceptErr error
	applied   int
	linksErr  error
	// appliedErr is what Applied answers.
	appliedErr error
}

// newRefreshBed serves what src reads first over links, as the daemon does at start.
func newRefreshBed(t *testing.T, src Source, links []uplink.Link) *refreshBed {
	t.Helper()
	v, err := src.Read(context.Background())
	assert.NilError(t, err)
	up, err := uplink.Match(v, links, nil, func(string, ...any) {})
	assert.NilError(t, err)
	log, logs := testlog.New()
	b := &refreshBed{logs: logs}
	b.r = &Refresher{
		Source: src,
		Live:   New(v.Config, up),
		Links: func() ([]uplink.Link, error) {
			b.mu.Lock()
			defer b.mu.Unlock()
			return links, b.linksErr
		},
		Accept: func(cfg *config.Config) error {
			b.mu.Lock()
			defer b.mu.Unlock()
			b.accepted = append(b.accepted, cfg)
			return b.acceptErr
		},
		Applied: func(context.Context) error {
			b.mu.Lock()
			defer b.mu.Unlock()
			b.applied++
			return b.appliedErr
		},
		Log: log,
	}
	return b
}

// consumer is container network External-Consumer as `docker vic configure` adds it.
func consumer(v *vchdoc.VCH) {
	v.Config.ContainerNetworks = append(v.Config.ContainerNetworks, config.ContainerNetwork{PortGroup: "External-Consumer", Alias: "consumer"})
	v.NICs = append(v.NICs, vchdoc.NIC{PortGroup: "External-Consumer", MAC: "00:50:56:aa:bb:04"})
	v.Config.Revision++
}

func TestRefresh(t *testing.T) {
	tests := []struct {
		name      string
		change    func(v *vchdoc.VCH)
		acceptErr error
		linksErr  error
		remove    bool // the file is gone

		wantErr      string
		wantRevision int
		wantUplinks  string
		wantApplied  int
		wantLog      string // a line above debug
	}{{
		name:         "Unchanged",
		change:       func(*vchdoc.VCH) {},
		wantRevision: 1,
		wantUplinks:  "public,client,management=eth0 bridge=eth1",
	}, {
		name:         "NewContainerNetwork",
		change:       consumer,
		wantRevision: 2,
		wantUplinks:  "public,client,management=eth0 bridge=eth1 container:External-Consumer=eth4",
		wantApplied:  1,
		wantLog:      `level=INFO msg="the VCH's configuration changed in vSphere: applied" networks=1 containerVMs=true revision=2`,
	}, {
		name: "ContainerVMsOff",
		change: func(v *vchdoc.VCH) {
			v.Config.NoContainerVMs = true
			v.Config.Revision++
		},
		wantRevision: 2,
		wantUplinks:  "public,client,management=eth0 bridge=eth1",
		wantApplied:  1,
		wantLog:      `level=INFO msg="the VCH's configuration changed in vSphere: applied" networks=0 containerVMs=false revision=2`,
	}, {
		name: "RoleNetworksNeedARestart",
		change: func(v *vchdoc.VCH) {
			consumer(v)
			v.Config.DNS = []netip.Addr{netip.MustParseAddr("198.51.100.53")}
		},
		wantRevision: 2,
		wantUplinks:  "public,client,management=eth0 bridge=eth1 container:External-Consumer=eth4",
		wantApplied:  1,
		wantLog:      `level=WARN msg="the VCH's role networks, bridge or DNS changed in vSphere: restart vic-endpoint to apply them"`,
	}, {
		name:         "RefusedByTheDrivers",
		change:       consumer,
		acceptErr:    errors.New("pool overlaps"),
		wantRevision: 1,
		wantUplinks:  "public,client,management=eth0 bridge=eth1",
		wantLog:      `level=WARN msg="the new container networks cannot be served: keeping the old ones" error="pool overlaps"`,
	}, {
		name:         "LinksUnreadable",
		change:       consumer,
		linksErr:     errors.New("netlink: no buffer space"),
		wantRevision: 2,
		wantUplinks:  "public,client,management=eth0 bridge=eth1",
		wantApplied:  1,
		wantLog:      `level=INFO msg="the VCH's configuration changed in vSphere: applied"`,
	}, {
		name:         "SourceUnreadable",
		remove:       true,
		wantErr:      "reading the configuration file",
		wantRevision: 1,
		wantUplinks:  "public,client,management=eth0 bridge=eth1",
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "vch1.json")
			v := testDoc()
			writeDoc(t, path, v)
			b := newRefreshBed(t, File{Path: path}, testLinks)
			b.acceptErr, b.linksErr = tt.acceptErr, tt.linksErr
			if tt.remove {
				assert.NilError(t, os.Remove(path))
			} else {
				tt.change(v)
				writeDoc(t, path, v)
			}

			err := b.r.Refresh(context.Background())
			if tt.wantErr != "" {
				assert.ErrorContains(t, err, tt.wantErr)
			} else {
				assert.NilError(t, err)
			}
			cfg, up := b.r.Live.Get()
			assert.Equal(t, b.r.Live.Revision(), tt.wantRevision)
			assert.Equal(t, up.String(), tt.wantUplinks)
			assert.Equal(t, b.applied, tt.wantApplied)
			assert.Equal(t, cfg.Public.PortGroup, "Docker-Public")
			assert.Equal(t, len(cfg.DNS), 0, "the DNS servers change only with a restart")
			assert.Equal(t, cfg.NoContainerVMs, tt.name == "ContainerVMsOff", "container VMs follow the configuration")
			if tt.wantRevision == 2 {
				want, err := File{Path: path}.Read(context.Background())
				assert.NilError(t, err)
				assert.Assert(t, reflect.DeepEqual(b.r.Live.ContainerNetworks(), want.Config.ContainerNetworks),
					"serving %+v, want %+v", b.r.Live.ContainerNetworks(), want.Config.ContainerNetworks)
			}
			logs := b.logs.String()
			if tt.wantLog != "" {
				assert.Assert(t, strings.Contains(logs, tt.wantLog), "want %s in the log:\n%s", tt.wantLog, logs)
			} else {
				assert.Assert(t, !strings.Contains(logs, "level=INFO") && !strings.Contains(logs, "level=WARN"), "logged above debug:\n%s", logs)
			}
		})
	}
}

// TestRefreshFromVSphere: what `docker vic configure` stores in vSphere (a container network,
// with a NIC of its own on the endpoint VM) is served at the next refresh, over the link that
// carries the new NIC's MAC.
func TestRefreshFromVSphere(t *testing.T) {
	ctx := context.Background()
	cfg := config.New("vch1")
	cfg.ApplyDefaults()
	opts, c := simVCH(t, cfg, "vch1", "External-Consumer")
	src, _, err := Open(opts)
	assert.NilError(t, err)
	defer src.Close(ctx)
	v, err := src.Read(ctx)
	assert.NilError(t, err)
	links := []uplink.Link{{Name: "ens192", MAC: nicMAC(v.NICs, "VM Network"), Addrs: []netip.Prefix{netip.MustParsePrefix("198.51.100.7/24")}}}
	b := newRefreshBed(t, src, links)

	next := cfg.Clone()
	next.Revision = 2
	next.ContainerNetworks = []config.ContainerNetwork{{PortGroup: "External-Consumer", Alias: "consumer", Firewall: config.FirewallPeers}}
	next.ApplyDefaults()
	assert.NilError(t, sim.ConfigureVCH(ctx, c, next))
	configured, err := src.Read(ctx)
	assert.NilError(t, err)
	links = append(links, uplink.Link{Name: "ens224", MAC: nicMAC(configured.NICs, "External-Consumer")})
	b.r.Links = func() ([]uplink.Link, error) { return links, nil }

	assert.NilError(t, b.r.Refresh(ctx))
	assert.Equal(t, b.r.Live.Revision(), 2)
	assert.Assert(t, reflect.DeepEqual(b.r.Live.ContainerNetworks(), next.ContainerNetworks),
		"serving %+v, want %+v", b.r.Live.ContainerNetworks(), next.ContainerNetworks)
	_, up := b.r.Live.Get()
	assert.Equal(t, up.String(), "public,client,management=ens192 container:External-Consumer=ens224")
	assert.Equal(t, b.applied, 1)
}

// TestRefresherRun refreshes on its own until ctx ends.
func TestRefresherRun(t *testing.T) {
	path := filepath.Join(t.TempDir(), "vch1.json")
	v := testDoc()
	writeDoc(t, path, v)
	b := newRefreshBed(t, File{Path: path}, testLinks)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); b.r.Run(ctx, 10*time.Millisecond) }()

	consumer(v)
	writeDoc(t, path, v)
	deadline := time.Now().Add(5 * time.Second)
	for b.r.Live.Revision() != 2 {
		if time.Now().After(deadline) {
			t.Fatalf("revision 2 not served within 5 s:\n%s", b.logs)
		}
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return when ctx ended")
	}
}

// runRefresher runs b's Refresher every interval until the test ends.
func runRefresher(t *testing.T, b *refreshBed, interval time.Duration) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); b.r.Run(ctx, interval) }()
	t.Cleanup(func() { cancel(); <-done })
}

// waitForLine polls logs until it holds s.
func waitForLine(t *testing.T, logs *testlog.Buffer, s string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(logs.String(), s) {
		if time.Now().After(deadline) {
			t.Fatalf("no %q within 10 s:\n%s", s, logs)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestRefresherRunWarnsOfFailures: failed readings are said at warning level once a minute at
// most, with the revision still served; the first success after them at info level.
func TestRefresherRunWarnsOfFailures(t *testing.T) {
	path := filepath.Join(t.TempDir(), "vch1.json")
	v := testDoc()
	writeDoc(t, path, v)
	b := newRefreshBed(t, File{Path: path}, testLinks)
	assert.NilError(t, os.Remove(path))
	runRefresher(t, b, 10*time.Millisecond)

	const failed = `level=WARN msg="re-reading the VCH configuration failed: still serving the configuration read earlier, which may be stale (container networks, firewall levels, container VMs on or off)" revision=1`
	waitForLine(t, b.logs, failed)
	waitForLine(t, b.logs, `level=DEBUG msg="re-reading the VCH configuration failed again"`)
	writeDoc(t, path, v)
	waitForLine(t, b.logs, `level=INFO msg="vSphere answers again: the configuration served is current" revision=1`)
	assert.Equal(t, strings.Count(b.logs.String(), "level=WARN"), 1, b.logs.String())
}

// TestRefresherRunCatchesUp: started from the stored configuration, the Refresher says when it
// has read the source.
func TestRefresherRunCatchesUp(t *testing.T) {
	path := filepath.Join(t.TempDir(), "vch1.json")
	writeDoc(t, path, testDoc())
	b := newRefreshBed(t, File{Path: path}, testLinks)
	b.r.Behind = true
	runRefresher(t, b, 10*time.Millisecond)
	waitForLine(t, b.logs, `level=INFO msg="vSphere answers again: the configuration served is current" revision=1`)
}

// TestRefreshWarnsWhenVSphereStalls: a vCenter that stops answering is said at warning level
// after SlowAfter, with the revision served, long before the reading times out.
func TestRefreshWarnsWhenVSphereStalls(t *testing.T) {
	src, _, err := Open(simOptions(t, "vch1", stalledVCenter(t)))
	assert.NilError(t, err)
	b := newRefreshBed(t, File{Path: storedDoc(t, testDoc())}, testLinks)
	b.r.Source, b.r.SlowAfter = src, 100*time.Millisecond
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	assert.Assert(t, b.r.Refresh(ctx) != nil)
	want := `level=WARN msg="vSphere has not answered the reading of the VCH configuration yet: the configuration served may be stale" waiting=100ms revision=1`
	assert.Assert(t, strings.Contains(b.logs.String(), want), "want %s in the log:\n%s", want, b.logs)
}

// TestRefreshStoresNewRevisions: every new revision read is stored for the next start.
func TestRefreshStoresNewRevisions(t *testing.T) {
	v := testDoc()
	path := storedDoc(t, v)
	b := newRefreshBed(t, File{Path: path}, testLinks)
	b.r.Stored = &Stored{Path: filepath.Join(t.TempDir(), StoredFile), VCH: "vch1"}
	consumer(v)
	writeDoc(t, path, v)
	assert.NilError(t, b.r.Refresh(context.Background()))
	got, err := b.r.Stored.Load()
	assert.NilError(t, err)
	assert.Equal(t, got.Config.Revision, 2)
	assert.Equal(t, got.Config.ContainerNetworks[0].Alias, "consumer")
}

// storedDoc writes v into a file of its own and returns its path.
func storedDoc(t *testing.T, v *vchdoc.VCH) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "vch1.json")
	writeDoc(t, path, v)
	return path
}

// TestRefreshSaysWhenSlowVSphereAnswers: a reading that waited past SlowAfter is said at warning
// level, and its answer at info level.
func TestRefreshSaysWhenSlowVSphereAnswers(t *testing.T) {
	b := startSim(t, testConfig(), "", "vch1")
	src, _, err := Open(b.opts)
	assert.NilError(t, err)
	defer src.Close(context.Background())
	v, err := src.Read(context.Background())
	assert.NilError(t, err)
	r := newRefreshBed(t, src, []uplink.Link{{Name: "ens192", MAC: nicMAC(v.NICs, "VM Network"), Addrs: []netip.Prefix{netip.MustParsePrefix("198.51.100.7/24")}}})
	r.r.SlowAfter = 100 * time.Millisecond
	b.model.DelayConfig.Delay = 300 // ms, every call
	assert.NilError(t, r.r.Refresh(context.Background()))
	out := r.logs.String()
	assert.Assert(t, strings.Contains(out, `level=WARN msg="vSphere has not answered the reading of the VCH configuration yet`), out)
	assert.Assert(t, strings.Contains(out, `level=INFO msg="vSphere answered the reading of the VCH configuration"`), out)
}

// TestRefreshRetriesAFailedApply: when the running containers could not take a new revision
// (a firewall that failed to land), the next refresh applies it again although nothing changed
// in vSphere, and stops once it succeeded.
func TestRefreshRetriesAFailedApply(t *testing.T) {
	path := filepath.Join(t.TempDir(), "vch1.json")
	v := testDoc()
	writeDoc(t, path, v)
	b := newRefreshBed(t, File{Path: path}, testLinks)
	consumer(v)
	writeDoc(t, path, v)
	b.appliedErr = errors.New("entering a container's namespace: no such file or directory")

	err := b.r.Refresh(context.Background())
	assert.ErrorContains(t, err, "applying revision 2 to the running containers: entering a container's namespace")
	assert.Equal(t, b.applied, 1)
	assert.Equal(t, b.r.Live.Revision(), 2, "the new revision is served even though a container missed it")

	assert.ErrorContains(t, b.r.Refresh(context.Background()), "applying revision 2")
	assert.Equal(t, b.applied, 2, "a failed apply was not tried again")
	b.appliedErr = nil
	assert.NilError(t, b.r.Refresh(context.Background()))
	assert.NilError(t, b.r.Refresh(context.Background()))
	assert.Equal(t, b.applied, 3, "an apply that succeeded was run again")
}
