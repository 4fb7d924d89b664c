package main

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net/netip"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/moby/moby/api/types/network"
	"github.com/moby/moby/client"

	"github.com/docker-vic/docker-vic/config"
)

// These tests drive the real Docker engine of the machine with its own bridge driver and
// default IPAM (the vic plugin need not run): the networks they make are named testNetPrefix*,
// on subnets of 203.0.113.192/26, and removed before and after each test.
const testNetPrefix = "vic-cn-test-"

var (
	testNetA = config.ContainerNetwork{PortGroup: "pg-a", Alias: testNetPrefix + "a", Gateway: netip.MustParsePrefix("203.0.113.225/28")}
	testNetB = config.ContainerNetwork{PortGroup: "pg-b", Alias: testNetPrefix + "b", Gateway: netip.MustParsePrefix("203.0.113.241/28")}
	// testSubnetOther is for the networks the tests make by hand.
	testSubnetOther = netip.MustParsePrefix("203.0.113.208/28")
)

// dockerForTest returns a client of the machine's Docker, skipping when it does not answer
// unless VIC_REQUIRE_PRIVILEGED=1, and removes the test networks before and after the test.
func dockerForTest(t *testing.T) *client.Client {
	t.Helper()
	api, err := client.New(client.FromEnv, client.WithAPIVersionNegotiation())
	if err == nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		_, err = api.Ping(ctx, client.PingOptions{})
		cancel()
	}
	if err != nil {
		if os.Getenv("VIC_REQUIRE_PRIVILEGED") == "1" {
			t.Fatalf("docker does not answer and VIC_REQUIRE_PRIVILEGED=1: %v", err)
		}
		t.Skipf("docker does not answer: %v", err)
	}
	removeTestNetworks(t, api)
	t.Cleanup(func() {
		removeTestNetworks(t, api)
		api.Close()
	})
	return api
}

func removeTestNetworks(t *testing.T, api *client.Client) {
	t.Helper()
	ctx := context.Background()
	res, err := api.NetworkList(ctx, client.NetworkListOptions{Filters: make(client.Filters).Add("name", testNetPrefix)})
	if err != nil {
		t.Fatalf("listing the test networks: %v", err)
	}
	for _, n := range res.Items {
		if !strings.HasPrefix(n.Name, testNetPrefix) {
			continue
		}
		if _, err := api.NetworkRemove(ctx, n.ID, client.NetworkRemoveOptions{}); err != nil {
			t.Errorf("removing test network %q: %v", n.Name, err)
		}
	}
}

// syncBuffer is a log sink safe for the ensurer's goroutine and the test reading it.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// reset returns what was logged so far and forgets it.
func (b *syncBuffer) reset() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	s := b.buf.String()
	b.buf.Reset()
	return s
}

// testEnsurer is an ensurer with the bridge driver and the default IPAM, logging into a buffer.
func testEnsurer(api networkAPI, cfg ...config.ContainerNetwork) (*networkEnsurer, *syncBuffer) {
	logs := &syncBuffer{}
	log := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	return newNetworkEnsurer(api, "bridge", "default", cfg, log), logs
}

func ensureOnce(t *testing.T, e *networkEnsurer) {
	t.Helper()
	if err := e.ensure(context.Background()); err != nil {
		t.Fatalf("ensure: %v", err)
	}
}

func inspectNetwork(t *testing.T, api *client.Client, name string) network.Inspect {
	t.Helper()
	res, err := api.NetworkInspect(context.Background(), name, client.NetworkInspectOptions{})
	if err != nil {
		t.Fatalf("inspecting network %q: %v", name, err)
	}
	if res.Network.Name != name {
		t.Fatalf("inspecting network %q found %q", name, res.Network.Name)
	}
	return res.Network
}

// warnings returns the warn-level lines of logs that mention s.
func warnings(logs, s string) []string {
	var out []string
	for _, l := range strings.Split(logs, "\n") {
		if strings.Contains(l, "level=WARN") && strings.Contains(l, s) {
			out = append(out, l)
		}
	}
	return out
}

