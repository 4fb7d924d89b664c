//go:build linux

package daemon

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/moby/moby/client"
	"github.com/vishvananda/netlink"

	"github.com/docker-vic/docker-vic/api/vchdoc"
	"github.com/docker-vic/docker-vic/endpoint/dhcp"
	"github.com/docker-vic/docker-vic/endpoint/liveconfig"
	"github.com/docker-vic/docker-vic/endpoint/nat"
	"github.com/docker-vic/docker-vic/endpoint/statedb"
	"github.com/docker-vic/docker-vic/endpoint/uplink"
	"github.com/docker-vic/docker-vic/netdriver"
	"github.com/docker-vic/docker-vic/vsphere"
)

// background runs tasks on one context until stop, which waits for them all.
type background struct {
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

func newBackground(ctx context.Context) *background {
	b := &background{}
	b.ctx, b.cancel = context.WithCancel(ctx)
	return b
}

// run starts task on its own goroutine.
func (b *background) run(task func(ctx context.Context)) {
	b.wg.Add(1)
	go func() { defer b.wg.Done(); task(b.ctx) }()
}

// stop ends every task and waits for them.
func (b *background) stop() {
	b.cancel()
	b.wg.Wait()
}

// tasks is what the background tasks work on.
type tasks struct {
	o          Options
	v          *vchdoc.VCH
	stale      bool            // v is the stored configuration: vSphere did not answer at start
	withEngine bool            // the plugin of a swarm node started with its engine (startWithEngine)
	target     *vsphere.Target // nil: no vSphere (--config)
	src        liveconfig.Source
	stored     *liveconfig.Stored
	live       *liveconfig.Live
	nl         *netlink.Handle
	d          *drivers
	leases     *dhcp.Client
	// st is the state database, gate holds requests while rebuild rebuilds it, through api.
	st      *statedb.DB
	gate    *gate
	rebuild *rebuilder
	api     *client.Client // nil: no Docker client
	log     *slog.Logger
}

// afterRebuild runs task once the state can be trusted: at once, or when the rebuild is done.
func afterRebuild(g *gate, task func(ctx context.Context)) func(ctx context.Context) {
	return func(ctx context.Context) {
		select {
		case <-ctx.Done():
			return
		case <-g.Opened():
		}
		task(ctx)
	}
}

// startTasks starts on bg the rebuild of an untrusted state, the repair of the NAT rules, the
// container firewalls waiting for their containers' namespaces, the adoption of the DHCP leases
// held before a restart, the backups of the state, with vSphere the container VMs and the
// configuration refresh, and what the daemon asks Docker. What acts on the state waits until
// it can be trusted: a repair of the rules from an empty state would remove them all.
func startTasks(bg *background, t tasks) {
	log := t.log
	bg.run(t.rebuild.run)
	bg.run(afterRebuild(t.gate, func(ctx context.Context) {
		t.d.firewall.Watch(ctx, t.o.WatchInterval, func(d nat.Drift, err error) {
			if err != nil {
				log.Warn("checking the nat rules failed", "error", err)
				return
			}
			log.Warn("repaired the nat rules", "missing", len(d.Missing), "extra", len(d.Extra))
		})
	}))
	bg.run(afterRebuild(t.gate, func(ctx context.Context) { repairSpans(ctx, t.d.nd, t.o.WatchInterval, log) }))
	bg.run(t.d.sandboxes.Run)
	bg.run(afterRebuild(t.gate, func(ctx context.Context) { adoptLeases(ctx, t.d.ipd, t.leases, log) }))
	bg.run(func(ctx context.Context) { keepBackups(ctx, t.st, log) })
	var vms *vmSwitch
	if t.target != nil {
		_, up := t.live.Get()
		vms = &vmSwitch{syncer: newContainerVMs(t.target, t.v, up.Endpoint.Name, log), live: t.live}
		bg.run(vms.syncer.Run)
		r := &liveconfig.Refresher{
			Source: t.src, Live: t.live, Stored: t.stored, Behind: t.stale, Overrides: t.o.Uplinks, Log: log,
			Links:  func() ([]uplink.Link, error) { return uplink.List(t.nl) },
			Accept: t.d.ipd.SetConfig,
			Applied: func(ctx context.Context) error {
				vms.apply() // container VMs turned on or off
				return t.d.nd.RefreshContainerFirewalls(ctx)
			},
		}
		bg.run(func(ctx context.Context) { r.Run(ctx, t.o.ConfigInterval) })
	} else {
		log.Info("no vSphere target (--config): containers get no VMs in vSphere")
	}
	if t.api != nil && t.o.Swarm {
		bg.run(afterRebuild(t.gate, func(ctx context.Context) { watchSwarmRole(ctx, t.api, t.d.ipd, t.o.WatchInterval, log) }))
	}
	if t.api != nil && t.withEngine {
		bg.run(func(ctx context.Context) { engineAnswered(ctx, t.api, t.d.nd, log) })
	}
	if t.api != nil {
		bg.run(afterRebuild(t.gate, func(ctx context.Context) {
			watchDocker(ctx, t.api, t.d, t.o.DriverName, t.o.Swarm, vms, t.v.Config.Bridge.PortGroup, t.live, log)
		}))
	}
}

// repairSpans checks the span filter of a swarm's networks every interval and programs it
// again when the kernel lost it, until ctx ends.
func repairSpans(ctx context.Context, nd *netdriver.Driver, interval time.Duration, log *slog.Logger) {
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		switch did, err := nd.RepairSpans(ctx); {
		case err != nil && ctx.Err() == nil:
			log.Warn("checking the span filter failed", "error", err)
		case did:
			log.Warn("repaired the span filter: the spanning networks are kept apart again")
		}
	}
}
