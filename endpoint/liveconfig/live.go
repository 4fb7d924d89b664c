// Package liveconfig owns the VCH configuration the daemon serves: where it is read (a Source:
// the file of `--config`, or vSphere with credentials from a root-only file), the last document
// read from vSphere kept in the state directory (Stored), the reading at start that serves the
// stored one while vSphere does not answer (Startup), the configuration and uplinks being
// served (Live), and the Refresher, which follows the source (a property collector on the
// endpoint VM, for vSphere: Follower), reads it again when it changed and at a slow interval,
// and applies what may change while containers run: the container networks.
package liveconfig

import (
	"sync"

	"github.com/docker-vic/docker-vic/config"
	"github.com/docker-vic/docker-vic/endpoint/uplink"
)

// Live is the VCH configuration the daemon serves and its uplinks, replaced whole when
// `docker vic configure` changes the VCH.
type Live struct {
	mu  sync.RWMutex
	cfg *config.Config
	up  *uplink.Set
}

// New serves cfg over the uplinks up.
func New(cfg *config.Config, up *uplink.Set) *Live {
	return &Live{cfg: cfg, up: up}
}

// Get returns the configuration served and its uplinks, which belong together.
func (l *Live) Get() (*config.Config, *uplink.Set) {
	l.mu.RLock()
	defer l.mu.RUnlock()
	return l.cfg, l.up
}

func (l *Live) set(cfg *config.Config, up *uplink.Set) {
	l.mu.Lock()
	l.cfg, l.up = cfg, up
	l.mu.Unlock()
}

// Revision is the revision of the configuration served (`docker vic configure` counts them).
func (l *Live) Revision() int {
	cfg, _ := l.Get()
	return cfg.Revision
}

// ContainerNetworks lists the configured container networks.
func (l *Live) ContainerNetworks() []config.ContainerNetwork {
	cfg, _ := l.Get()
	return cfg.ContainerNetworks
}
