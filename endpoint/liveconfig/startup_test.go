package liveconfig

import (
	"context"
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"gotest.tools/v3/assert"

	"github.com/docker-vic/docker-vic/config"
	"github.com/docker-vic/docker-vic/endpoint/testlog"
)

// startupOf reads the VCH of opts as the daemon does at start, storing it in dir.
func startupOf(t *testing.T, opts Options, dir string) (Startup, *testlog.Buffer) {
	t.Helper()
	src, _, err := Open(opts)
	assert.NilError(t, err)
	t.Cleanup(func() { _ = src.Close(context.Background()) })
	log, logs := testlog.New()
	return Startup{Source: src, Stored: &Stored{Path: filepath.Join(dir, StoredFile), VCH: opts.VCH}, Log: log}, logs
}

// stalledVCenter accepts connections and never answers, as a vCenter whose process is stopped.
func stalledVCenter(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	assert.NilError(t, err)
	var mu sync.Mutex
	var conns []net.Conn
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		l.Close()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	})
	return l.Addr().String()
}

// forward relays the connections to addr to target until the test ends.
func forward(t *testing.T, addr, target string) {
	t.Helper()
	l, err := net.Listen("tcp", addr)
	assert.NilError(t, err)
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				up, err := net.Dial("tcp", target)
				if err != nil {
					return
				}
				defer up.Close()
				go func() { _, _ = io.Copy(up, c) }()
				_, _ = io.Copy(c, up)
			}()
		}
	}()
}

func testConfig() *config.Config {
	cfg := config.New("vch1")
	cfg.ApplyDefaults()
	return cfg
}

// TestStartupServesStoredWhenVSphereIsDown: a start reads vSphere and stores what it read; a
// start while vCenter is down serves the stored configuration and says, at warning level, that
// it may be stale and which revision it is.
func TestStartupServesStoredWhenVSphereIsDown(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	b := startSim(t, testConfig(), "", "vch1")
	first, _ := startupOf(t, b.opts, dir)
	v, stale, err := first.Read(ctx)
	assert.NilError(t, err)
	assert.Assert(t, !stale)
	text, err := os.ReadFile(filepath.Join(dir, StoredFile))
	assert.NilError(t, err)
	pass, _ := simLogin.Password()
	assert.Assert(t, !strings.Contains(string(text), pass), "the stored configuration holds the password:\n%s", text)

	b.server.Close()
	again, logs := startupOf(t, b.opts, dir)
	got, stale, err := again.Read(ctx)
	assert.NilError(t, err)
	assert.Assert(t, stale, "served as if read from vSphere")
	assert.Equal(t, got.Config.Revision, 1)
	assert.Assert(t, reflect.DeepEqual(got.NICs, v.NICs), "serving NICs %+v, want %+v", got.NICs, v.NICs)
	want := `level=WARN msg="vSphere does not answer at start: serving the configuration stored earlier, which may be stale, until vSphere answers" vch=vch1 revision=1`
	assert.Assert(t, strings.Contains(logs.String(), want), "want %s in the log:\n%s", want, logs)
}

// TestStartupServesStoredWhenVSphereStalls: a vCenter that takes connections and never answers
// (its process stopped) holds the start up for StoredWait only.
func TestStartupServesStoredWhenVSphereStalls(t *testing.T) {
	dir := t.TempDir()
	st, logs := startupOf(t, simOptions(t, "vch1", stalledVCenter(t)), dir)
	v := testDoc()
	v.Config.Revision = 5
	_, err := st.Stored.Save(v)
	assert.NilError(t, err)
	st.StoredWait = 300 * time.Millisecond

	start := time.Now()
	got, stale, err := st.Read(context.Background())
	assert.NilError(t, err)
	assert.Assert(t, stale)
	assert.Equal(t, got.Config.Revision, 5)
	assert.Assert(t, time.Since(start) < 5*time.Second, "the start waited %s", time.Since(start))
	assert.Assert(t, strings.Contains(logs.String(), "level=WARN msg=\"vSphere does not answer at start") && strings.Contains(logs.String(), "revision=5"), logs.String())
}