func TestContainerNetworkCreateOptions(t *testing.T) {
	pgOpts := map[string]string{optionPortGroup: "pg"}
	tests := []struct {
		name string
		cn   config.ContainerNetwork
		ipam []network.IPAMConfig
	}{
		{"dhcp", config.ContainerNetwork{PortGroup: "pg", Alias: "lan"}, nil},
		{"static", config.ContainerNetwork{PortGroup: "pg", Alias: "lan", Gateway: netip.MustParsePrefix("198.51.100.1/24")},
			[]network.IPAMConfig{{Subnet: netip.MustParsePrefix("198.51.100.0/24"), Gateway: netip.MustParseAddr("198.51.100.1")}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newNetworkEnsurer(nil, vicDriver, vicDriver, nil, slog.New(slog.DiscardHandler))
			got := e.createOptions(tc.cn)
			if got.Driver != "vic" || got.IPAM.Driver != "vic" {
				t.Errorf("drivers = %q, IPAM %q; want vic, vic", got.Driver, got.IPAM.Driver)
			}
			for what, m := range map[string]map[string]string{"options": got.Options, "labels": got.Labels, "IPAM options": got.IPAM.Options} {
				if len(m) != 1 || m[optionPortGroup] != "pg" {
					t.Errorf("%s = %v, want %v", what, m, pgOpts)
				}
			}
			if len(got.IPAM.Config) != len(tc.ipam) || (len(tc.ipam) == 1 && (got.IPAM.Config[0].Subnet != tc.ipam[0].Subnet || got.IPAM.Config[0].Gateway != tc.ipam[0].Gateway)) {
				t.Errorf("IPAM config = %+v, want %+v", got.IPAM.Config, tc.ipam)
			}
		})
	}
}

func TestContainerNetworksCreatesMissing(t *testing.T) {
	api := dockerForTest(t)
	e, logs := testEnsurer(api, testNetA, testNetB)
	ensureOnce(t, e)

	for _, cn := range []config.ContainerNetwork{testNetA, testNetB} {
		n := inspectNetwork(t, api, cn.Alias)
		if n.Driver != "bridge" || n.IPAM.Driver != "default" {
			t.Errorf("%s: driver %q, IPAM %q; want bridge, default", cn.Alias, n.Driver, n.IPAM.Driver)
		}
		if n.Labels[optionPortGroup] != cn.PortGroup || n.Options[optionPortGroup] != cn.PortGroup || n.IPAM.Options[optionPortGroup] != cn.PortGroup {
			t.Errorf("%s: label %v, options %v, IPAM options %v; want the port group %q in each", cn.Alias, n.Labels, n.Options, n.IPAM.Options, cn.PortGroup)
		}
		want := network.IPAMConfig{Subnet: cn.Gateway.Masked(), Gateway: cn.Gateway.Addr()}
		if len(n.IPAM.Config) != 1 || n.IPAM.Config[0].Subnet != want.Subnet || n.IPAM.Config[0].Gateway != want.Gateway {
			t.Errorf("%s: IPAM config %+v, want %+v", cn.Alias, n.IPAM.Config, want)
		}
	}
	if got := strings.Count(logs.String(), "created the docker network"); got != 2 {
		t.Errorf("logged %d creations, want 2:\n%s", got, logs)
	}
	if w := warnings(logs.String(), ""); len(w) > 0 {
		t.Errorf("unexpected warnings: %v", w)
	}
}

