package dhcp

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/docker-vic/docker-vic/endpoint/testlog"
	"github.com/docker-vic/docker-vic/endpoint/testns"
)

// testPortGroup is the port group the testbed's uplink leads to.
const testPortGroup = "pg-dhcp"

// testbed is a port group in namespaces: a "wire" namespace holding a bridge, an "endpoint"
// namespace whose uplink (a veth end without any address, like the endpoint's NIC on a
// container port group) is plugged into it, and a "server" namespace at 203.0.113.130/26
// where a DHCP server can run.
type testbed struct {
	endpoint, server *testns.NS
	dir              string
}

func newTestbed(t *testing.T) *testbed {
	t.Helper()
	wire := testns.New(t, "dhcpw")
	ep := testns.New(t, "dhcpe")
	sv := testns.New(t, "dhcps")

	wire.Bridge(t, "br0")
	wire.Plug(t, "ep0", "br0", ep, "uplink")
	wire.Plug(t, "sv0", "br0", sv, "eth0", "203.0.113.130/26")
	return &testbed{endpoint: ep, server: sv, dir: t.TempDir()}
}

// startServer runs busybox udhcpd in the server namespace, leasing .150 to .160 for 10 s and
// writing its lease file every second, until stop or the end of the test.
func (tb *testbed) startServer(t *testing.T) (stop func()) {
	t.Helper()
	if out, err := exec.Command("busybox", "--list").Output(); err != nil || !bytes.Contains(out, []byte("udhcpd\n")) {
		t.Fatalf("this test needs busybox with udhcpd (apt-get install busybox-static): %v", err)
	}
	conf := filepath.Join(tb.dir, "udhcpd.conf")
	must(t, os.WriteFile(conf, []byte(fmt.Sprintf(`start 203.0.113.150
end 203.0.113.160
max_leases 11
interface eth0
lease_file %s
pidfile %s
auto_time 1
min_lease 5
opt router 203.0.113.129
opt dns 203.0.113.2
opt subnet 255.255.255.192
opt lease 10
`, tb.leaseFile(), filepath.Join(tb.dir, "udhcpd.pid"))), 0o644), "writing udhcpd.conf")
	var out testlog.Buffer
	cmd := exec.Command("ip", "netns", "exec", tb.server.Name, "busybox", "udhcpd", "-f", "-a", "100", conf)
	cmd.Stdout, cmd.Stderr = &out, &out
	must(t, cmd.Start(), "starting udhcpd")
	var once sync.Once
	stop = func() {
		once.Do(func() {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
			if t.Failed() {
				t.Logf("udhcpd said:\n%s", out.String())
			}
		})
	}
	t.Cleanup(stop)
	// udhcpd binds its socket at once; give it a moment before the first DISCOVER.
	time.Sleep(200 * time.Millisecond)
	return stop
}

func (tb *testbed) leaseFile() string { return filepath.Join(tb.dir, "udhcpd.leases") }

// serverLease is one record of udhcpd's lease file.
type serverLease struct {
	addr      netip.Addr
	remaining time.Duration
}

// serverLeases reads udhcpd's lease file: a 64-bit time stamp, then records of the seconds
// left (0 when expired or released), the address, the MAC, a 20-byte host name and 2 bytes of
// padding, all in network order.
func (tb *testbed) serverLeases(t *testing.T) map[string]serverLease {
	t.Helper()
	b, err := os.ReadFile(tb.leaseFile())
	if os.IsNotExist(err) {
		return nil
	}
	must(t, err, "reading udhcpd's lease file")
	const record = 36
	out := map[string]serverLease{}
	for b = b[min(8, len(b)):]; len(b) >= record; b = b[record:] {
		mac := net.HardwareAddr(b[8:14]).String()
		out[mac] = serverLease{
			addr:      netip.AddrFrom4([4]byte(b[4:8])),
			remaining: time.Duration(binary.BigEndian.Uint32(b[0:4])) * time.Second,
		}
	}
	return out
}

// waitServerLease waits up to 5 s for the server's record of mac to satisfy ok.
func (tb *testbed) waitServerLease(t *testing.T, mac net.HardwareAddr, ok func(serverLease, bool) bool) serverLease {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		l, found := tb.serverLeases(t)[mac.String()]
		if ok(l, found) {
			return l
		}
		if time.Now().After(deadline) {
			t.Fatalf("udhcpd's lease file never showed the expected lease for %s; last: %+v (found %v)", mac, l, found)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// client makes a Client whose sockets open in the endpoint namespace, closed when t ends.
func (tb *testbed) client(t *testing.T) *Client {
	t.Helper()
	c, err := New(Config{
		Uplink: UplinkMap(map[string]string{testPortGroup: "uplink"}),
		Logger: slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug})),
	})
	must(t, err, "making a client")
	c.open = func(ifname string) (cn net.PacketConn, err error) {
		err = tb.endpoint.Do(func() error {
			cn, err = openPacket(ifname)
			return err
		})
		return cn, err
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(b []byte) (int, error) {
	w.t.Log(strings.TrimSuffix(string(b), "\n"))
	return len(b), nil
}

func must(t *testing.T, err error, what string) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}