// TestStartupWaitsForVSphere: with nothing stored and no vCenter, the start waits, retrying and
// saying so every SayEvery, and serves once vCenter answers.
func TestStartupWaitsForVSphere(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	assert.NilError(t, err)
	addr := l.Addr().String()
	l.Close() // nothing listens there until the vCenter starts

	dir := t.TempDir()
	st, logs := startupOf(t, simOptions(t, "vch1", addr), dir)
	st.RetryMax, st.SayEvery = 50*time.Millisecond, 300*time.Millisecond
	var waits atomic.Int32
	st.Waiting = func(error) { waits.Add(1) }
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	type result struct {
		stale bool
		err   error
	}
	done := make(chan result, 1)
	go func() {
		_, stale, err := st.Read(ctx)
		done <- result{stale, err}
	}()

	const waiting = `level=WARN msg="vSphere does not answer and no configuration is stored: waiting for vSphere before serving the vic drivers" vch=vch1`
	for strings.Count(logs.String(), waiting) < 2 {
		select {
		case r := <-done:
			t.Fatalf("the start ended without vCenter: %+v\n%s", r, logs)
		case <-time.After(20 * time.Millisecond):
		}
	}
	b := startSim(t, testConfig(), "", "vch1")
	forward(t, addr, b.server.URL.Host) // the way to vCenter opens
	r := <-done
	assert.NilError(t, r.err)
	assert.Assert(t, !r.stale)
	out := logs.String()
	assert.Assert(t, strings.Contains(out, `level=INFO msg="vSphere answers: serving the VCH's configuration" revision=1`), out)
	assert.Assert(t, waits.Load() > int32(strings.Count(out, waiting)), "said at every retry:\n%s", out)
	_, err = os.Stat(filepath.Join(dir, StoredFile))
	assert.NilError(t, err, "what vSphere answered was not stored")
}

// TestStartupEndsOnFinalAnswers: with nothing stored, an answer that waiting cannot change (no
// such VCH) ends the start at once; a stored configuration of that VCH stands in for it.
func TestStartupEndsOnFinalAnswers(t *testing.T) {
	b := startSim(t, testConfig(), "", "vch1")
	opts := b.opts
	opts.VCH = "nothere"
	dir := t.TempDir()
	st, _ := startupOf(t, opts, dir)
	_, _, err := st.Read(context.Background())
	assert.ErrorContains(t, err, `no VCH named "nothere"`)
	_, err = os.Stat(filepath.Join(dir, StoredFile))
	assert.Assert(t, errors.Is(err, os.ErrNotExist), "a failed start stored something: %v", err)

	v := testDoc()
	v.Name = "nothere"
	_, err = st.Stored.Save(v)
	assert.NilError(t, err)
	got, stale, err := st.Read(context.Background())
	assert.NilError(t, err)
	assert.Assert(t, stale && got.Name == "nothere")
}

// TestStartupEndsWithItsContext: a daemon stopped while it waits for vSphere stops waiting.
func TestStartupEndsWithItsContext(t *testing.T) {
	st, _ := startupOf(t, simOptions(t, "vch1", stalledVCenter(t)), t.TempDir())
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	_, _, err := st.Read(ctx)
	assert.Assert(t, errors.Is(err, context.DeadlineExceeded), "got %v", err)
}

// TestStartupReadsTheStoredEndpointVMFirst: a start with a stored document reads the endpoint VM
// it names, not the datacenter (a restart's cost does not grow with container VMs); a stored
// ID that no longer names the VCH's endpoint VM falls back to a scan of the datacenter.
func TestStartupReadsTheStoredEndpointVMFirst(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	b := startSim(t, testConfig(), "", "vch1")
	first, _ := startupOf(t, b.opts, dir)
	want, _, err := first.Read(ctx)
	assert.NilError(t, err)

	for _, id := range []string{want.ID, "vm-999999"} {
		again, _ := startupOf(t, b.opts, dir)
		if id != want.ID {
			stale := *want
			stale.ID = id
			_, err := again.Stored.Save(&stale)
			assert.NilError(t, err)
		}
		got, isStale, err := again.Read(ctx)
		assert.NilError(t, err, "stored ID %s", id)
		assert.Assert(t, !isStale)
		assert.Equal(t, got.ID, want.ID)
		assert.Assert(t, reflect.DeepEqual(got.NICs, want.NICs), "NICs %+v, want %+v", got.NICs, want.NICs)
		vs := again.Source.(*VSphere)
		assert.Assert(t, vs.scope != nil && vs.scope.Endpoint.Value == want.ID, "scope %+v after stored ID %s", vs.scope, id)
		// Only a scan of the datacenter learns the pool: the stored ID spared it, the stale one not.
		assert.Equal(t, vs.scope.Pool.Value == "", id == want.ID, "pool %q after stored ID %s", vs.scope.Pool.Value, id)
	}
}
