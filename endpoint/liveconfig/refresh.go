package liveconfig

import (
	"context"
	"log/slog"
	"reflect"
	"time"

	"github.com/docker-vic/docker-vic/config"
	"github.com/docker-vic/docker-vic/endpoint/uplink"
)

// refreshTimeout bounds one reading of the configuration: a hung vCenter only delays the next.
const refreshTimeout = time.Minute

// Refresher reads the VCH's configuration again and applies what can change while containers
// run: the container networks (new ones, ranges, firewall levels) and whether containers get
// VMs in vSphere. A change of the role
// networks, the bridge or the DNS servers takes a restart of the daemon, and it says so.
type Refresher struct {
	Source Source
	Live   *Live
	// Links lists the local links, to match the uplinks of the new configuration; on error the
	// uplinks stay as they are.
	Links func() ([]uplink.Link, error)
	// Overrides are the `--uplink PG=IFACE` overrides.
	Overrides map[string]string
	// Accept is given a new configuration before it is served (the IPAM driver's); an error
	// keeps the old one.
	Accept func(*config.Config) error
	// Applied runs once a new configuration is served (the containers' firewalls).
	Applied func(ctx context.Context) error
	Log     *slog.Logger
}

// Run refreshes every interval until ctx ends.
func (r *Refresher) Run(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if err := r.Refresh(ctx); err != nil && ctx.Err() == nil {
			r.Log.Debug("re-reading the VCH configuration failed: retrying later", "error", err)
		}
	}
}

// Refresh reads the configuration once and serves its container networks when they changed.
// Only a failure to read, or of Applied, is returned.
func (r *Refresher) Refresh(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, refreshTimeout)
	defer cancel()
	v, err := r.Source.Read(ctx)
	if err != nil {
		return err
	}
	old, oldUp := r.Live.Get()
	if v.Config.Revision == old.Revision && reflect.DeepEqual(v.Config.ContainerNetworks, old.ContainerNetworks) {
		return nil
	}
	if !sameOutsideLiveSettings(old, v.Config) {
		r.Log.Warn("the VCH's role networks, bridge or DNS changed in vSphere: restart vic-endpoint to apply them")
	}
	up := oldUp
	if locals, err := r.Links(); err == nil {
		if fresh, err := uplink.Match(v, locals, r.Overrides, r.Log.Debug); err == nil {
			up = fresh
		}
	}
	cfg := *old
	cfg.ContainerNetworks, cfg.Revision = v.Config.ContainerNetworks, v.Config.Revision
	cfg.NoContainerVMs = v.Config.NoContainerVMs
	if err := r.Accept(&cfg); err != nil {
		r.Log.Warn("the new container networks cannot be served: keeping the old ones", "error", err)
		return nil
	}
	r.Live.set(&cfg, up)
	r.Log.Info("the VCH's configuration changed in vSphere: applied", "networks", len(cfg.ContainerNetworks),
		"containerVMs", !cfg.NoContainerVMs, "revision", cfg.Revision)
	return r.Applied(ctx)
}

// sameOutsideLiveSettings reports whether a and b differ only in what the daemon applies while
// it runs: the container networks, container VMs on or off (and the revision).
func sameOutsideLiveSettings(a, b *config.Config) bool {
	x, y := *a, *b
	x.ContainerNetworks, y.ContainerNetworks = nil, nil
	x.NoContainerVMs, y.NoContainerVMs = false, false
	x.Revision, y.Revision = 0, 0
	return reflect.DeepEqual(x, y)
}
