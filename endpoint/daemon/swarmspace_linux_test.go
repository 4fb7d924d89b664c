package daemon

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/docker/go-plugins-helpers/ipam"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/network"
	"github.com/moby/moby/api/types/swarm"
	"github.com/moby/moby/client"

	"github.com/docker-vic/docker-vic/config"
	"github.com/docker-vic/docker-vic/ipamdriver"
	"github.com/docker-vic/docker-vic/netdriver"
)

// fakeSwarm answers as an engine of a swarm whose role the test sets. The real engine's
// answers are checked by scripts/e2e-swarm.sh (scripts/e2e/swarm/managers.sh).
type fakeSwarm struct {
	leads, down bool
}

func (f *fakeSwarm) Info(context.Context, client.InfoOptions) (client.SystemInfoResult, error) {
	var res client.SystemInfoResult
	if f.down {
		return res, errors.New("docker does not answer")
	}
	res.Info.Swarm = swarm.Info{NodeID: "n1", LocalNodeState: swarm.LocalNodeStateActive, ControlAvailable: true}
	return res, nil
}

func (f *fakeSwarm) NodeInspect(context.Context, string, client.NodeInspectOptions) (client.NodeInspectResult, error) {
	var res client.NodeInspectResult
	res.Node.ManagerStatus = &swarm.ManagerStatus{Leader: f.leads}
	return res, nil
}

func (f *fakeSwarm) Ping(context.Context, client.PingOptions) (client.PingResult, error) {
	if f.down {
		return client.PingResult{}, errors.New("docker does not answer")
	}
	return client.PingResult{}, nil
}

// fakeLife counts what the network driver is told of the engine's restarts.
type fakeLife struct {
	starts, answers int
	running         map[string]bool // the last EngineAnswers's
}

func (f *fakeLife) EngineStarts(context.Context) (netdriver.Forgotten, error) {
	f.starts++
	return netdriver.Forgotten{}, nil
}

func (f *fakeLife) EngineAnswers(_ context.Context, running map[string]bool) (netdriver.Forgotten, error) {
	f.answers++
	f.running = running
	return netdriver.Forgotten{}, nil
}

func (f *fakeLife) Snapshot(context.Context) ([]netdriver.Network, []netdriver.Endpoint, error) {
	return nil, nil, nil
}

// swarmPools returns the driver's pools of the swarm's space.
func swarmPools(t *testing.T, d *ipamdriver.Driver) []ipamdriver.Pool {
	t.Helper()
	pools, err := d.Pools(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var out []ipamdriver.Pool
	for _, p := range pools {
		if p.Swarm {
			out = append(out, p)
		}
	}
	return out
}

func TestRoleWatchFollowsTheEnginesRole(t *testing.T) {
	ctx := context.Background()
	cfg := config.New("vch1")
	cfg.ApplyDefaults()
	ipd, err := ipamdriver.New(cfg, ipamdriver.NewMemStore(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ipd.RequestPool(ctx, &ipam.RequestPoolRequest{AddressSpace: ipamdriver.GlobalAddressSpace}); err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	api := &fakeSwarm{down: true}

	// The plugin starts with its engine, which does not answer yet: the pool is stale, and
	// the network driver is told.
	life := &fakeLife{}
	if !startWithEngine(ctx, api, ipd, life, log) || life.starts != 1 {
		t.Fatalf("a start with the engine was not seen as one, or not told: %+v", life)
	}
	if p := swarmPools(t, ipd); len(p) != 1 || !p[0].Stale {
		t.Fatalf("after a start with the engine, the swarm's pools = %+v, want one stale", p)
	}

	w := &roleWatch{api: api, ipd: ipd, grace: time.Minute, log: log}
	now := time.Now()
	w.round(ctx, now) // docker does not answer: nothing changes
	api.down, api.leads = false, true
	w.round(ctx, now)
	w.round(ctx, now.Add(30*time.Second))
	if p := swarmPools(t, ipd); len(p) != 1 || !p[0].Stale {
		t.Fatalf("leading for 30 s, the swarm's pools = %+v, want one still stale", p)
	}
	w.round(ctx, now.Add(time.Minute))
	if p := swarmPools(t, ipd); len(p) != 1 || p[0].Stale {
		t.Fatalf("leading for a minute, the swarm's pools = %+v, want one kept", p)
	}

	// A plugin started again on a running engine leaves the pools as they are.
	if startWithEngine(ctx, api, ipd, life, log) || life.starts != 1 {
		t.Fatalf("a start on a running engine was taken for one with the engine: %+v", life)
	}
	if p := swarmPools(t, ipd); len(p) != 1 || p[0].Stale {
		t.Fatalf("after a start on a running engine, the swarm's pools = %+v, want one not stale", p)
	}

	api.leads = false
	w.round(ctx, now.Add(2*time.Minute))
	if p := swarmPools(t, ipd); len(p) != 0 {
		t.Fatalf("following, the swarm's pools = %+v, want none", p)
	}
}

// fakeContainers is an engine that answers and runs containers, on networks with endpoints.
type fakeContainers struct {
	fakeSwarm
	items []container.Summary
}

func (f *fakeContainers) ContainerList(context.Context, client.ContainerListOptions) (client.ContainerListResult, error) {
	return client.ContainerListResult{Items: f.items}, nil
}

// Once the engine answers, the network driver hears which endpoints its running containers have.
func TestEngineAnsweredReadsTheRunningEndpoints(t *testing.T) {
	api := &fakeContainers{items: []container.Summary{
		{ID: "c1", NetworkSettings: &container.NetworkSettingsSummary{Networks: map[string]*network.EndpointSettings{
			"web": {EndpointID: "e1"}, "other": {EndpointID: "e2"}}}},
		{ID: "c2"}, // host network: no settings
	}}
	life := &fakeLife{}
	engineAnswered(context.Background(), api, life, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if life.answers != 1 || len(life.running) != 2 || !life.running["e1"] || !life.running["e2"] {
		t.Fatalf("the driver was told %d times, running %v; want once, e1 and e2", life.answers, life.running)
	}
}
