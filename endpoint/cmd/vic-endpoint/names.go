//go:build linux

package main

import "sync"

// containerNames maps endpoint IDs to container names so that a port conflict can name the
// container holding the port. watchDocker fills it from its own goroutine: a handler that
// called back into Docker could deadlock the daemon.
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

func (c *containerNames) set(names map[string]string) {
	c.mu.Lock()
	c.names = names
	c.mu.Unlock()
}
