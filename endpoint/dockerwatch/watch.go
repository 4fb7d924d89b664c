package dockerwatch

import (
	"context"
	"log/slog"
	"reflect"
	"time"

	"github.com/moby/moby/client"

	"github.com/docker-vic/docker-vic/endpoint/cvm"
	"github.com/docker-vic/docker-vic/endpoint/driverapi"
	"github.com/docker-vic/docker-vic/netdriver"
)

// ContainerInterval is how often the Watcher reads the containers on vic networks when it
// cannot follow Docker's events.
const ContainerInterval = 2 * time.Second

// ResyncInterval is how often the Watcher reads them anyway while it follows Docker's events.
const ResyncInterval = time.Minute

// resubscribeDelay is the pause before the Watcher asks for Docker's events again.
const resubscribeDelay = time.Second

// ContainerLister is the part of Docker's API the Watcher uses.
type ContainerLister interface {
	NetworkList(ctx context.Context, options client.NetworkListOptions) (client.NetworkListResult, error)
	ContainerList(ctx context.Context, options client.ContainerListOptions) (client.ContainerListResult, error)
}

// Snapshotter is the part of the network driver the Watcher reads: its endpoints' ports.
type Snapshotter interface {
	Snapshot(ctx context.Context) ([]netdriver.Network, []netdriver.Endpoint, error)
}

// EventSource is the part of Docker's API that tells the Watcher when containers change.
type EventSource interface {
	Events(ctx context.Context, options client.EventsListOptions) client.EventsResult
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
	// DriverName is the name Docker knows the vic drivers by; empty means driverapi.Name.
	DriverName string
	// BridgePortGroup carries the container VMs' NICs of bridge networks.
	BridgePortGroup string
	// Events, when set, wakes a reading at each container or network event, so that even a
	// container that lives for a moment is seen; the readings every Interval stay as a resync.
	Events EventSource
	// Interval between readings; zero means ResyncInterval with Events, else
	// ContainerInterval.
	Interval time.Duration
	Log      *slog.Logger
}

// Run reads the containers at each Docker event and every Interval until ctx ends. Docker
// being down only leaves the last names and VMs in place.
func (w *Watcher) Run(ctx context.Context) {
	interval := w.Interval
	wake := make(chan struct{}, 1)
	switch {
	case w.Events != nil:
		if interval == 0 {
			interval = ResyncInterval
		}
		go w.follow(ctx, wake)
	case interval == 0:
		interval = ContainerInterval
	}
	var last []cvm.Container
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		byEndpoint, want, err := Containers(ctx, w.API, w.Driver, w.driverName(), w.BridgePortGroup)
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
		case <-wake:
		}
	}
}

// follow signals wake at each event about containers or networks, until ctx ends; a broken
// stream (Docker restarting) is asked for again, and every new subscription wakes a reading
// too, for what happened while it was down.
func (w *Watcher) follow(ctx context.Context, wake chan<- struct{}) {
	signal := func() {
		select {
		case wake <- struct{}{}:
		default: // a reading is due already
		}
	}
	opts := client.EventsListOptions{Filters: make(client.Filters).Add("type", "container", "network")}
	for ctx.Err() == nil {
		sub, cancel := context.WithCancel(ctx)
		res := w.Events.Events(sub, opts)
		signal()
	stream:
		for {
			select {
			case <-ctx.Done():
				cancel()
				return
			case _, ok := <-res.Messages:
				if !ok {
					break stream
				}
				signal()
			case err := <-res.Err:
				if ctx.Err() == nil {
					w.Log.Debug("docker's event stream ended: asking again", "error", err)
				}
				break stream
			}
		}
		cancel()
		select {
		case <-ctx.Done():
			return
		case <-time.After(resubscribeDelay):
		}
	}
}

// driverName is DriverName or its default.
func (w *Watcher) driverName() string {
	if w.DriverName == "" {
		return driverapi.Name
	}
	return w.DriverName
}
