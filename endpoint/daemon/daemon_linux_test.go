// The daemon tested from outside: the vic-endpoint binary runs in a namespace standing for the
// endpoint VM, driven over its socket as Docker drives it.

package daemon_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/vishvananda/netlink"

	"github.com/docker-vic/docker-vic/api/portsapi"
	"github.com/docker-vic/docker-vic/api/vchdoc"
	"github.com/docker-vic/docker-vic/config"
	"github.com/docker-vic/docker-vic/endpoint/link"
	"github.com/docker-vic/docker-vic/endpoint/testlog"
	"github.com/docker-vic/docker-vic/endpoint/testns"
)

// The endpoint VM's NICs in the test configuration.
const (
	publicPG  = "Docker-Public"
	bridgePG  = "vch1-bridge"
	publicMAC = "00:50:56:aa:bb:01"
	bridgeMAC = "00:50:56:aa:bb:02"
	publicIP  = "198.51.100.2/24"

	testNet = "aaaaaaaaaaaa00000000000000000000000000000000000000000000000000e1"
	testEP  = "111111111111000000000000000000000000000000000000000000000000000e"
)

// binPackage is the daemon's command, built with version testVersion.
const (
	binPackage  = "github.com/docker-vic/docker-vic/endpoint/cmd/vic-endpoint"
	testVersion = "0.0.0-daemon-test"
)

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

// daemonBinary builds vic-endpoint once per test binary.
func daemonBinary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "vic-endpoint-bin-")
		if err != nil {
			buildErr = err
			return
		}
		binPath = filepath.Join(dir, "vic-endpoint")
		goTool, err := exec.LookPath("go")
		if err != nil {
			goTool = "/usr/local/go/bin/go"
		}
		out, err := exec.Command(goTool, "build", "-ldflags", "-X main.version="+testVersion, "-o", binPath, binPackage).CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("building vic-endpoint: %v: %s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binPath
}

func TestMain(m *testing.M) {
	code := m.Run()
	if binPath != "" {
		os.RemoveAll(filepath.Dir(binPath))
	}
	os.Exit(code)
}

// newEndpointVM makes a namespace standing for the endpoint VM, with a veth "public" whose MAC
// is the public NIC's and, unless noAddr, an address from 198.51.100.0/24.
func newEndpointVM(t *testing.T, noAddr bool) *testns.NS {
	t.Helper()
	ns := testns.New(t, "vicep")
	addPublicLink(t, ns, publicMAC, noAddr)
	return ns
}

