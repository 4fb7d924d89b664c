//go:build linux

package daemon

import (
	"context"
	"fmt"
	"log/slog"
	"net/netip"
	"time"

	"github.com/moby/moby/client"

	"github.com/docker-vic/docker-vic/endpoint/dockerwatch"
	"github.com/docker-vic/docker-vic/endpoint/statedb"
	"github.com/docker-vic/docker-vic/ipamdriver"
)

// A state database that is missing, empty, damaged or half rebuilt cannot be trusted: on its
// word the drivers would remove every link and rule they own and hand out the subnets and
// addresses of running containers again. The daemon then leaves the kernel alone, keeps the
// gate closed (gate.go), and rebuilds the state from what exists: Docker's networks and the
// endpoints of its running containers (addresses, MACs, sandboxes, -p bindings), the host
// ports the kernel's port maps show for -p C and ranges, and, from those, the pools and leases.
// When Docker answers at start, the rebuild is done before the socket is served; otherwise
// (at boot Docker starts after the daemon) it is done as soon as Docker answers.

// Bounds of the rebuild: the probe at start, and the wait between two attempts.
const (
	startProbe   = 2 * time.Second
	rebuildRetry = 5 * time.Second
)

// dockerAPI is the part of Docker's API a rebuild uses.
type dockerAPI interface {
	dockerwatch.Pinger
	dockerwatch.StateReader
}

// rebuilder rebuilds the drivers' state from Docker and the kernel.
type rebuilder struct {
	st  *statedb.DB
	d   *drivers
	api dockerAPI // nil: no Docker client, no rebuild
	// swarm, set in a swarm (--swarm), reads the swarm's pools when the engine leads it.
	swarm  swarmReader
	driver string // the name Docker knows the drivers by
	public netip.Addr
	gate   *gate
	log    *slog.Logger
}

// dockerAnswers reports whether Docker answers within startProbe.
func dockerAnswers(ctx context.Context, api dockerwatch.Pinger) bool {
	ctx, cancel := context.WithTimeout(ctx, startProbe)
	defer cancel()
	_, err := api.Ping(ctx, client.PingOptions{})
	return err == nil
}

// run rebuilds the state once Docker answers, trying again until it succeeds or ctx ends.
func (r *rebuilder) run(ctx context.Context) {
	if r.api == nil {
		return
	}
	for {
		select {
		case <-r.gate.Opened():
			return
		default:
		}
		if !dockerwatch.WaitForDocker(ctx, r.api, r.log) {
			return
		}
		err := r.rebuild(ctx)
		if err == nil || ctx.Err() != nil {
			return
		}
		r.log.Warn("rebuilding the state failed: retrying", "error", err, "retry", rebuildRetry)
		select {
		case <-ctx.Done():
			return
		case <-time.After(rebuildRetry):
		}
	}
}

// rebuild reads Docker and the kernel, then, with requests held at the gate, replaces the
// state of both drivers, programs the kernel without removing anything it does not know,
// records the state as whole and opens the gate. A backup of the rebuilt state follows.
func (r *rebuilder) rebuild(ctx context.Context) error {
	start := time.Now()
	published, err := r.d.firewall.Published()
	if err != nil {
		return err
	}
	found, err := dockerwatch.ReadState(ctx, r.api, r.driver, published, r.public)
	if err != nil {
		return err
	}
	for _, p := range found.Problems {
		r.log.Warn("a published port is rebuilt on another host port", "problem", p)
	}
	nets, eps, pools := found.Drivers()
	swarmPools, err := r.swarmPools(ctx)
	if err != nil {
		return err
	}
	pools = append(pools, swarmPools...)
	err = r.gate.open(ctx, r.log, func() error {
		skipped, err := r.d.ipd.Rebuild(ctx, pools)
		if err != nil {
			return err
		}
		more, err := r.d.nd.Rebuild(ctx, nets, eps)
		if err != nil {
			return err
		}
		for _, s := range append(skipped, more...) {
			r.log.Warn("left out of the rebuilt state", "error", s)
		}
		r.d.restore(ctx, false, r.log)
		return r.st.Rebuilt()
	})
	if err != nil {
		return fmt.Errorf("rebuilding the state: %w", err)
	}
	r.log.Info("rebuilt the state from docker and the kernel", "networks", len(nets), "endpoints", len(eps),
		"pools", len(pools), "duration", time.Since(start).Round(time.Millisecond))
	backup(r.st, r.log)
	return nil
}

// swarmReader is the part of Docker's API that a rebuild of the swarm's pools reads.
type swarmReader interface {
	swarmAPI
	dockerwatch.SwarmReader
}

// swarmPools reads the pools of the swarm's space when the engine leads the swarm: its
// allocator holds their IDs, and asks for nothing again. Another engine's plugin holds none.
func (r *rebuilder) swarmPools(ctx context.Context) ([]ipamdriver.FoundNetwork, error) {
	if r.swarm == nil {
		return nil, nil
	}
	leads, err := leadsSwarm(ctx, r.swarm)
	if err != nil || !leads {
		return nil, err
	}
	return dockerwatch.ReadSwarmPools(ctx, r.swarm, r.driver)
}

// backupInterval is how often the state database is copied to its backup when it changed.
const backupInterval = 10 * time.Minute

// backup copies a trusted state database to its backup, logging the outcome.
func backup(st *statedb.DB, log *slog.Logger) {
	wrote, err := st.Backup()
	switch {
	case err != nil:
		log.Warn("the state database was not backed up", "error", err)
	case wrote:
		log.Debug("backed up the state database", "backup", st.BackupPath())
	}
}

// keepBackups backs the state database up every backupInterval until ctx ends.
func keepBackups(ctx context.Context, st *statedb.DB, log *slog.Logger) {
	for ctx.Err() == nil {
		select {
		case <-ctx.Done():
		case <-time.After(backupInterval):
			backup(st, log)
		}
	}
}
