package daemon_test

import (
	"encoding/json"
	"net"
	"net/http"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
)

// fakeDocker answers the part of Docker's API that vic-endpoint reads, on a unix socket the
// daemon finds through DOCKER_HOST: every daemon test gets one, so that none reads the
// machine's own engine. It serves nothing until serve, as Docker starting after the daemon.
type fakeDocker struct {
	t    *testing.T
	path string

	mu         sync.Mutex
	networks   []map[string]any
	containers []map[string]any // as inspected
	listener   net.Listener
}

// newFakeDocker returns a fake Docker in dir, not serving yet.
func newFakeDocker(t *testing.T, dir string) *fakeDocker {
	return &fakeDocker{t: t, path: filepath.Join(dir, "docker.sock")}
}

// host is the DOCKER_HOST of the fake.
func (f *fakeDocker) host() string { return "unix://" + f.path }

// serve starts answering.
func (f *fakeDocker) serve() {
	f.t.Helper()
	l, err := net.Listen("unix", f.path)
	if err != nil {
		f.t.Fatal(err)
	}
	f.mu.Lock()
	f.listener = l
	f.mu.Unlock()
	srv := &http.Server{Handler: http.HandlerFunc(f.answer)}
	go func() { _ = srv.Serve(l) }()
	f.t.Cleanup(func() { srv.Close() })
}

var versioned = regexp.MustCompile(`^/v[0-9.]+`)

func (f *fakeDocker) answer(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	path := versioned.ReplaceAllString(r.URL.Path, "")
	w.Header().Set("Api-Version", "1.41")
	w.Header().Set("Content-Type", "application/json")
	switch {
	case path == "/_ping":
		_, _ = w.Write([]byte("OK"))
	case path == "/networks" && r.Method == http.MethodGet:
		_ = json.NewEncoder(w).Encode(nonNil(f.networks))
	case path == "/containers/json":
		var list []map[string]any
		for _, c := range f.containers {
			list = append(list, map[string]any{"Id": c["Id"], "Names": []string{c["Name"].(string)}, "State": "running",
				"NetworkSettings": map[string]any{"Networks": c["NetworkSettings"].(map[string]any)["Networks"]}})
		}
		_ = json.NewEncoder(w).Encode(nonNil(list))
	case strings.HasPrefix(path, "/containers/") && strings.HasSuffix(path, "/json"):
		id := strings.TrimSuffix(strings.TrimPrefix(path, "/containers/"), "/json")
		for _, c := range f.containers {
			if c["Id"] == id {
				_ = json.NewEncoder(w).Encode(c)
				return
			}
		}
		w.WriteHeader(http.StatusNotFound)
		_, _ = w.Write([]byte(`{"message":"No such container: ` + id + `"}`))
	default:
		w.WriteHeader(http.StatusNotFound)
		_, _ = w.Write([]byte(`{"message":"page not found"}`))
	}
}

func nonNil(list []map[string]any) []map[string]any {
	if list == nil {
		return []map[string]any{}
	}
	return list
}

// hasRunContainer makes the fake show what runContainer made: network testNet on the vic
// drivers, and a running container with endpoint testEP at addr with mac, publishing 8080:80.
func (f *fakeDocker) hasRunContainer(addr, mac string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	ip, bits, _ := strings.Cut(addr, "/")
	f.networks = []map[string]any{{
		"Name": "vic-test", "Id": testNet, "Driver": "vic", "Scope": "local", "Options": map[string]string{},
		"IPAM": map[string]any{"Driver": "vic", "Options": map[string]string{}, "Config": []map[string]string{{"Subnet": "172.16.0.0/16", "Gateway": "172.16.0.1"}}},
	}}
	var prefix int
	_ = json.Unmarshal([]byte(bits), &prefix)
	endpoint := map[string]any{"NetworkID": testNet, "EndpointID": testEP, "Gateway": "172.16.0.1", "IPAddress": ip,
		"IPPrefixLen": prefix, "MacAddress": mac}
	f.containers = []map[string]any{{
		"Id": strings.Repeat("c0", 32), "Name": "/web", "State": map[string]any{"Running": true, "Status": "running"},
		"HostConfig": map[string]any{"PortBindings": map[string]any{"80/tcp": []map[string]string{{"HostIp": "", "HostPort": "8080"}}}},
		"Config":     map[string]any{"ExposedPorts": map[string]any{"80/tcp": map[string]any{}}},
		"NetworkSettings": map[string]any{"SandboxKey": "/var/run/docker/netns/test",
			"Networks": map[string]any{"vic-test": endpoint}},
	}}
}