// addPublicLink gives ns a veth "public" with MAC mac and, unless noAddr, the address publicIP.
func addPublicLink(t *testing.T, ns *testns.NS, mac string, noAddr bool) {
	t.Helper()
	hw, _ := net.ParseMAC(mac)
	veth := &netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: "public", HardwareAddr: hw}, PeerName: "public-peer"}
	if err := ns.Link.LinkAdd(veth); err != nil {
		t.Fatalf("creating the public veth: %v", err)
	}
	for _, name := range []string{"public", "public-peer"} {
		l, err := ns.Link.LinkByName(name)
		if err != nil {
			t.Fatal(err)
		}
		if err := ns.Link.LinkSetUp(l); err != nil {
			t.Fatal(err)
		}
		if name == "public" && !noAddr {
			addr, _ := netlink.ParseAddr(publicIP)
			if err := ns.Link.AddrAdd(l, addr); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// writeConfig writes the JSON of `docker vic inspect vch1 --format json` with the given public MAC.
func writeConfig(t *testing.T, dir, mac string) string {
	t.Helper()
	cfg := config.New("vch1")
	cfg.Public.PortGroup = publicPG
	cfg.Bridge.PortGroup = bridgePG
	cfg.ApplyDefaults()
	v := vchdoc.VCH{ID: "vm-42", Name: "vch1", PowerState: "poweredOn", Config: cfg, NICs: []vchdoc.NIC{
		{PortGroup: publicPG, MAC: mac, Roles: cfg.RolesOf(publicPG)},
		{PortGroup: bridgePG, MAC: bridgeMAC, Roles: cfg.RolesOf(bridgePG)},
	}}
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "vch1.json")
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// process is vic-endpoint running in a test namespace.
type process struct {
	cmd    *exec.Cmd
	stderr *testlog.Buffer
	done   chan struct{}
	err    error
}

// command runs the built binary inside ns with args. Its Docker is a socket nobody serves:
// no test reads the machine's own engine.
func command(t *testing.T, ns *testns.NS, args ...string) *exec.Cmd {
	cmd := exec.Command("ip", append([]string{"netns", "exec", ns.Name, daemonBinary(t)}, args...)...)
	cmd.Env = append(os.Environ(), "DOCKER_HOST=unix:///nonexistent/vic-daemon-test/docker.sock")
	return cmd
}

// fakes are the fake Dockers of the tests, by directory.
var fakes sync.Map

// dockerFor returns the fake Docker of the test directory dir, serving and empty at first.
func dockerFor(t *testing.T, dir string) *fakeDocker {
	t.Helper()
	if f, ok := fakes.Load(dir); ok {
		return f.(*fakeDocker)
	}
	f := newFakeDocker(t, dir)
	f.serve()
	fakes.Store(dir, f)
	t.Cleanup(func() { fakes.Delete(dir) })
	return f
}

// startDaemon runs vic-endpoint inside ns from the configuration file cfgPath and waits until
// its socket answers.
func startDaemon(t *testing.T, ns *testns.NS, cfgPath, stateDir, sock string) *process {
	t.Helper()
	return startDaemonWith(t, ns, sock, nil, "--config", cfgPath, "--state-dir", stateDir)
}

// startDaemonWith runs vic-endpoint inside ns with args and the variables env added to the
// environment, and waits until its socket answers. Its Docker is the fake of sock's directory
// (see dockerFor) unless env sets DOCKER_HOST.
func startDaemonWith(t *testing.T, ns *testns.NS, sock string, env []string, args ...string) *process {
	t.Helper()
	d := &process{stderr: &testlog.Buffer{}, done: make(chan struct{})}
	d.cmd = command(t, ns, append(args, "--socket", sock, "--watch-interval", "300ms", "--log-level", "debug")...)
	d.cmd.Env = append(append(d.cmd.Env, "DOCKER_HOST="+dockerFor(t, filepath.Dir(sock)).host()), env...)
	d.cmd.Stderr = d.stderr
	if err := d.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { d.err = d.cmd.Wait(); close(d.done) }()
	t.Cleanup(func() {
		d.kill()
		if t.Failed() || testing.Verbose() {
			t.Logf("vic-endpoint log:\n%s", d.stderr)
		}
	})
	c := newClient(sock)
	deadline := time.Now().Add(20 * time.Second)
	for {
		var res map[string][]string
		if err := c.call("Plugin.Activate", nil, &res); err == nil {
			return d
		}
		select {
		case <-d.done:
			t.Fatalf("vic-endpoint exited before serving: %v\n%s", d.err, d.stderr)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("vic-endpoint did not answer on %s within 20s:\n%s", sock, d.stderr)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// kill ends the daemon with SIGKILL, as a crash would.
func (d *process) kill() {
	select {
	case <-d.done:
		return
	default:
	}
	_ = d.cmd.Process.Kill()
	<-d.done
}

// stop sends SIGTERM and waits for the exit.
func (d *process) stop(t *testing.T) {
	t.Helper()
	_ = d.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-d.done:
	case <-time.After(10 * time.Second):
		t.Fatalf("vic-endpoint ignored SIGTERM for 10s:\n%s", d.stderr)
	}
	if d.err != nil {
		t.Fatalf("vic-endpoint exited with %v after SIGTERM:\n%s", d.err, d.stderr)
	}
}

// pluginClient speaks the plugin protocol over the socket, as Docker does.
type pluginClient struct{ http *http.Client }

func newClient(sock string) *pluginClient {
	tr := &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "unix", sock)
	}}
	return &pluginClient{http: &http.Client{Transport: tr, Timeout: 30 * time.Second}}
}

func (c *pluginClient) call(method string, req, res any) error {
	var body bytes.Buffer
	if req != nil {
		if err := json.NewEncoder(&body).Encode(req); err != nil {
			return err
		}
	}
	r, err := c.http.Post("http://plugin/"+method, "application/vnd.docker.plugins.v1.1+json", &body)
	if err != nil {
		return err
	}
	defer r.Body.Close()
	if r.StatusCode != http.StatusOK {
		var e struct{ Err string }
		_ = json.NewDecoder(r.Body).Decode(&e)
		return fmt.Errorf("%s: %s", method, e.Err)
	}
	if res == nil {
		return nil
	}
	return json.NewDecoder(r.Body).Decode(res)
}

func (c *pluginClient) mustCall(t *testing.T, method string, req, res any) {
	t.Helper()
	if err := c.call(method, req, res); err != nil {
		t.Fatal(err)
	}
}

// requestAddress asks the IPAM driver for a container address in pool.
func (c *pluginClient) requestAddress(t *testing.T, pool string) string {
	t.Helper()
	var res struct{ Address string }
	c.mustCall(t, "IpamDriver.RequestAddress", map[string]any{"PoolID": pool, "Address": ""}, &res)
	return res.Address
}

// runContainer does what `docker network create -d vic --ipam-driver vic N` and
// `docker run --net N -p 8080:80` send, and returns the container's address.
func runContainer(t *testing.T, c *pluginClient) (pool, addr string) {
	t.Helper()
	var act map[string][]string
	c.mustCall(t, "Plugin.Activate", nil, &act)
	c.mustCall(t, "IpamDriver.GetCapabilities", nil, nil)
	c.mustCall(t, "IpamDriver.GetDefaultAddressSpaces", nil, nil)
	var p struct {
		PoolID, Pool string
		Data         map[string]string
	}
	c.mustCall(t, "IpamDriver.RequestPool", map[string]any{"AddressSpace": "vic-local"}, &p)
	var gw struct{ Address string }
	c.mustCall(t, "IpamDriver.RequestAddress", map[string]any{"PoolID": p.PoolID,
		"Options": map[string]string{"RequestAddressType": "com.docker.network.gateway"}}, &gw)
	c.mustCall(t, "NetworkDriver.GetCapabilities", nil, nil)
	c.mustCall(t, "NetworkDriver.CreateNetwork", map[string]any{
		"NetworkID": testNet,
		"Options":   map[string]any{"com.docker.network.generic": map[string]any{}, "com.docker.network.enable_ipv6": false},
		"IPv4Data":  []map[string]any{{"AddressSpace": "vic-local", "Pool": p.Pool, "Gateway": gw.Address}},
	}, nil)
	addr = c.requestAddress(t, p.PoolID)
	c.mustCall(t, "NetworkDriver.CreateEndpoint", map[string]any{"NetworkID": testNet, "EndpointID": testEP,
		"Interface": map[string]any{"Address": addr}}, nil)
	c.mustCall(t, "NetworkDriver.Join", map[string]any{"NetworkID": testNet, "EndpointID": testEP,
		"SandboxKey": "/var/run/docker/netns/test"}, nil)
	c.mustCall(t, "NetworkDriver.EndpointOperInfo", map[string]any{"NetworkID": testNet, "EndpointID": testEP}, nil)
	c.mustCall(t, "NetworkDriver.ProgramExternalConnectivity", map[string]any{"NetworkID": testNet, "EndpointID": testEP,
		"Options": map[string]any{
			"com.docker.network.portmap":      []map[string]any{{"Proto": 6, "IP": "", "Port": 80, "HostIP": "", "HostPort": 8080, "HostPortEnd": 8080}},
			"com.docker.network.exposedports": []map[string]any{{"Proto": 6, "Port": 80}},
		}}, nil)
	return p.PoolID, addr
}

// moveToContainer does what Docker does after Join: it moves the veth peer into the
// container's namespace.
func moveToContainer(t *testing.T, ns *testns.NS) {
	t.Helper()
	ctr := testns.New(t, "vicct")
	peer, err := ns.Link.LinkByName(link.PeerName(testEP))
	if err != nil {
		t.Fatalf("join left no peer %s: %v", link.PeerName(testEP), err)
	}
	if err := ns.Link.LinkSetNsFd(peer, int(ctr.Handle)); err != nil {
		t.Fatalf("moving %s into the container: %v", link.PeerName(testEP), err)
	}
}

// natRules is `iptables-save -t nat` inside ns.
func natRules(t *testing.T, ns *testns.NS) string {
	t.Helper()
	out, err := exec.Command("ip", "netns", "exec", ns.Name, "iptables-save", "-t", "nat").CombinedOutput()
	if err != nil {
		t.Fatalf("iptables-save: %v: %s", err, out)
	}
	return string(out)
}

// nft runs the nft CLI inside ns.
func nft(ns *testns.NS, args ...string) ([]byte, error) {
	out, err := exec.Command("ip", append([]string{"netns", "exec", ns.Name, "nft"}, args...)...).CombinedOutput()
	if err != nil {
		return out, fmt.Errorf("nft %s: %v: %s", strings.Join(args, " "), err, bytes.TrimSpace(out))
	}
	return out, nil
}

// nftValue is one side of a port map element in nft's JSON: {"concat": [ADDR, PORT]}, or
// {"elem": {"val": {"concat": ...}, ...}} when the element carries a comment or a timeout.
type nftValue struct {
	Concat []any `json:"concat"`
	Elem   *struct {
		Val nftValue `json:"val"`
	} `json:"elem"`
}

func (v nftValue) String() string {
	if v.Elem != nil {
		return v.Elem.Val.String()
	}
	parts := make([]string, len(v.Concat))
	for i, c := range v.Concat {
		parts[i] = fmt.Sprint(c)
	}
	return strings.Join(parts, " . ")
}

// tcpPortElements lists map tcpports of table ip vic inside ns (`nft -j list map ip vic
// tcpports`), each element as nft prints it: "HOSTADDR . HOSTPORT : ADDR . PORT". It fails
// when the table or the map does not exist.
func tcpPortElements(ns *testns.NS) ([]string, error) {
	out, err := nft(ns, "-j", "list", "map", "ip", "vic", "tcpports")
	if err != nil {
		return nil, err
	}
	var doc struct {
		Nftables []struct {
			Map *struct {
				Elem [][2]nftValue `json:"elem"`
			} `json:"map"`
		} `json:"nftables"`
	}
	if err := json.Unmarshal(out, &doc); err != nil {
		return nil, fmt.Errorf("decoding nft's JSON: %v: %s", err, out)
	}
	var elems []string
	for _, o := range doc.Nftables {
		if o.Map == nil {
			continue
		}
		for _, e := range o.Map.Elem {
			elems = append(elems, e[0].String()+" : "+e[1].String())
		}
	}
	return elems, nil
}

// hasElement reports whether map tcpports inside ns holds elem, and what it holds instead.
func hasElement(ns *testns.NS, elem string) (bool, string) {
	elems, err := tcpPortElements(ns)
	if err != nil {
		return false, err.Error()
	}
	for _, e := range elems {
		if e == elem {
			return true, ""
		}
	}
	return false, fmt.Sprintf("map tcpports holds %q", elems)
}

// dnatElement is the port map element a user expects for -p 8080:80 to container addr on
// host address hostAddr.
func dnatElement(hostAddr, addr string) string {
	ip, _, _ := strings.Cut(addr, "/")
	return hostAddr + " . 8080 : " + ip + " . 80"
}

// portHeld reports whether binding 0.0.0.0:8080/tcp inside ns fails because it is taken.
func portHeld(t *testing.T, ns *testns.NS) bool {
	t.Helper()
	var held bool
	err := ns.Do(func() error {
		l, err := net.Listen("tcp4", "0.0.0.0:8080")
		if errors.Is(err, syscall.EADDRINUSE) {
			held = true
			return nil
		}
		if err != nil {
			return err
		}
		return l.Close()
	})
	if err != nil {
		t.Fatal(err)
	}
	return held
}

// published asks /VIC.Ports for the ports of testEP.
func published(t *testing.T, c *pluginClient) (portsapi.Answer, []portsapi.Port) {
	t.Helper()
	var res portsapi.Answer
	c.mustCall(t, "VIC.Ports", nil, &res)
	for _, e := range res.Endpoints {
		if e.EndpointID == testEP {
			return res, e.Ports
		}
	}
	t.Fatalf("/VIC.Ports does not list endpoint %s: %+v", testEP, res)
	return res, nil
}

// waitFor polls cond every 100ms until it holds or timeout passes.
func waitFor(timeout time.Duration, cond func() bool) bool {
	for end := time.Now().Add(timeout); time.Now().Before(end); time.Sleep(100 * time.Millisecond) {
		if cond() {
			return true
		}
	}
	return cond()
}

func TestDaemonPublishesPortsAndSurvivesRestarts(t *testing.T) {
	ns := newEndpointVM(t, false)
	dir := t.TempDir()
	cfgPath := writeConfig(t, dir, publicMAC)
	stateDir, sock := filepath.Join(dir, "state"), filepath.Join(dir, "vic.sock")

	d := startDaemon(t, ns, cfgPath, stateDir, sock)
	c := newClient(sock)
	pool, addr := runContainer(t, c)
	moveToContainer(t, ns)

	if _, err := ns.Link.LinkByName(link.BridgeName(testNet)); err != nil {
		t.Fatalf("bridge %s missing in the namespace: %v", link.BridgeName(testNet), err)
	}
	// -p 8080:80 without a host address: the public address and loopback.
	for _, host := range []string{"198.51.100.2", "127.0.0.1"} {
		if ok, got := hasElement(ns, dnatElement(host, addr)); !ok {
			t.Fatalf("the port map element %q is missing: %s", dnatElement(host, addr), got)
		}
	}
	public := dnatElement("198.51.100.2", addr)
	res, ports := published(t, c)
	want := portsapi.Port{Proto: "tcp", HostPort: 8080, ContainerPort: 80}
	if len(res.Networks) != 1 || res.Networks[0].NetworkID != testNet || res.Networks[0].Subnet != "172.16.0.0/16" {
		t.Fatalf("/VIC.Ports networks = %+v, want %s with subnet 172.16.0.0/16", res.Networks, testNet)
	}
	if res.Public != "198.51.100.2" || len(ports) != 1 || ports[0] != want {
		t.Fatalf("/VIC.Ports = public %s ports %+v, want public 198.51.100.2 and %+v", res.Public, ports, want)
	}
	if res.Version != testVersion {
		t.Errorf("/VIC.Ports reports version %q, want the version built in, %q", res.Version, testVersion)
	}
	if !portHeld(t, ns) {
		t.Fatal("host port 8080 is not held: another process could bind it")
	}
	if !strings.Contains(d.stderr.String(), "vic-endpoint serving") || !strings.Contains(d.stderr.String(), "public=198.51.100.2") {
		t.Errorf("the start-up line must name the VCH, the public address and the uplinks:\n%s", d.stderr)
	}

	// A crash: the state survives, the port is held again, the map elements stay.
	d.kill()
	d = startDaemon(t, ns, cfgPath, stateDir, sock)
	if again := c.requestAddress(t, pool); again == addr {
		t.Fatalf("after a restart the IPAM driver handed out %s again", addr)
	}
	if !portHeld(t, ns) {
		t.Fatal("after a restart host port 8080 is not held again")
	}
	if _, err := ns.Link.LinkByName(link.HostVethName(testEP)); err != nil {
		t.Fatalf("after a restart the container's veth %s is gone: %v", link.HostVethName(testEP), err)
	}
	if ok, got := hasElement(ns, public); !ok {
		t.Fatalf("after a restart the port map element %q is missing: %s", public, got)
	}
	if _, ports := published(t, c); len(ports) != 1 || ports[0] != want {
		t.Fatalf("after a restart /VIC.Ports lists %+v", ports)
	}

	// A firewall reload deletes the table: the watcher puts it back within seconds.
	if _, err := nft(ns, "delete", "table", "ip", "vic"); err != nil {
		t.Fatal(err)
	}
	if !waitFor(5*time.Second, func() bool { ok, _ := hasElement(ns, public); return ok }) {
		_, got := hasElement(ns, public)
		t.Fatalf("the port map element %q was not restored within 5s of deleting table ip vic: %s\n%s", public, got, d.stderr)
	}
	if !waitFor(2*time.Second, func() bool { return strings.Contains(d.stderr.String(), "repaired the nat rules") }) {
		t.Errorf("the repair was not logged:\n%s", d.stderr)
	}

	// SIGTERM leaves rules, map elements and links in place; teardown removes them.
	d.stop(t)
	if ok, got := hasElement(ns, public); !ok {
		t.Fatalf("SIGTERM removed the port map element %q (%s): containers would lose their ports while the daemon restarts", public, got)
	}
	if out, err := command(t, ns, "teardown", "--state-dir", stateDir).CombinedOutput(); err != nil {
		t.Fatalf("teardown: %v: %s", err, out)
	}
	if rules := natRules(t, ns); strings.Contains(rules, ":VIC") {
		t.Fatalf("teardown left the vic chains:\n%s", rules)
	}
	if out, err := nft(ns, "list", "table", "ip", "vic"); err == nil {
		t.Fatalf("teardown left table ip vic:\n%s", out)
	}
	if _, err := ns.Link.LinkByName(link.BridgeName(testNet)); err == nil {
		t.Fatal("teardown left the bridge")
	}
}

func TestDaemonRefusesBadUplinks(t *testing.T) {
	tests := []struct {
		name   string
		noAddr bool
		mac    string
		args   []string
		want   string
	}{{
		name: "MissingMAC",
		mac:  "00:0c:29:aa:bb:cc",
		want: `no local interface carries MAC 00:0c:29:aa:bb:cc of the public port group "Docker-Public": pass --uplink Docker-Public=IFACE`,
	}, {
		name: "OverrideToMissingInterface",
		mac:  publicMAC,
		args: []string{"--uplink", "Docker-Public=eth9"},
		want: `--uplink maps port group "Docker-Public" to interface "eth9", which does not exist on this machine`,
	}, {
		name:   "PublicWithoutAddress",
		noAddr: true,
		mac:    publicMAC,
		want:   `public interface "public" has no IPv4 address`,
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ns := newEndpointVM(t, tt.noAddr)
			dir := t.TempDir()
			args := append([]string{"--config", writeConfig(t, dir, tt.mac), "--state-dir", dir, "--socket", filepath.Join(dir, "vic.sock")}, tt.args...)
			var stderr bytes.Buffer
			cmd := command(t, ns, args...)
			cmd.Stderr = &stderr
			err := cmd.Run()
			var exit *exec.ExitError
			if !errors.As(err, &exit) || exit.ExitCode() != 1 {
				t.Fatalf("want exit status 1, got %v:\n%s", err, stderr.String())
			}
			// Warnings are log lines; the error is the last line, one sentence.
			lines := strings.Split(strings.TrimSpace(stderr.String()), "\n")
			if got := lines[len(lines)-1]; got != "vic-endpoint: "+tt.want {
				t.Fatalf("stderr:\n%s\nwant the last line to be the one sentence:\nvic-endpoint: %s", stderr.String(), tt.want)
			}
		})
	}
}
