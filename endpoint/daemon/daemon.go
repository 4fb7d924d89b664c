//go:build linux

// Package daemon is vic-endpoint, the daemon of a VCH's endpoint VM, without its flags: Run
// reads the VCH's configuration (endpoint/liveconfig), finds its uplinks (endpoint/uplink),
// opens the state database, builds the vic network and IPAM drivers over the kernel layers,
// restores what they own, starts the background tasks (rule repair, container firewalls, DHCP
// leases, container VMs, the configuration refresh, endpoint/dockerwatch) and serves the socket
// (endpoint/driverapi) with the ports route (api/portsapi). Teardown removes what it owns.
// The state database's file is endpoint/statedb's.
package daemon

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"
	"time"

	"github.com/vishvananda/netlink"

	"github.com/docker-vic/docker-vic/api/portsapi"
	"github.com/docker-vic/docker-vic/endpoint/driverapi"
	"github.com/docker-vic/docker-vic/endpoint/liveconfig"
	"github.com/docker-vic/docker-vic/endpoint/statedb"
	"github.com/docker-vic/docker-vic/endpoint/uplink"
	"github.com/docker-vic/docker-vic/ipamdriver"
	"github.com/docker-vic/docker-vic/netdriver"
)

// Defaults of the daemon's options.
const (
	DefaultStateDir       = "/var/lib/vic"
	DefaultWatchInterval  = 2 * time.Second
	DefaultConfigInterval = 5 * time.Minute
)

// Options are the daemon's settings, one per flag of vic-endpoint.
type Options struct {
	// Source says where the VCH's configuration comes from.
	Source liveconfig.Options
	// Uplinks maps port groups to local interfaces, overriding MAC matching (--uplink).
	Uplinks map[string]string
	// StateDir holds the state database.
	StateDir string
	// Socket is where the drivers are served.
	Socket string
	// DriverName is the name Docker knows the drivers by: driverapi.Name ("vic") for the legacy
	// plugin, the managed plugin's name (e.g. vic:latest) when the drivers run as one. The
	// daemon finds its networks by it and makes the container networks' networks with it.
	// Empty means driverapi.Name.
	DriverName string
	// Swarm makes the drivers' networks of swarm scope (--swarm): the engine is a node of a
	// Docker swarm whose endpoints share the VCH's port groups. Without it they are local to
	// this engine, which cannot then create a network of the drivers while in a swarm.
	Swarm bool
	// TeardownWhenIdle removes the rules and links the daemon owns when it stops serving no
	// network, address pool or endpoint (the managed plugin: disabled and removed, it leaves
	// nothing behind). Otherwise they stay, for the next start.
	TeardownWhenIdle bool
	// WatchInterval is how often the iptables rules and nftables port maps are checked.
	WatchInterval time.Duration
	// ConfigInterval is how often the configuration is read again from vSphere besides
	// following its changes: a resync in case a change was missed.
	ConfigInterval time.Duration
	// Version is what the start-up line and the ports route report.
	Version string
}

// Validate refuses options the daemon cannot run with.
func (o Options) Validate() error {
	switch {
	case o.WatchInterval <= 0:
		return fmt.Errorf("--watch-interval %s must be positive", o.WatchInterval)
	case o.ConfigInterval <= 0:
		return fmt.Errorf("--config-interval %s must be positive", o.ConfigInterval)
	case strings.ContainsAny(o.DriverName, " \t\n"):
		return fmt.Errorf("--driver-name %q must be the name Docker knows the drivers by, such as vic or vic:latest", o.DriverName)
	}
	return o.Source.Validate()
}

