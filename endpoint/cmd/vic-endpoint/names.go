//go:build linux

package main

import (
	"context"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/moby/moby/client"
)

// containerNames maps endpoint IDs to container names so that a port conflict can name the
// container holding the port. It reads Docker's API on its own goroutine, never from a driver
// handler: a handler that calls back into Docker can deadlock the daemon.
type containerNames struct {
	mu    sync.RWMutex
	names map[string]string
}

// ContainerName implements netdriver.ContainerNamer; "" when the endpoint is not known yet.
func (c *containerNames) ContainerName(endpointID string) string {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.names[endpointID]
}

// refreshEvery polls Docker for the containers on vic networks until ctx ends. Docker being
// down or slow only leaves the last known names in place.
func (c *containerNames) refreshEvery(ctx context.Context, interval time.Duration, log *slog.Logger) {
	api, err := client.New(client.FromEnv, client.WithAPIVersionNegotiation())
	if err != nil {
		log.Warn("no docker client: port conflicts will name endpoints, not containers", "error", err)
		return
	}
	defer api.Close()
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		if err := c.refresh(ctx, api); err != nil && ctx.Err() == nil {
			log.Debug("reading container names from docker failed", "error", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func (c *containerNames) refresh(ctx context.Context, api *client.Client) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	nets, err := api.NetworkList(ctx, client.NetworkListOptions{Filters: make(client.Filters).Add("driver", "vic")})
	if err != nil {
		return err
	}
	names := map[string]string{}
	for _, n := range nets.Items {
		res, err := api.NetworkInspect(ctx, n.ID, client.NetworkInspectOptions{})
		if err != nil {
			continue // removed meanwhile
		}
		for _, ep := range res.Network.Containers {
			names[ep.EndpointID] = strings.TrimPrefix(ep.Name, "/")
		}
	}
	c.mu.Lock()
	c.names = names
	c.mu.Unlock()
	return nil
}
