//go:build linux

package daemon

import (
	"context"
	"log/slog"

	"github.com/moby/moby/client"

	"github.com/docker-vic/docker-vic/endpoint/dockerwatch"
	"github.com/docker-vic/docker-vic/endpoint/liveconfig"
)

// dockerClient is the daemon's client of Docker's API, or nil when none can be made.
func dockerClient(log *slog.Logger) *client.Client {
	api, err := client.New(client.FromEnv, client.WithAPIVersionNegotiation())
	if err != nil {
		log.Warn("no docker client: port conflicts name endpoints, not containers, containers get no VMs, the container networks do not show in docker network ls and a lost state cannot be rebuilt", "error", err)
		return nil
	}
	return api
}

// watchDocker runs, until ctx ends, what the daemon asks Docker outside the driver handlers:
// the containers on vic networks (their names, and the container VMs when vms is set) and,
// once Docker answers, the Docker networks of the container networks. driver is the name Docker
// knows the drivers by; swarm says that they are of swarm scope (--swarm).
func watchDocker(ctx context.Context, api *client.Client, d *drivers, driver string, swarm bool, vms *vmSwitch, bridgePG string, live *liveconfig.Live, log *slog.Logger) {
	w := &dockerwatch.Watcher{API: api, Events: api, Driver: d.nd, DriverName: driver, Names: d.names, BridgePortGroup: bridgePG, Log: log}
	if vms != nil {
		w.VMs = vms
	}
	done := make(chan struct{})
	go func() { defer close(done); w.Run(ctx) }()
	// Docker starts after the daemon: the ensurer waits for it, then creates the networks.
	e := dockerwatch.NewEnsurer(api, driver, live.ContainerNetworks, d.ipd, log)
	if swarm {
		e.InSwarm(api)
	}
	e.Run(ctx, dockerwatch.NetworkInterval)
	<-done
}
