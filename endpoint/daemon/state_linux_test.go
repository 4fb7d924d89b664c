package daemon_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/docker-vic/docker-vic/api/portsapi"
	"github.com/docker-vic/docker-vic/endpoint/link"
	"github.com/docker-vic/docker-vic/endpoint/testns"
)

// lostState is a test whose daemon lost its state database after runContainer.
type lostState struct {
	ns                     *testns.NS
	cfgPath, stateDir, db  string
	sock                   string
	docker                 *fakeDocker
	pool, addr             string
	before                 portsapi.Answer
	publicElem, loopbackEl string
}

// runThenStop starts the daemon, runs a container, lets the fake Docker show it, and stops
// the daemon.
func runThenStop(t *testing.T) *lostState {
	t.Helper()
	s := &lostState{ns: newEndpointVM(t, false)}
	dir := t.TempDir()
	s.cfgPath = writeConfig(t, dir, publicMAC)
	s.stateDir, s.sock = filepath.Join(dir, "state"), filepath.Join(dir, "vic.sock")
	s.db = filepath.Join(s.stateDir, "state.db")
	s.docker = dockerFor(t, dir)
	d := startDaemon(t, s.ns, s.cfgPath, s.stateDir, s.sock)
	c := newClient(s.sock)
	s.pool, s.addr = runContainer(t, c)
	moveToContainer(t, s.ns)
	s.before, _ = published(t, c)
	s.docker.hasRunContainer(s.addr, s.before.Endpoints[0].MAC)
	s.publicElem, s.loopbackEl = dnatElement("198.51.100.2", s.addr), dnatElement("127.0.0.1", s.addr)
	d.stop(t)
	return s
}

// kernelKept fails the test when a link or a port map element of the container is gone.
func (s *lostState) kernelKept(t *testing.T, when string) {
	t.Helper()
	for _, name := range []string{link.BridgeName(testNet), link.HostVethName(testEP)} {
		if _, err := s.ns.Link.LinkByName(name); err != nil {
			t.Errorf("%s, link %s is gone: %v", when, name, err)
		}
	}
	for _, e := range []string{s.publicElem, s.loopbackEl} {
		if ok, got := hasElement(s.ns, e); !ok {
			t.Errorf("%s, the port map element %q is gone: %s", when, e, got)
		}
	}
}

// rebuiltAsBefore fails the test unless the daemon serves what it served before the loss.
func (s *lostState) rebuiltAsBefore(t *testing.T, c *pluginClient) {
	t.Helper()
	after, _ := published(t, c)
	if !samePorts(after, s.before) {
		t.Fatalf("/VIC.Ports after the rebuild:\n%+v\nwant what it was before:\n%+v", after, s.before)
	}
	if !portHeld(t, s.ns) {
		t.Error("after the rebuild host port 8080 is not held again")
	}
	// Docker presents the pool ID it holds: a new container gets a new address.
	if again := c.requestAddress(t, s.pool); again == s.addr || strings.HasPrefix(again, "172.16.0.1/") {
		t.Fatalf("after the rebuild the IPAM driver handed out %s, which the container or the gateway holds", again)
	}
	var p struct{ Pool string }
	c.mustCall(t, "IpamDriver.RequestPool", map[string]any{"AddressSpace": "vic-local"}, &p)
	if p.Pool == "172.16.0.0/16" {
		t.Fatal("after the rebuild a new network got 172.16.0.0/16, which a network uses")
	}
}

func samePorts(a, b portsapi.Answer) bool {
	if len(a.Networks) != len(b.Networks) || len(a.Endpoints) != len(b.Endpoints) {
		return false
	}
	for i := range a.Networks {
		if a.Networks[i] != b.Networks[i] {
			return false
		}
	}
	for i, e := range a.Endpoints {
		o := b.Endpoints[i]
		if e.EndpointID != o.EndpointID || e.NetworkID != o.NetworkID || e.Address != o.Address || e.MAC != o.MAC || len(e.Ports) != len(o.Ports) {
			return false
		}
		for j := range e.Ports {
			if e.Ports[j] != o.Ports[j] {
				return false
			}
		}
	}
	return true
}

func logLine(log, text string) string {
	for _, l := range strings.Split(log, "\n") {
		if strings.Contains(l, text) {
			return l
		}
	}
	return ""
}

func TestDaemonStartsOnATruncatedState(t *testing.T) {
	s := runThenStop(t)
	truncate(t, s.db, 8192)

	d := startDaemon(t, s.ns, s.cfgPath, s.stateDir, s.sock)
	log := d.stderr.String()
	if strings.Contains(log, "panic") {
		t.Fatalf("vic-endpoint panicked on a truncated state database:\n%s", log)
	}
	kept, _ := filepath.Glob(s.db + ".damaged-*")
	if len(kept) != 1 {
		t.Fatalf("the damaged database was not kept aside: %q", kept)
	}
	line := logLine(log, "the state database is damaged")
	if !strings.Contains(line, s.db) || !strings.Contains(line, "it is truncated") || !strings.Contains(line, kept[0]) {
		t.Fatalf("want one log line naming %s, the damage and the copy kept %s:\n%s", s.db, kept[0], log)
	}
	s.kernelKept(t, "after starting on a truncated state database")
	s.rebuiltAsBefore(t, newClient(s.sock))
}

