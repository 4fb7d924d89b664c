package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"gotest.tools/v3/assert"
)

// These tests drive formSwarm against fake engines, for speed and for the refusals; the
// appliance's end-to-end run (scripts/e2e/appliance/swarm.sh) forms a real swarm.

// fakeSwarm is a set of engines, one per address, that answer the swarm calls formSwarm makes.
type fakeSwarm struct {
	mu      sync.Mutex
	engines map[netip.Addr]*fakeEngine
	nodes   []swarmNode // the manager's view
	calls   []string
	refuse  map[string]bool // node IDs whose updates fail
}

type fakeEngine struct {
	state   string // inactive or active
	nodeID  string
	manager bool
	ln      net.Listener
}

// newFakeSwarm serves an inactive engine at each of addrs, with server certificates of tlsm's CA.
func newFakeSwarm(t *testing.T, tlsm *tlsMaterial, addrs ...netip.Addr) *fakeSwarm {
	t.Helper()
	fs := &fakeSwarm{engines: map[netip.Addr]*fakeEngine{}}
	assert.NilError(t, tlsm.issueServer("vch1", addrs))
	pair, err := tls.X509KeyPair(tlsm.ServerCert, tlsm.ServerKey)
	assert.NilError(t, err)
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(tlsm.CACert)
	for _, a := range addrs {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		assert.NilError(t, err)
		e := &fakeEngine{state: "inactive", ln: ln}
		fs.engines[a] = e
		srv := &http.Server{Handler: fs.handler(a), ReadHeaderTimeout: 5 * time.Second,
			TLSConfig: &tls.Config{Certificates: []tls.Certificate{pair}, ClientCAs: pool, ClientAuth: tls.RequireAndVerifyClientCert}}
		go srv.Serve(tls.NewListener(ln, srv.TLSConfig)) //nolint:errcheck // ends with the listener
		t.Cleanup(func() { srv.Close() })
	}
	return fs
}

// dial reaches the engine of the address asked for.
func (fs *fakeSwarm) dial(ctx context.Context, network, addr string) (net.Conn, error) {
	host, _, _ := net.SplitHostPort(addr)
	e := fs.engines[netip.MustParseAddr(host)]
	return (&net.Dialer{}).DialContext(ctx, network, e.ln.Addr().String())
}

func (fs *fakeSwarm) handler(a netip.Addr) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fs.mu.Lock()
		defer fs.mu.Unlock()
		e := fs.engines[a]
		fs.calls = append(fs.calls, fmt.Sprintf("%s %s %s", a, r.Method, r.URL.Path))
		var body map[string]any
		_ = json.NewDecoder(r.Body).Decode(&body)
		switch r.Method + " " + r.URL.Path {
		case "GET /info":
			json.NewEncoder(w).Encode(map[string]any{"ServerVersion": "20.10", //nolint:errcheck // a test server
				"Swarm": map[string]any{"NodeID": e.nodeID, "LocalNodeState": e.state, "ControlAvailable": e.manager}})
		case "POST /swarm/init":
			e.state, e.nodeID, e.manager = "active", "node-"+a.String(), true
			fs.addNode(e, body, "manager")
		case "GET /swarm":
			fmt.Fprint(w, `{"JoinTokens":{"Worker":"SWMTKN-worker"}}`)
		case "POST /swarm/join":
			if body["JoinToken"] != "SWMTKN-worker" || fmt.Sprint(body["RemoteAddrs"]) != "[198.51.100.11:2377]" {
				http.Error(w, `{"message":"bad join"}`, http.StatusBadRequest)
				return
			}
			e.state, e.nodeID = "active", "node-"+a.String()
			fs.addNode(e, body, "worker")
		case "GET /nodes":
			json.NewEncoder(w).Encode(fs.nodes) //nolint:errcheck // a test server
		default:
			id, ok := strings.CutPrefix(r.URL.Path, "/nodes/")
			id, update := strings.CutSuffix(id, "/update")
			j := slices.IndexFunc(fs.nodes, func(n swarmNode) bool { return n.ID == id })
			switch {
			case !ok || j < 0:
				http.NotFound(w, r)
			case update && fs.refuse[id]:
				http.Error(w, `{"message":"update out of sequence"}`, http.StatusInternalServerError)
			case update && r.Method == http.MethodPost && r.URL.Query().Get("version") == fmt.Sprint(fs.nodes[j].Version.Index):
				fs.nodes[j].Spec, fs.nodes[j].Version.Index = body, fs.nodes[j].Version.Index+1
				fs.nodes[j].ManagerStatus = nil
				if body["Role"] == "manager" {
					fs.nodes[j].ManagerStatus = &struct{ Reachability string }{"reachable"}
				}
			case r.Method == http.MethodDelete && r.URL.Query().Get("force") == "1" && fs.nodes[j].role() != "manager":
				fs.nodes = slices.Delete(fs.nodes, j, j+1)
			default:
				http.Error(w, `{"message":"refused"}`, http.StatusBadRequest)
			}
		}
	})
}

