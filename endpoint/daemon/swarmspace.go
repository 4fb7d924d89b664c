//go:build linux

package daemon

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/moby/moby/api/types/swarm"
	"github.com/moby/moby/client"

	"github.com/docker-vic/docker-vic/endpoint/dockerwatch"
	"github.com/docker-vic/docker-vic/ipamdriver"
	"github.com/docker-vic/docker-vic/netdriver"
)

// In a swarm, the vic IPAM driver's swarm space must hold what the allocator of the swarm's
// leader asked for, and nothing else (ipamdriver/swarm.go). The daemon tells the driver what
// its engine is: a plugin starting with its engine marks the space stale (startWithEngine), an
// engine that does not lead the swarm forgets it, and one that has led for swarmGrace keeps
// what it holds.

// Bounds of the watch of the engine's role in the swarm.
const (
	// swarmStartProbe is how long a starting plugin waits for Docker's answer: an engine that
	// answers has been running, and its allocator, if it leads, still holds what it asked for.
	swarmStartProbe = time.Second
	// swarmGrace is how long the engine leads before the stale marks left are cleared: its
	// allocator asks again for everything at once when the engine becomes the leader.
	swarmGrace = time.Minute
)

// swarmAPI is the part of Docker's API that tells whether the engine leads its swarm.
type swarmAPI interface {
	Info(ctx context.Context, options client.InfoOptions) (client.SystemInfoResult, error)
	NodeInspect(ctx context.Context, nodeID string, options client.NodeInspectOptions) (client.NodeInspectResult, error)
	Ping(ctx context.Context, options client.PingOptions) (client.PingResult, error)
}

// engineLife is the part of the network driver told about the engine's restarts
// (netdriver/past.go).
type engineLife interface {
	EngineStarts(ctx context.Context) (netdriver.Forgotten, error)
	EngineAnswers(ctx context.Context, running map[string]bool) (netdriver.Forgotten, error)
	Snapshot(ctx context.Context) ([]netdriver.Network, []netdriver.Endpoint, error)
}

// startWithEngine tells both drivers, when the plugin of a swarm node starts with its engine,
// that what they hold is from the engine's last life, and reports whether it did. The engine
// does not answer yet then: it enables its plugins before it serves its API. The swarm's space
// is marked stale, its allocator may have stopped; so is the node's own, whose swarm networks
// the engine asks for again (ipamdriver.StaleLocal); the network driver forgets the endpoints
// whose containers are gone and the networks left without any (netdriver.EngineStarts). A
// plugin started again on a running engine, holding nothing, or without a Docker client leaves
// all as it is.
func startWithEngine(ctx context.Context, api swarmAPI, ipd *ipamdriver.Driver, nd engineLife, log *slog.Logger) bool {
	pools, err := ipd.Pools(ctx)
	nets, _, nerr := nd.Snapshot(ctx)
	if err == nil && nerr == nil && len(pools) == 0 && len(nets) == 0 {
		return false
	}
	if api == nil {
		return false // no Docker client: no telling, and no asking it later
	}
	pctx, cancel := context.WithTimeout(ctx, swarmStartProbe)
	_, err = api.Ping(pctx, client.PingOptions{})
	cancel()
	if err == nil {
		return false
	}
	switch n, err := ipd.StaleSwarm(ctx); {
	case err != nil:
		log.Warn("marking the swarm's pools stale failed", "error", err)
	case n > 0:
		log.Info("the engine starts: the swarm's pools held before are stale until the swarm's allocator asks for them again", "pools", n)
	}
	switch n, err := ipd.StaleLocal(ctx); {
	case err != nil:
		log.Warn("marking the node's pools stale failed", "error", err)
	case n > 0:
		log.Info("the engine starts: the node's pools held before are stale and give way when the engine asks for their networks again", "pools", n)
	}
	f, err := nd.EngineStarts(ctx)
	logForgotten(log, "the engine starts", f, err)
	return true
}

// containerReader is the part of Docker's API that says which endpoints its running
// containers have.
type containerReader interface {
	dockerwatch.Pinger
	ContainerList(ctx context.Context, options client.ContainerListOptions) (client.ContainerListResult, error)
}