func TestContainerNetworksSecondRoundChangesNothing(t *testing.T) {
	api := dockerForTest(t)
	e, logs := testEnsurer(api, testNetA, testNetB)
	ensureOnce(t, e)
	idA, idB := inspectNetwork(t, api, testNetA.Alias).ID, inspectNetwork(t, api, testNetB.Alias).ID
	logs.reset()

	ensureOnce(t, e)
	if got := inspectNetwork(t, api, testNetA.Alias).ID; got != idA {
		t.Errorf("network %s changed from %s to %s", testNetA.Alias, idA, got)
	}
	if got := inspectNetwork(t, api, testNetB.Alias).ID; got != idB {
		t.Errorf("network %s changed from %s to %s", testNetB.Alias, idB, got)
	}
	second := logs.String()
	if strings.Contains(second, "level=INFO") || strings.Contains(second, "level=WARN") {
		t.Errorf("a round with nothing to do logged above debug:\n%s", second)
	}
	if !strings.Contains(second, "is in place") {
		t.Errorf("no debug line for the networks in place:\n%s", second)
	}
}

func TestContainerNetworksRecreatesRemoved(t *testing.T) {
	api := dockerForTest(t)
	e, _ := testEnsurer(api, testNetA)
	ensureOnce(t, e)
	old := inspectNetwork(t, api, testNetA.Alias).ID
	if _, err := api.NetworkRemove(context.Background(), old, client.NetworkRemoveOptions{}); err != nil {
		t.Fatal(err)
	}

	ensureOnce(t, e)
	n := inspectNetwork(t, api, testNetA.Alias)
	if n.ID == old {
		t.Errorf("network %s still has the removed ID %s", testNetA.Alias, old)
	}
	if n.Labels[optionPortGroup] != testNetA.PortGroup {
		t.Errorf("recreated network has labels %v", n.Labels)
	}
}

