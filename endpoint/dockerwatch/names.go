package dockerwatch

import (
	"sync"

	"github.com/docker-vic/docker-vic/netdriver"
)

var _ netdriver.ContainerNamer = (*Names)(nil)

// Names maps endpoint IDs to container names so that a port conflict can name the container
// holding the port. The Watcher fills it; driver handlers read it from memory.
type Names struct {
	mu    sync.RWMutex
	names map[string]string
}

// ContainerName implements netdriver.ContainerNamer; "" when the endpoint is not known yet.
func (n *Names) ContainerName(endpointID string) string {
	n.mu.RLock()
	defer n.mu.RUnlock()
	return n.names[endpointID]
}

func (n *Names) set(names map[string]string) {
	n.mu.Lock()
	n.names = names
	n.mu.Unlock()
}