func (fs *fakeSwarm) addNode(e *fakeEngine, body map[string]any, role string) {
	n := swarmNode{ID: e.nodeID, Spec: map[string]any{"Role": role, "Labels": map[string]any{"kept": "yes"}}}
	if role == "manager" {
		n.ManagerStatus = &struct{ Reachability string }{"reachable"}
	}
	n.Version.Index = 7
	n.Status.State, n.Status.Addr = "ready", fmt.Sprint(body["AdvertiseAddr"])
	fs.nodes = append(fs.nodes, n)
}

func TestFormSwarm(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	tlsm, err := newPKI("vch1")
	assert.NilError(t, err)
	a1, a2 := netip.MustParseAddr("198.51.100.11"), netip.MustParseAddr("198.51.100.12")
	fs := newFakeSwarm(t, tlsm, a1, a2)
	d := &deps{dialDocker: fs.dial}
	var said []string
	say := func(s string) { said = append(said, s) }
	names, apis := []string{"vch1", "vch1-2"}, []netip.Addr{a1, a2}

	assert.NilError(t, formSwarm(ctx, d, tlsm, names, apis, say))
	assert.DeepEqual(t, said, []string{"swarm started on endpoint 1 (198.51.100.11:2377), its manager",
		"endpoint 2 joined the swarm", "swarm ready: 2 nodes"})
	assert.Equal(t, fs.nodes[1].Status.Addr, "198.51.100.12:2377")

	// Again: both are in the swarm already, and nothing is asked of them but their state.
	fs.calls, said = nil, nil
	assert.NilError(t, formSwarm(ctx, d, tlsm, names, apis, say))
	for _, c := range fs.calls {
		assert.Assert(t, !strings.Contains(c, "POST"), "a second run called %s", c)
	}

	// A ready node that is no endpoint's does not stand in for an endpoint that is down.
	fs.nodes[1].Status.State = "down"
	stray := swarmNode{ID: "node-stray"}
	stray.Status.State = "ready"
	fs.nodes = append(fs.nodes, stray)
	short, stop := context.WithTimeout(ctx, 1500*time.Millisecond)
	err = formSwarm(short, d, tlsm, names, apis, say)
	stop()
	assert.ErrorContains(t, err, "the swarm of the endpoints did not get ready: 1 of the 2 endpoints are ready nodes")
	fs.nodes[1].Status.State, fs.nodes = "ready", fs.nodes[:2]

	// An endpoint of another swarm is refused, and left alone.
	fs.engines[a2].nodeID = "node-elsewhere"
	err = formSwarm(ctx, d, tlsm, names, apis, say)
	assert.Error(t, err, `endpoint VM "vch1-2" is in another swarm than endpoint 1's: make it leave that swarm (docker swarm leave --force) and run the command again`)

	// Endpoint 1 must be the manager.
	fs.engines[a1].manager = false
	err = formSwarm(ctx, d, tlsm, names, apis, say)
	assert.Error(t, err, `endpoint VM "vch1" is in a swarm (active) but is not its manager: make it leave the swarm (docker swarm leave --force) and run the command again`)
}

