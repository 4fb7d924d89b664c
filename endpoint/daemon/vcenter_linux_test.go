package daemon_test

import (
	"context"
	"io"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vmware/govmomi/session"
	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25"
	"github.com/vmware/govmomi/vim25/soap"

	"github.com/docker-vic/docker-vic/config"
	"github.com/docker-vic/docker-vic/endpoint/testns"
	"github.com/docker-vic/docker-vic/vsphere"
	"github.com/docker-vic/docker-vic/vsphere/sim"
)

// vcenterInNS is the in-process vCenter serving inside the endpoint VM's namespace, behind a
// relay that the test can cut (vCenter down) and open again.
type vcenterInNS struct {
	ns     *testns.NS
	server *simulator.Server
	client *vim25.Client

	mu    sync.Mutex
	relay net.Listener
	conns []net.Conn
	addr  string // where the relay listens, inside ns
}

// newVCenterInNS starts the in-process vCenter inside ns with VCH cfg, and its relay.
func newVCenterInNS(t *testing.T, ns *testns.NS, cfg *config.Config) *vcenterInNS {
	t.Helper()
	ctx := context.Background()
	v := &vcenterInNS{ns: ns}
	m := sim.Model()
	if err := m.Create(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(m.Remove)
	m.Service.Listen = &url.URL{Host: "127.0.0.1:0", User: url.UserPassword("vic-test", "s3cret-vic")}
	if err := ns.Do(func() error { v.server = m.Service.NewServer(); return nil }); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(v.server.Close)

	sc := soap.NewClient(v.server.URL, true)
	sc.DefaultTransport().DialContext = v.dial
	var err error
	if v.client, err = vim25.NewClient(ctx, sc); err != nil {
		t.Fatal(err)
	}
	if err := session.NewManager(v.client).Login(ctx, v.server.URL.User); err != nil {
		t.Fatal(err)
	}
	if err := sim.AddPortGroups(ctx, v.client, nil, cfg.Bridge.PortGroup); err != nil {
		t.Fatal(err)
	}
	if _, err := sim.AddVCH(ctx, v.client, cfg); err != nil {
		t.Fatal(err)
	}
	v.up(t, "127.0.0.1:0")
	t.Cleanup(v.down)
	return v
}

// dial connects inside the namespace.
func (v *vcenterInNS) dial(ctx context.Context, network, addr string) (net.Conn, error) {
	var c net.Conn
	err := v.ns.Do(func() error {
		var err error
		c, err = (&net.Dialer{}).DialContext(ctx, network, addr)
		return err
	})
	return c, err
}

// up opens the relay on addr, inside the namespace.
func (v *vcenterInNS) up(t *testing.T, addr string) {
	t.Helper()
	var l net.Listener
	if err := v.ns.Do(func() error { var err error; l, err = net.Listen("tcp", addr); return err }); err != nil {
		t.Fatal(err)
	}
	v.mu.Lock()
	v.relay, v.addr = l, l.Addr().String()
	v.mu.Unlock()
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			up, err := v.dial(context.Background(), "tcp", v.server.URL.Host)
			if err != nil {
				c.Close()
				continue
			}
			v.mu.Lock()
			v.conns = append(v.conns, c, up)
			v.mu.Unlock()
			go func() { _, _ = io.Copy(up, c) }()
			go func() { _, _ = io.Copy(c, up) }()
		}
	}()
}

// down cuts the relay and every connection through it: vCenter no longer answers.
func (v *vcenterInNS) down() {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.relay != nil {
		v.relay.Close()
		v.relay = nil
	}
	for _, c := range v.conns {
		c.Close()
	}
	v.conns = nil
}

// args are vic-endpoint's flags for this vCenter, the login in a root-only credentials file.
func (v *vcenterInNS) args(t *testing.T, dir, vch string) []string {
	t.Helper()
	pass, _ := v.server.URL.User.Password()
	creds := filepath.Join(dir, "credentials")
	if err := os.WriteFile(creds, []byte("VIC_USER="+v.server.URL.User.Username()+"\nVIC_PASSWORD="+pass+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return []string{"--vch", vch, "--target", "http://" + v.addr + "/sdk", "--credentials", creds}
}

// TestDaemonStartsWithoutVCenter: vic-endpoint stores the configuration it read from vSphere;
// restarted while vCenter is down, it serves that configuration, says at warning level that it
// may be stale, and containers start; once vCenter answers again it says that it caught up.
func TestDaemonStartsWithoutVCenter(t *testing.T) {
	ctx := context.Background()
	ns := testns.New(t, "vicep")
	cfg := config.New("vch1")
	cfg.Public.PortGroup = "VM Network"
	cfg.ApplyDefaults()
	vc := newVCenterInNS(t, ns, cfg)
	doc, err := vsphere.ReadVCH(ctx, vc.client, "", "vch1")
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range doc.NICs {
		if n.PortGroup == "VM Network" {
			addPublicLink(t, ns, n.MAC, false)
		}
	}
	dir := t.TempDir()
	stateDir, sock := filepath.Join(dir, "state"), filepath.Join(dir, "vic.sock")
	// Docker is an empty fake (see dockerFor): the daemon's own calls to Docker must not reach
	// the machine's engine, and a first start rebuilds its missing state from it.
	var env []string
	args := append(vc.args(t, dir, "vch1"), "--state-dir", stateDir, "--config-interval", "300ms")

	d := startDaemonWith(t, ns, sock, env, args...)
	stored := filepath.Join(stateDir, "vch.json")
	st, err := os.Stat(stored)
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("the configuration read from vSphere is not stored root-only in %s: %v %v", stored, st, err)
	}
	d.stop(t)

	vc.down()
	d = startDaemonWith(t, ns, sock, env, args...)
	const stale = `level=WARN msg="vSphere does not answer at start: serving the configuration stored earlier, which may be stale, until vSphere answers" vch=vch1 revision=1`
	if !strings.Contains(d.stderr.String(), stale) {
		t.Errorf("want %s in the log:\n%s", stale, d.stderr)
	}
	c := newClient(sock)
	if _, addr := runContainer(t, c); addr == "" {
		t.Fatal("no address for a container while vCenter is down")
	}

	vc.up(t, vc.addr)
	const caught = `level=INFO msg="vSphere answers again: the configuration served is current" revision=1`
	if !waitFor(15*time.Second, func() bool { return strings.Contains(d.stderr.String(), caught) }) {
		t.Errorf("want %s in the log within 15s of vCenter answering:\n%s", caught, d.stderr)
	}
}