func TestContainerNetworksLeavesConflictAlone(t *testing.T) {
	tests := []struct {
		name   string
		driver string // of the ensurer; the network made by hand is a bridge
		label  string // port group label of the network made by hand
		want   string // in the warning
	}{
		{"other port group", "bridge", "pg-other", `portgroup=pg-other expected=pg-a`},
		{"other driver", "macvlan", "pg-a", `driver=bridge portgroup=pg-a expected="macvlan on port group pg-a"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			api := dockerForTest(t)
			res, err := api.NetworkCreate(context.Background(), testNetA.Alias, client.NetworkCreateOptions{
				Driver: "bridge",
				IPAM:   &network.IPAM{Config: []network.IPAMConfig{{Subnet: testSubnetOther}}},
				Labels: map[string]string{optionPortGroup: tc.label},
			})
			if err != nil {
				t.Fatal(err)
			}
			e, logs := testEnsurer(api, testNetA)
			e.driver = tc.driver
			ensureOnce(t, e)
			ensureOnce(t, e)

			n := inspectNetwork(t, api, testNetA.Alias)
			if n.ID != res.ID || n.Labels[optionPortGroup] != tc.label || n.IPAM.Config[0].Subnet != testSubnetOther {
				t.Errorf("the network made by hand changed: id %s (was %s), labels %v, IPAM %+v", n.ID, res.ID, n.Labels, n.IPAM.Config)
			}
			all, err := api.NetworkList(context.Background(), client.NetworkListOptions{Filters: make(client.Filters).Add("name", testNetA.Alias)})
			if err != nil || len(all.Items) != 1 {
				t.Errorf("networks named %s: %d (%v), want only the one made by hand", testNetA.Alias, len(all.Items), err)
			}
			w := warnings(logs.String(), "network="+testNetA.Alias)
			if len(w) != 1 || !strings.Contains(w[0], tc.want) {
				t.Errorf("want one warning naming %s with %s over two rounds, got:\n%s", testNetA.Alias, tc.want, logs)
			}
		})
	}
}

func TestContainerNetworksKeepsUnconfigured(t *testing.T) {
	api := dockerForTest(t)
	before, _ := testEnsurer(api, testNetA, testNetB)
	ensureOnce(t, before)
	idB := inspectNetwork(t, api, testNetB.Alias).ID

	after, logs := testEnsurer(api, testNetA)
	ensureOnce(t, after)
	if got := inspectNetwork(t, api, testNetB.Alias).ID; got != idB {
		t.Errorf("network %s of a port group no longer configured changed from %s to %s", testNetB.Alias, idB, got)
	}
	w := warnings(logs.String(), "network="+testNetB.Alias)
	if len(w) != 1 || !strings.Contains(w[0], "no longer") || !strings.Contains(w[0], "portgroup=pg-b") {
		t.Errorf("want one warning naming %s and its port group, got:\n%s", testNetB.Alias, logs)
	}
}

func TestContainerNetworksRetriesFailedCreate(t *testing.T) {
	api := dockerForTest(t)
	// The default IPAM refuses a subnet overlapping testNetA's.
	overlap := config.ContainerNetwork{PortGroup: "pg-c", Alias: testNetPrefix + "c", Gateway: netip.MustParsePrefix("203.0.113.225/29")}
	e, logs := testEnsurer(api, testNetA, overlap)
	ensureOnce(t, e)
	ensureOnce(t, e)

	inspectNetwork(t, api, testNetA.Alias)
	if _, err := api.NetworkInspect(context.Background(), overlap.Alias, client.NetworkInspectOptions{}); err == nil {
		t.Fatalf("network %s was created over %s", overlap.Alias, testNetA.Alias)
	}
	w := warnings(logs.String(), "network="+overlap.Alias)
	if len(w) != 1 || !strings.Contains(w[0], "creating the docker network") {
		t.Errorf("want one warning naming %s over two rounds, got:\n%s", overlap.Alias, logs)
	}
	if got := strings.Count(logs.String(), "level=DEBUG msg=\"creating the docker network"); got != 1 {
		t.Errorf("the second failure logged %d debug lines, want 1:\n%s", got, logs)
	}
}

// pingFailing makes the first fails pings fail, as before Docker starts.
type pingFailing struct {
	networkAPI
	mu    sync.Mutex
	fails int
}

func (p *pingFailing) Ping(ctx context.Context, o client.PingOptions) (client.PingResult, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.fails > 0 {
		p.fails--
		return client.PingResult{}, errors.New("cannot connect to the docker daemon")
	}
	return p.networkAPI.Ping(ctx, o)
}

func TestContainerNetworksRunWaitsForDocker(t *testing.T) {
	api := dockerForTest(t)
	e, logs := testEnsurer(&pingFailing{networkAPI: api, fails: 3}, testNetA)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		e.run(ctx, time.Hour)
	}()
	defer func() { cancel(); <-done }()

	deadline := time.Now().Add(15 * time.Second)
	for !strings.Contains(logs.String(), "created the docker network") {
		if time.Now().After(deadline) {
			t.Fatalf("no network after 15 s:\n%s", logs)
		}
		time.Sleep(100 * time.Millisecond)
	}
	inspectNetwork(t, api, testNetA.Alias)
	out := logs.String()
	if got := strings.Count(out, "docker does not answer yet"); got != 3 {
		t.Errorf("logged %d failed pings, want 3:\n%s", got, out)
	}
	if got := strings.Count(out, "level=INFO msg=\"docker answers"); got != 1 {
		t.Errorf("logged %d info lines for docker answering, want 1:\n%s", got, out)
	}
	if w := warnings(out, ""); len(w) > 0 {
		t.Errorf("waiting for docker logged warnings: %v", w)
	}
}

func TestContainerNetworksRunStopsWithoutDocker(t *testing.T) {
	api, err := client.New(client.WithHost("unix://" + t.TempDir() + "/no-docker.sock"))
	if err != nil {
		t.Fatal(err)
	}
	defer api.Close()
	e, logs := testEnsurer(api, testNetA)
	ctx, cancel := context.WithTimeout(context.Background(), 1500*time.Millisecond)
	defer cancel()
	e.run(ctx, time.Hour) // returns when ctx ends

	out := logs.String()
	if strings.Contains(out, "level=INFO") || strings.Contains(out, "level=WARN") {
		t.Errorf("waiting for docker logged above debug:\n%s", out)
	}
	if got := strings.Count(out, "docker does not answer yet"); got < 2 || got > 4 {
		t.Errorf("%d pings in 1.5 s, want a backoff of 2 to 4:\n%s", got, out)
	}
}