// TestDaemonStartsOnAnUndecodableRecord: a database that bbolt reads well but one of whose
// records does not decode (written by a buggy or foreign program, or damaged inside a value)
// is a damaged database: moved aside, named in one log line, and rebuilt; the daemon starts.
func TestDaemonStartsOnAnUndecodableRecord(t *testing.T) {
	for _, tt := range []struct{ name, bucket, sub string }{
		{"Network", "netdriver.networks", ""},
		{"Endpoint", "netdriver.endpoints", ""},
		{"Pool", "vic-ipam", "pools"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s := runThenStop(t)
			garble(t, s.db, tt.bucket, tt.sub)

			d := startDaemon(t, s.ns, s.cfgPath, s.stateDir, s.sock)
			log := d.stderr.String()
			kept, _ := filepath.Glob(s.db + ".damaged-*")
			if len(kept) != 1 {
				t.Fatalf("the database with an undecodable record was not kept aside: %q\n%s", kept, log)
			}
			line := logLine(log, "the state database is damaged")
			if !strings.Contains(line, s.db) || !strings.Contains(line, "does not decode") || !strings.Contains(line, kept[0]) {
				t.Fatalf("want one log line naming %s, the record and the copy kept %s:\n%s", s.db, kept[0], log)
			}
			if line := logLine(log, "rebuilt the state from docker and the kernel"); !strings.Contains(line, "networks=1 endpoints=1") {
				t.Fatalf("want the rebuild logged with one network and one endpoint:\n%s", log)
			}
			s.kernelKept(t, "after starting on an undecodable record")
			s.rebuiltAsBefore(t, newClient(s.sock))
		})
	}
}

// garble replaces the value of every record of bucket (of its bucket sub, when given) in the
// database at path with bytes that are no JSON.
func garble(t *testing.T, path, bucket, sub string) {
	t.Helper()
	db, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	err = db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket([]byte(bucket))
		if b != nil && sub != "" {
			b = b.Bucket([]byte(sub))
		}
		if b == nil {
			return fmt.Errorf("no bucket %s/%s", bucket, sub)
		}
		var keys [][]byte
		_ = b.ForEach(func(k, v []byte) error {
			if v != nil {
				keys = append(keys, append([]byte(nil), k...))
			}
			return nil
		})
		if len(keys) == 0 {
			return fmt.Errorf("no record in bucket %s/%s", bucket, sub)
		}
		for _, k := range keys {
			if err := b.Put(k, []byte("\x00garbled{")); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestDaemonRebuildsALostState(t *testing.T) {
	for _, tt := range []struct {
		name string
		lose func(t *testing.T, path string)
	}{
		{"Removed", func(t *testing.T, path string) { os.Remove(path) }},
		{"ZeroBytes", func(t *testing.T, path string) { truncate(t, path, 0) }},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s := runThenStop(t)
			tt.lose(t, s.db)
			d := startDaemon(t, s.ns, s.cfgPath, s.stateDir, s.sock)
			if line := logLine(d.stderr.String(), "rebuilt the state from docker and the kernel"); !strings.Contains(line, "networks=1 endpoints=1") {
				t.Fatalf("want the rebuild logged with one network and one endpoint:\n%s", d.stderr)
			}
			s.kernelKept(t, "after the rebuild")
			s.rebuiltAsBefore(t, newClient(s.sock))
			if _, err := os.Stat(s.db + ".bak"); err != nil {
				t.Errorf("the rebuilt state was not backed up: %v", err)
			}
			// The rebuilt state is a sound one: the next start restores from it alone.
			d.stop(t)
			d = startDaemon(t, s.ns, s.cfgPath, s.stateDir, s.sock)
			if strings.Contains(d.stderr.String(), "rebuil") {
				t.Fatalf("a start after the rebuild rebuilt again:\n%s", d.stderr)
			}
			s.kernelKept(t, "after the start that follows the rebuild")
		})
	}
}

// At boot Docker starts after vic-endpoint: a lost state waits for it, and until then nothing
// is removed from the kernel and nothing is handed out.
func TestDaemonWaitsForDockerToRebuild(t *testing.T) {
	s := runThenStop(t)
	os.Remove(s.db)
	down := newFakeDocker(t, filepath.Join(t.TempDir()))
	down.hasRunContainer(s.addr, s.before.Endpoints[0].MAC)
	d := startDaemonWith(t, s.ns, s.sock, []string{"DOCKER_HOST=" + down.host()}, "--config", s.cfgPath, "--state-dir", s.stateDir)
	c := newClient(s.sock)

	err := c.call("IpamDriver.RequestAddress", map[string]any{"PoolID": s.pool}, nil)
	want := `vic-endpoint is rebuilding its state from docker and the kernel, because state database "` + s.db + `" is missing: try again once docker answers it (a few seconds)`
	if err == nil || err.Error() != "IpamDriver.RequestAddress: "+want {
		t.Fatalf("RequestAddress while docker is down: %v, want the sentence %q", err, want)
	}
	time.Sleep(1500 * time.Millisecond) // five rounds of the rule watcher
	s.kernelKept(t, "while docker does not answer")
	if err := c.call("NetworkDriver.DeleteEndpoint", map[string]any{"NetworkID": testNet, "EndpointID": "9999999999990000"}, nil); err != nil {
		t.Fatalf("a removal while rebuilding failed: %v", err)
	}

	down.serve()
	if !waitFor(20*time.Second, func() bool { return logLine(d.stderr.String(), "rebuilt the state") != "" }) {
		t.Fatalf("the state was not rebuilt within 20s of docker answering:\n%s", d.stderr)
	}
	s.kernelKept(t, "after the rebuild")
	s.rebuiltAsBefore(t, c)
}

// truncate cuts the file at path to n bytes.
func truncate(t *testing.T, path string, n int64) {
	t.Helper()
	if err := os.Truncate(path, n); err != nil {
		t.Fatal(err)
	}
}