// Run wires the daemon together, in order: the VCH and its uplinks (from vSphere, or while it
// does not answer the configuration stored at the last reading), the state database, the
// IPAM and network drivers, the kernel restored from the state (or the state rebuilt from
// Docker and the kernel when the database cannot be trusted: rebuild.go), the background
// tasks, then the socket, served until ctx ends; the line saying it serves says how long each of
// these steps took. Then it stops serving, waits for the tasks and closes the
// database, leaving rules and links in place so that containers keep working while it restarts.
func Run(ctx context.Context, o Options, log *slog.Logger) (err error) {
	if err := o.Validate(); err != nil {
		return err
	}
	// Set when the daemon stops idle; the teardown runs last, once the database is closed.
	idle := false
	defer func() {
		if idle && err == nil {
			err = teardownIdle(ctx, o.StateDir, log)
		}
	}()
	if o.DriverName == "" {
		o.DriverName = driverapi.Name
	}
	ph := newPhases(time.Now())
	src, target, err := liveconfig.Open(o.Source)
	if err != nil {
		return err
	}
	defer src.Close(ctx)
	var stored *liveconfig.Stored
	if target != nil {
		stored = &liveconfig.Stored{Path: filepath.Join(o.StateDir, liveconfig.StoredFile), VCH: o.Source.VCH}
	}
	v, stale, err := liveconfig.Startup{Source: src, Stored: stored, Log: log, Waiting: waitingForVSphere(log)}.Read(ctx)
	if err != nil {
		if ctx.Err() != nil {
			return nil // stopped while it waited for vSphere
		}
		return err
	}
	ph.done("config", time.Now())
	nl, err := netlink.NewHandle()
	if err != nil {
		return fmt.Errorf("opening a netlink handle: %w", err)
	}
	defer nl.Close()
	locals, err := uplink.List(nl)
	if err != nil {
		return err
	}
	up, err := uplink.Match(v, locals, o.Uplinks, log.Warn)
	if err != nil {
		return err
	}

	st, err := statedb.Open(o.StateDir, log, netdriver.CheckRecords, ipamdriver.CheckRecords)
	if err != nil {
		return err
	}
	defer st.Close()
	ph.done("state", time.Now())
	live := liveconfig.New(v.Config, up)
	leases, err := newLeases(live, log)
	if err != nil {
		return err
	}
	defer leases.Close() // stops renewing; the leases stay, and the next start adopts them
	d, err := buildDrivers(st.DB, live, nl, leases, o.Swarm, log)
	if err != nil {
		return err
	}
	defer d.holder.Close()
	api := dockerClient(log)
	if api != nil {
		defer api.Close()
	}
	ph.done("drivers", time.Now())
	g := newGate(st.Lost())
	rb := &rebuilder{st: st, d: d, driver: o.DriverName, public: up.Address, gate: g, log: log}
	if api != nil {
		rb.api = api
		if o.Swarm {
			rb.swarm = api
		}
	}
	startState(ctx, st, d, rb, log)
	withEngine := false
	if o.Swarm {
		var sa swarmAPI
		if api != nil {
			sa = api
		}
		withEngine = startWithEngine(ctx, sa, d.ipd, d.nd, log)
	}
	ph.done("restore", time.Now())

	l, err := driverapi.Listen(o.Socket)
	if err != nil {
		return err
	}
	srv := driverapi.NewServer(gatedNetwork{loggedDriver{Driver: d.nd, log: log}, g}, gatedIPAM{d.ipd, g}, 0, log)
	srv.Handle("POST "+portsapi.Path, portsHandler(d.nd, g, up.Address, o.Version, log))

	// The tasks are waited for before the database, the netlink handle, the held ports and the
	// DHCP client close under them.
	bg := newBackground(ctx)
	defer bg.stop()
	startTasks(bg, tasks{o: o, v: v, stale: stale, withEngine: withEngine, target: target, src: src, stored: stored, live: live, nl: nl, d: d, leases: leases,
		st: st, gate: g, rebuild: rb, api: api, log: log})

	if err := notifyReady(); err != nil {
		log.Warn("telling systemd the endpoint is ready failed", "error", err)
	}
	log.Info("vic-endpoint serving", append([]any{"version", o.Version, "vch", v.Name, "revision", v.Config.Revision,
		"public", up.Address, "uplinks", up.String(), "socket", o.Socket, "state", st.Path()}, ph.attrs(time.Now())...)...)
	err = srv.Serve(ctx, l)
	if o.TeardownWhenIdle && err == nil && d.idle(ctx, g) {
		idle = true // the teardown runs, and says so, once the database is closed
		return nil
	}
	log.Info("vic-endpoint stopped: rules and links stay in place", "vch", v.Name)
	return err
}

// startState restores the kernel from a trusted state and backs it up. An untrusted one is
// rebuilt at once when Docker answers; otherwise the rebuild task does it once Docker does.
func startState(ctx context.Context, st *statedb.DB, d *drivers, rb *rebuilder, log *slog.Logger) {
	lost := st.Lost()
	if lost == "" {
		d.restore(ctx, true, log)
		backup(st, log)
		return
	}
	log.Warn("the state cannot be trusted: it is rebuilt from docker and the kernel, and nothing is removed from the kernel meanwhile", "why", lost)
	if rb.api == nil || !dockerAnswers(ctx, rb.api) {
		log.Warn("docker does not answer yet: the state is rebuilt once it does, and requests that hand out addresses are refused until then")
		return
	}
	if err := rb.rebuild(ctx); err != nil {
		log.Warn("rebuilding the state failed: retrying", "error", err)
	}
}