// engineAnswered ends the engine's past in the network driver once the engine that started with
// the plugin answers, from the endpoints of the containers it runs (netdriver.EngineAnswers),
// trying again until it succeeds or ctx ends.
func engineAnswered(ctx context.Context, api containerReader, nd engineLife, log *slog.Logger) {
	for {
		if !dockerwatch.WaitForDocker(ctx, api, log) {
			return
		}
		running, err := runningEndpoints(ctx, api)
		if err == nil {
			var f netdriver.Forgotten
			f, err = nd.EngineAnswers(ctx, running)
			logForgotten(log, "the engine answers", f, err)
			if err == nil {
				return
			}
		} else {
			log.Warn("the engine answers: reading its running containers failed: retrying", "error", err, "retry", rebuildRetry)
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(rebuildRetry):
		}
	}
}

// runningEndpoints reads the endpoint IDs of the containers Docker runs, on any network.
func runningEndpoints(ctx context.Context, api containerReader) (map[string]bool, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	list, err := api.ContainerList(ctx, client.ContainerListOptions{})
	if err != nil {
		return nil, err
	}
	running := map[string]bool{}
	for _, c := range list.Items {
		if c.NetworkSettings == nil {
			continue
		}
		for _, es := range c.NetworkSettings.Networks {
			if es != nil && es.EndpointID != "" {
				running[es.EndpointID] = true
			}
		}
	}
	return running, nil
}

// logForgotten says what the network driver forgot of the engine's last life, when.
func logForgotten(log *slog.Logger, when string, f netdriver.Forgotten, err error) {
	switch {
	case err != nil:
		log.Warn(when+": forgetting the endpoints and networks of its last life failed in part", "error", err)
	case f != (netdriver.Forgotten{}):
		log.Info(when+": forgot the endpoints of its last life whose containers are gone, and the networks left without endpoints",
			"endpoints", f.Endpoints, "networks", f.Networks)
	}
}

// leadsSwarm reports whether the engine is the leader of its swarm.
func leadsSwarm(ctx context.Context, api swarmAPI) (bool, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	res, err := api.Info(ctx, client.InfoOptions{})
	if err != nil {
		return false, fmt.Errorf("asking docker for its swarm: %w", err)
	}
	s := res.Info.Swarm
	if s.LocalNodeState != swarm.LocalNodeStateActive || !s.ControlAvailable {
		return false, nil
	}
	n, err := api.NodeInspect(ctx, s.NodeID, client.NodeInspectOptions{})
	if err != nil {
		return false, fmt.Errorf("asking docker whether node %s leads the swarm: %w", s.NodeID, err)
	}
	return n.Node.ManagerStatus != nil && n.Node.ManagerStatus.Leader, nil
}

// watchSwarmRole keeps the swarm space of ipd in step with the engine's role every interval
// until ctx ends (roleWatch).
func watchSwarmRole(ctx context.Context, api swarmAPI, ipd *ipamdriver.Driver, interval time.Duration, log *slog.Logger) {
	w := &roleWatch{api: api, ipd: ipd, grace: swarmGrace, log: log}
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		w.round(ctx, time.Now())
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// roleWatch tells the vic IPAM driver the engine's role in the swarm, one round at a time:
// while the engine does not lead, the driver forgets the swarm's space; once it has led for
// grace, the driver keeps what it holds.
type roleWatch struct {
	api   swarmAPI
	ipd   *ipamdriver.Driver
	grace time.Duration
	log   *slog.Logger
	// since is when the engine was seen leading first, this time; zero while it does not.
	since time.Time
}

// round asks Docker for the engine's role at now and tells the driver.
func (w *roleWatch) round(ctx context.Context, now time.Time) {
	fence := w.ipd.SwarmRequests()
	leads, err := leadsSwarm(ctx, w.api)
	switch {
	case ctx.Err() != nil:
	case err != nil:
		w.log.Debug("the engine's role in the swarm is unknown this round", "error", err)
	case !leads:
		w.since = time.Time{}
		if n, err := w.ipd.ForgetSwarm(ctx, fence); err != nil {
			w.log.Warn("forgetting the swarm's pools failed", "error", err)
		} else if n > 0 {
			w.log.Info("the engine does not lead the swarm: forgot the swarm's pools, which its leader holds", "pools", n)
		}
	case w.since.IsZero():
		w.since = now
		w.log.Debug("the engine leads the swarm")
	case now.Sub(w.since) >= w.grace:
		if n, err := w.ipd.KeepSwarm(ctx); err != nil {
			w.log.Warn("keeping the swarm's pools failed", "error", err)
		} else if n > 0 {
			w.log.Info("the swarm's allocator did not ask again for all the swarm's pools held before: they are kept", "pools", n)
		}
	}
}
