package dockerwatch

import (
	"context"
	"log/slog"
	"reflect"
	"time"

	"github.com/moby/moby/client"

	"github.com/docker-vic/docker-vic/endpoint/cvm"
	"github.com/docker-vic/docker-vic/netdriver"
)

// ContainerInterval is how often the Watcher reads the containers on vic networks.
const ContainerInterval = 2 * time.Second

// ContainerLister is the part of Docker's API the Watcher uses.
type ContainerLister interface {
	NetworkList(ctx context.Context, options client.NetworkListOptions) (client.NetworkListResult, error)
	ContainerList(ctx context.Context, options client.ContainerListOptions) (client.ContainerListResult, error)
}

// Snapshotter is the part of the network driver the Watcher reads: its endpoints' ports.
type Snapshotter interface {
	Snapshot(ctx context.Context) ([]netdriver.Network, []netdriver.Endpoint, error)
}

// VMs takes the containers that should have a container VM (a *cvm.Syncer).
type VMs interface {
	Set(want []cvm.Container)
}

// Watcher reads the containers on vic networks from Docker, for what driver handlers may not
// ask Docker themselves: the names of their containers, and the container VMs.
type Watcher struct {
	API    ContainerLister
	Driver Snapshotter
	// Names receives the container name of each endpoint at every reading.
	Names *Names
	// VMs, when set, receives the containers whenever they change.
	VMs VMs
	// BridgePortGroup carries the container VMs' NICs of bridge networks.
	BridgePortGroup string
	// Interval between readings; zero means ContainerInterval.
	Interval time.Duration
	Log      *slog.Logger
}

// Run reads the containers every Interval until ctx ends. Docker being down only leaves the
// last names and VMs in place.
func (w *Watcher) Run(ctx context.Context) {
	interval := w.Interval
	if interval == 0 {
		interval = ContainerInterval
	}
	var last []cvm.Container
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		byEndpoint, want, err := Containers(ctx, w.API, w.Driver, w.BridgePortGroup)
		switch {
		case err != nil && ctx.Err() == nil:
			w.Log.Debug("reading the containers on vic networks from docker failed", "error", err)
		case err == nil:
			w.Names.set(byEndpoint)
			if w.VMs != nil && (last == nil || !reflect.DeepEqual(want, last)) {
				w.VMs.Set(want)
				last = want
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
