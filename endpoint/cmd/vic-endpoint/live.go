//go:build linux

package main

import (
	"context"
	"fmt"
	"log/slog"
	"reflect"
	"sync"
	"time"

	"github.com/vishvananda/netlink"

	"github.com/docker-vic/docker-vic/api/vchdoc"
	"github.com/docker-vic/docker-vic/config"
	"github.com/docker-vic/docker-vic/endpoint/uplink"
	"github.com/docker-vic/docker-vic/ipamdriver"
	"github.com/docker-vic/docker-vic/netdriver"
	"github.com/docker-vic/docker-vic/vsphere"
)

// liveConfig is the VCH configuration the endpoint serves and its uplinks, replaced whole when
// `docker vic configure` changes the VCH in vSphere.
type liveConfig struct {
	mu  sync.RWMutex
	cfg *config.Config
	up  *uplink.Set
}

func (l *liveConfig) get() (*config.Config, *uplink.Set) {
	l.mu.RLock()
	defer l.mu.RUnlock()
	return l.cfg, l.up
}

func (l *liveConfig) set(cfg *config.Config, up *uplink.Set) {
	l.mu.Lock()
	l.cfg, l.up = cfg, up
	l.mu.Unlock()
}

// containerNetworks lists the configured container networks.
func (l *liveConfig) containerNetworks() []config.ContainerNetwork {
	cfg, _ := l.get()
	return cfg.ContainerNetworks
}

// containerNetwork answers the network driver about a configured container network.
func (l *liveConfig) containerNetwork(pg string) (netdriver.ContainerNetwork, bool) {
	cfg, up := l.get()
	for _, cn := range cfg.ContainerNetworks {
		if cn.PortGroup == pg {
			return netdriver.ContainerNetwork{Config: cn, Uplink: up.Containers[pg].Link.Name}, true
		}
	}
	return netdriver.ContainerNetwork{}, false
}

// refresher re-reads the VCH's configuration from vSphere and applies what can change while
// containers run: the container networks (new ones, ranges, firewall levels). A change of the
// role networks or the bridge takes a restart of the endpoint, and says so.
type refresher struct {
	o      *options
	target *vsphere.Target
	live   *liveConfig
	ipd    *ipamdriver.Driver
	nd     *netdriver.Driver
	nl     *netlink.Handle
	log    *slog.Logger

	// sess is kept between readings (one login, not one per reading) and dropped on error.
	sess *vsphere.Session
}

// run refreshes every interval until ctx ends, then logs out.
func (r *refresher) run(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	defer r.logout(ctx)
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if err := r.refresh(ctx); err != nil && ctx.Err() == nil {
			r.log.Debug("re-reading the VCH configuration failed: retrying later", "error", err)
		}
	}
}

// refreshTimeout bounds one reading of the configuration: a hung vCenter only delays the next.
const refreshTimeout = time.Minute

func (r *refresher) refresh(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, refreshTimeout)
	defer cancel()
	v, err := r.fetch(ctx)
	if err != nil {
		return err
	}
	v.Config.ApplyDefaults()
	old, oldUp := r.live.get()
	if v.Config.Revision == old.Revision && reflect.DeepEqual(v.Config.ContainerNetworks, old.ContainerNetworks) {
		return nil
	}
	if !sameOutsideContainerNetworks(old, v.Config) {
		r.log.Warn("the VCH's role networks, bridge or DNS changed in vSphere: restart vic-endpoint to apply them")
	}
	up := oldUp
	if locals, err := uplink.List(r.nl); err == nil {
		if fresh, err := uplink.Match(v, locals, r.o.uplinks, r.log.Debug); err == nil {
			up = fresh
		}
	}
	cfg := *old
	cfg.ContainerNetworks, cfg.Revision = v.Config.ContainerNetworks, v.Config.Revision
	if err := r.ipd.SetConfig(&cfg); err != nil {
		r.log.Warn("the new container networks cannot be served: keeping the old ones", "error", err)
		return nil
	}
	r.live.set(&cfg, up)
	r.log.Info("the VCH's container networks changed in vSphere: applied", "networks", len(cfg.ContainerNetworks))
	return r.nd.RefreshContainerFirewalls(ctx)
}

// fetch reads the VCH from vSphere on the kept session, logging in when there is none.
func (r *refresher) fetch(ctx context.Context) (*vchdoc.VCH, error) {
	if r.sess == nil {
		s, err := vsphere.Connect(ctx, r.target)
		if err != nil {
			return nil, err
		}
		r.sess = s
	}
	v, err := vsphere.ReadVCH(ctx, r.sess.Client, r.target.Datacenter, r.o.vch)
	if err == nil && v.Config == nil {
		err = fmt.Errorf("VCH %q has no configuration in vSphere", r.o.vch)
	}
	if err != nil {
		r.logout(ctx) // the session may be the cause: the next reading logs in again
		return nil, err
	}
	return v, nil
}

func (r *refresher) logout(ctx context.Context) {
	if r.sess == nil {
		return
	}
	lctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	_ = r.sess.Logout(lctx)
	r.sess = nil
}

// sameOutsideContainerNetworks reports whether a and b differ in their container networks (and
// revision) only.
func sameOutsideContainerNetworks(a, b *config.Config) bool {
	x, y := *a, *b
	x.ContainerNetworks, y.ContainerNetworks = nil, nil
	x.Revision, y.Revision = 0, 0
	return reflect.DeepEqual(x, y)
}
