package dockerwatch

import (
	"context"
	"errors"
	"log/slog"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/moby/moby/api/types/network"
	"github.com/moby/moby/client"

	"github.com/docker-vic/docker-vic/config"
	"github.com/docker-vic/docker-vic/endpoint/testlog"
)

var (
	testNetA = config.ContainerNetwork{PortGroup: "pg-a", Alias: testNetPrefix + "a", Gateway: netip.MustParsePrefix("203.0.113.225/28")}
	testNetB = config.ContainerNetwork{PortGroup: "pg-b", Alias: testNetPrefix + "b", Gateway: netip.MustParsePrefix("203.0.113.241/28")}
	// testSubnetOther is for the networks the tests make by hand.
	testSubnetOther = netip.MustParsePrefix("203.0.113.208/28")
)

// configured is a configuration of container networks a test can change between rounds.
type configured struct {
	mu  sync.Mutex
	cfg []config.ContainerNetwork
}

func (c *configured) get() []config.ContainerNetwork {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.cfg
}

func (c *configured) set(cfg ...config.ContainerNetwork) {
	c.mu.Lock()
	c.cfg = cfg
	c.mu.Unlock()
}

// testEnsurer is an ensurer with the bridge driver and the default IPAM, logging into a buffer.
func testEnsurer(api NetworkAPI, cfg ...config.ContainerNetwork) (*Ensurer, *testlog.Buffer) {
	c := &configured{cfg: cfg}
	e, logs := testEnsurerOf(api, c)
	return e, logs
}

func testEnsurerOf(api NetworkAPI, c *configured) (*Ensurer, *testlog.Buffer) {
	log, logs := testlog.New()
	e := NewEnsurer(api, "vic", c.get, nil, log)
	e.driver, e.ipamDriver = "bridge", "default"
	return e, logs
}

func ensureOnce(t *testing.T, e *Ensurer) {
	t.Helper()
	if err := e.ensure(context.Background()); err != nil {
		t.Fatalf("ensure: %v", err)
	}
}

func inspectNetwork(t *testing.T, api testDocker, name string) network.Inspect {
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
			e := NewEnsurer(nil, "vic", func() []config.ContainerNetwork { return nil }, nil, slog.New(slog.DiscardHandler))
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

func TestNetworksCreatesMissing(t *testing.T) {
	eachDocker(t, func(t *testing.T, api testDocker) {
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
	})
}

func TestNetworksSecondRoundChangesNothing(t *testing.T) {
	eachDocker(t, func(t *testing.T, api testDocker) {
		e, logs := testEnsurer(api, testNetA, testNetB)
		ensureOnce(t, e)
		idA, idB := inspectNetwork(t, api, testNetA.Alias).ID, inspectNetwork(t, api, testNetB.Alias).ID
		logs.Reset()

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
	})
}

func TestNetworksRecreatesRemoved(t *testing.T) {
	eachDocker(t, func(t *testing.T, api testDocker) {
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
	})
}

func TestNetworksLeavesConflictAlone(t *testing.T) {
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
			eachDocker(t, func(t *testing.T, api testDocker) {
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
		})
	}
}

func TestNetworksKeepsUnconfigured(t *testing.T) {
	eachDocker(t, func(t *testing.T, api testDocker) {
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
	})
}

// TestNetworksFollowTheConfiguration: each round reads the configuration again; a container
// network named otherwise gets a network of its new name, and the old one stays, reported.
func TestNetworksFollowTheConfiguration(t *testing.T) {
	eachDocker(t, func(t *testing.T, api testDocker) {
		c := &configured{cfg: []config.ContainerNetwork{testNetA}}
		e, logs := testEnsurerOf(api, c)
		ensureOnce(t, e)
		idA := inspectNetwork(t, api, testNetA.Alias).ID

		renamed := testNetA
		renamed.Alias = testNetPrefix + "a2"
		c.set(renamed, testNetB)
		logs.Reset()
		// The renamed network keeps its subnet, which Docker refuses to give twice: it is
		// created once the old one is removed.
		ensureOnce(t, e)
		inspectNetwork(t, api, testNetB.Alias)
		if got := inspectNetwork(t, api, testNetA.Alias).ID; got != idA {
			t.Errorf("network %s of a renamed container network changed from %s to %s", testNetA.Alias, idA, got)
		}
		w := warnings(logs.String(), "network="+testNetA.Alias+" ")
		if len(w) != 1 || !strings.Contains(w[0], "now named otherwise") || !strings.Contains(w[0], "now="+renamed.Alias) {
			t.Errorf("want one warning naming %s and its new name, got:\n%s", testNetA.Alias, logs)
		}

		if _, err := api.NetworkRemove(context.Background(), idA, client.NetworkRemoveOptions{}); err != nil {
			t.Fatal(err)
		}
		ensureOnce(t, e)
		if n := inspectNetwork(t, api, renamed.Alias); n.Labels[optionPortGroup] != renamed.PortGroup {
			t.Errorf("network %s has labels %v, want port group %s", renamed.Alias, n.Labels, renamed.PortGroup)
		}
	})
}

func TestNetworksRetriesFailedCreate(t *testing.T) {
	eachDocker(t, func(t *testing.T, api testDocker) {
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
	})
}

// pingFailing makes the first fails pings fail, as before Docker starts.
type pingFailing struct {
	NetworkAPI
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
	return p.NetworkAPI.Ping(ctx, o)
}

// runEnsurer runs e until the test ends.
func runEnsurer(t *testing.T, e *Ensurer, interval time.Duration) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		e.Run(ctx, interval)
	}()
	t.Cleanup(func() { cancel(); <-done })
}

// waitForLog polls logs until it holds s, for at most timeout.
func waitForLog(t *testing.T, logs *testlog.Buffer, s string, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !strings.Contains(logs.String(), s) {
		if time.Now().After(deadline) {
			t.Fatalf("no %q after %s:\n%s", s, timeout, logs)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestNetworksRunWaitsForDocker(t *testing.T) {
	eachDocker(t, func(t *testing.T, api testDocker) {
		e, logs := testEnsurer(&pingFailing{NetworkAPI: api, fails: 3}, testNetA)
		runEnsurer(t, e, time.Hour)
		waitForLog(t, logs, "created the docker network", 15*time.Second)

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
	})
}

// TestNetworksRunWaitsAgainWhenDockerStops: when Docker stops answering, Run waits for it
// again, quietly, and then puts back what was removed meanwhile.
func TestNetworksRunWaitsAgainWhenDockerStops(t *testing.T) {
	api := newFakeDocker()
	e, logs := testEnsurer(api, testNetA)
	runEnsurer(t, e, 100*time.Millisecond)
	waitForLog(t, logs, "created the docker network", 5*time.Second)

	if err := api.setDown(true); err != nil {
		t.Fatal(err)
	}
	waitForLog(t, logs, "docker stopped answering", 5*time.Second)
	waitForLog(t, logs, "docker does not answer yet", 5*time.Second)
	if _, err := api.NetworkRemove(context.Background(), testNetA.Alias, client.NetworkRemoveOptions{}); err != nil {
		t.Fatal(err)
	}
	down := logs.Reset()
	if err := api.setDown(false); err != nil {
		t.Fatal(err)
	}
	waitForLog(t, logs, "created the docker network", 5*time.Second)

	out := logs.String()
	if got := strings.Count(out, "level=INFO msg=\"docker answers"); got != 1 {
		t.Errorf("logged %d info lines for docker answering again, want 1:\n%s", got, out)
	}
	if w := warnings(down+out, ""); len(w) > 0 {
		t.Errorf("docker stopping logged warnings: %v", w)
	}
}