// configure drains and demotes the nodes of the endpoints it removes, then takes them out of
// the swarm once their VMs are gone, by their host names.
func TestDropGoneNodes(t *testing.T) {
	ctx := context.Background()
	tlsm, err := newPKI("vch1")
	assert.NilError(t, err)
	a1 := netip.MustParseAddr("198.51.100.11")
	fs := newFakeSwarm(t, tlsm, a1)
	for _, h := range []string{"vch1", "vch1-2", "vch1-3", "other"} {
		n := swarmNode{ID: "id-" + h, Spec: map[string]any{"Role": "manager"}}
		n.Description.Hostname = h
		fs.nodes = append(fs.nodes, n)
	}
	var said []string
	// Before its VM goes, the leaving manager is demoted and drained, and stays a node.
	assert.NilError(t, drainLeaving(ctx, &deps{dialDocker: fs.dial}, tlsm, a1, "vch1", 2, func(s string) { said = append(said, s) }))
	assert.Equal(t, fs.nodes[2].role(), "worker")
	assert.Equal(t, fs.nodes[2].Spec["Availability"], "drain")
	assert.Equal(t, fs.nodes[1].role(), "manager")
	said = nil
	assert.NilError(t, dropGoneNodes(ctx, &deps{dialDocker: fs.dial}, tlsm, a1, "vch1", 2, func(s string) { said = append(said, s) }))
	var left []string
	for _, n := range fs.nodes {
		left = append(left, n.Description.Hostname)
	}
	assert.DeepEqual(t, left, []string{"vch1", "vch1-2", "other"})
	assert.DeepEqual(t, said, []string{`the node of endpoint VM "vch1-3" left the swarm`})
}

// From three endpoints on, endpoints 1 to 3 are managers and the others workers: promoted and
// demoted through the manager, their other settings kept.
func TestSettleRoles(t *testing.T) {
	ctx := context.Background()
	tlsm, err := newPKI("vch1")
	assert.NilError(t, err)
	addrs := []netip.Addr{netip.MustParseAddr("198.51.100.11"), netip.MustParseAddr("198.51.100.12"), netip.MustParseAddr("198.51.100.13")}
	fs := newFakeSwarm(t, tlsm, addrs...)
	d := &deps{dialDocker: fs.dial}
	quiet := func(string) {}
	var said []string
	assert.NilError(t, formSwarm(ctx, d, tlsm, []string{"vch1", "vch1-2", "vch1-3"}, addrs, func(s string) { said = append(said, s) }))
	assert.DeepEqual(t, said[len(said)-3:], []string{"endpoint 2 is a manager of the swarm", "endpoint 3 is a manager of the swarm",
		"swarm managers: endpoints 1 to 3, reachable"})
	manager, err := newDockerAPI(fs.dial, addrs[0], tlsm, time.Minute)
	assert.NilError(t, err)
	defer manager.close()
	ids := []string{"node-198.51.100.11", "node-198.51.100.12", "node-198.51.100.13"}
	roles := func() (out []string) {
		for _, n := range fs.nodes {
			out = append(out, n.role())
		}
		return out
	}
	assert.DeepEqual(t, roles(), []string{"manager", "manager", "manager"})
	assert.DeepEqual(t, fs.nodes[1].Spec["Labels"], map[string]any{"kept": "yes"})
	assert.NilError(t, settleRoles(ctx, manager, ids, 1, quiet))
	assert.DeepEqual(t, roles(), []string{"manager", "worker", "worker"})
	assert.NilError(t, settleRoles(ctx, manager, ids, 1, func(s string) { t.Errorf("nothing to settle, yet %q", s) }))

	// Endpoint 3's promotion fails: endpoint 2's is undone, and the swarm keeps one manager
	// rather than two.
	fs.refuse = map[string]bool{ids[2]: true}
	said = nil
	err = settleRoles(ctx, manager, ids, 3, func(s string) { said = append(said, s) })
	assert.ErrorContains(t, err, "making endpoint 3 a manager of the swarm: ")
	assert.DeepEqual(t, roles(), []string{"manager", "worker", "worker"})
	assert.DeepEqual(t, said, []string{"endpoint 2 is a manager of the swarm", "endpoint 2, promoted before the failure: a worker again"})
}
