//go:build linux

package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/vishvananda/netlink"
	bolt "go.etcd.io/bbolt"

	"github.com/docker-vic/docker-vic/api/portsapi"
	"github.com/docker-vic/docker-vic/endpoint/cfw"
	"github.com/docker-vic/docker-vic/endpoint/cvm"
	"github.com/docker-vic/docker-vic/endpoint/dhcp"
	"github.com/docker-vic/docker-vic/endpoint/dockerwatch"
	"github.com/docker-vic/docker-vic/endpoint/driverapi"
	"github.com/docker-vic/docker-vic/endpoint/hostports"
	"github.com/docker-vic/docker-vic/endpoint/link"
	"github.com/docker-vic/docker-vic/endpoint/liveconfig"
	"github.com/docker-vic/docker-vic/endpoint/nat"
	"github.com/docker-vic/docker-vic/endpoint/uplink"
	"github.com/docker-vic/docker-vic/ipamdriver"
	"github.com/docker-vic/docker-vic/netdriver"
)

// The drivers must satisfy what the socket serves, and the kernel layers what the driver uses.
var (
	_ driverapi.IPAMDriver    = (*ipamdriver.Driver)(nil)
	_ driverapi.NetworkDriver = (*netdriver.Driver)(nil)
	_ driverapi.NetworkDriver = loggedDriver{}
	_ netdriver.Links         = (*link.Links)(nil)
	_ netdriver.Firewall      = (*nat.Applier)(nil)
	_ netdriver.PortHolder    = (*hostports.Holder)(nil)
	_ snapshotter             = (*netdriver.Driver)(nil)
)

// stateFile is the database both drivers share, inside --state-dir.
const stateFile = "state.db"

// dbLockTimeout bounds the wait for the database lock, held by a running endpoint.
const dbLockTimeout = 3 * time.Second

// runDaemonCommand parses the flags and runs the daemon until ctx ends.
func runDaemonCommand(ctx context.Context, args []string, stderr io.Writer) error {
	o, err := parseOptions(args, stderr)
	if err != nil {
		return err
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: o.logLevel}))
	return runDaemon(ctx, o, log)
}

// runDaemon wires the endpoint together, in order: the VCH and its uplinks, the state
// database, the IPAM and network drivers, the kernel restored from the state, the rule
// watcher, then the socket. When ctx ends it stops serving and closes the database, leaving
// rules and links in place so that containers keep working while it restarts.
func runDaemon(ctx context.Context, o *options, log *slog.Logger) error {
	src, target, err := liveconfig.Open(o.source)
	if err != nil {
		return err
	}
	defer src.Close(ctx)
	v, err := src.Read(ctx)
	if err != nil {
		return err
	}
	nl, err := netlink.NewHandle()
	if err != nil {
		return fmt.Errorf("opening a netlink handle: %w", err)
	}
	defer nl.Close()
	locals, err := uplink.List(nl)
	if err != nil {
		return err
	}
	up, err := uplink.Match(v, locals, o.uplinks, log.Warn)
	if err != nil {
		return err
	}

	db, err := openState(o.stateDir)
	if err != nil {
		return err
	}
	defer db.Close()
	names := &dockerwatch.Names{}
	sandboxes := cfw.NewFirewalls(log)
	live := liveconfig.New(v.Config, up)
	leases, err := newLeases(live, log)
	if err != nil {
		return err
	}
	defer leases.Close() // stops renewing; the leases stay, and the next start adopts them
	ipd, nd, firewall, holder, err := buildDrivers(db, live, nl, names, sandboxes, leases, log)
	if err != nil {
		return err
	}
	defer holder.Close()

	if err := nd.Restore(ctx); err != nil {
		// Serve anyway: Docker without its plugin cannot even remove containers.
		log.Warn("the kernel state was restored only in part", "error", err)
	}
	// The configuration may have changed while the endpoint was down.
	if err := nd.RefreshContainerFirewalls(ctx); err != nil {
		log.Warn("the firewalls of running containers were set again only in part", "error", err)
	}
	l, err := driverapi.Listen(o.socket)
	if err != nil {
		return err
	}
	srv := driverapi.NewServer(loggedDriver{Driver: nd, log: log}, ipd, 0, log)
	srv.Handle("POST "+portsapi.Path, portsHandler(nd, up.Address, log))

	// Every background task runs on watchCtx and is waited for before the database, the
	// netlink handle, the held ports and the DHCP client close under it.
	watchCtx, stopWatch := context.WithCancel(ctx)
	var tasks sync.WaitGroup
	defer func() { stopWatch(); tasks.Wait() }()
	background := func(task func()) {
		tasks.Add(1)
		go func() { defer tasks.Done(); task() }()
	}
	background(func() {
		firewall.Watch(watchCtx, o.watchInterval, func(d nat.Drift, err error) {
			if err != nil {
				log.Warn("checking the nat rules failed", "error", err)
				return
			}
			log.Warn("repaired the nat rules", "missing", len(d.Missing), "extra", len(d.Extra))
		})
	})
	background(func() { sandboxes.Run(watchCtx) }) // container firewalls wait for their containers' namespaces
	background(func() { adoptLeases(watchCtx, ipd, leases, log) })
	var vms *cvm.Syncer
	if target != nil {
		vms = newContainerVMs(target, v, log)
		background(func() { vms.Run(watchCtx) })
		r := &liveconfig.Refresher{
			Source: src, Live: live, Overrides: o.uplinks, Log: log,
			Links:   func() ([]uplink.Link, error) { return uplink.List(nl) },
			Accept:  ipd.SetConfig,
			Applied: nd.RefreshContainerFirewalls,
		}
		background(func() { r.Run(watchCtx, o.configInterval) })
	} else {
		log.Info("no vSphere target (--config): containers get no VMs in vSphere")
	}
	watcher := &dockerwatch.Watcher{Driver: nd, Names: names, BridgePortGroup: v.Config.Bridge.PortGroup, Log: log}
	background(func() { watchDocker(watchCtx, watcher, vms, live, log) })

	if err := notifyReady(); err != nil {
		log.Warn("telling systemd the endpoint is ready failed", "error", err)
	}
	log.Info("vic-endpoint serving", "version", version, "vch", v.Name, "public", up.Address, "uplinks", up.String(),
		"socket", o.socket, "state", filepath.Join(o.stateDir, stateFile))
	err = srv.Serve(ctx, l)
	log.Info("vic-endpoint stopped: rules and links stay in place", "vch", v.Name)
	return err
}

// buildDrivers builds the IPAM driver and the network driver over one database, with the
// network driver's kernel layers: links through nl, rules through iptables and nftables in this
// namespace, ports held by this process.
func buildDrivers(db *bolt.DB, live *liveconfig.Live, nl *netlink.Handle, names netdriver.ContainerNamer,
	sandboxes netdriver.SandboxFirewall, leases *dhcp.Client, log *slog.Logger) (*ipamdriver.Driver, *netdriver.Driver, *nat.Applier, *hostports.Holder, error) {
	cfg, up := live.Get()
	ipamStore, err := ipamdriver.NewBoltStore(db)
	if err != nil {
		return nil, nil, nil, nil, err
	}
	ipd, err := ipamdriver.New(cfg, ipamStore, leases)
	if err != nil {
		return nil, nil, nil, nil, err
	}
	netStore, err := netdriver.NewBoltStore(db)
	if err != nil {
		return nil, nil, nil, nil, err
	}
	firewall, err := nat.NewApplier(up.Address, nil, nil)
	if err != nil {
		return nil, nil, nil, nil, err
	}
	holder := hostports.NewHolder()
	nd, err := netdriver.New(netdriver.Options{
		Store:        netStore,
		Links:        link.New(nl),
		Firewall:     timedFirewall{firewall, log},
		Holder:       holder,
		Public:       up.Address,
		LocalSubnets: up.LocalSubnets(),
		Names:        names,
		Log:          log,

		ContainerNetworks: containerNetworks(live),
		Sandboxes:         sandboxes,
		DHCPRouter:        dhcpRouter(leases),
	})
	if err != nil {
		holder.Close()
		return nil, nil, nil, nil, err
	}
	return ipd, nd, firewall, holder, nil
}

// timedFirewall logs, at debug level, how long each change of published ports takes to
// program: the NAT programming time that `make bench` compares at 10 and 1000 mappings.
type timedFirewall struct {
	*nat.Applier
	log *slog.Logger
}

func (f timedFirewall) ChangePorts(ctx context.Context, add, del []nat.Mapping) error {
	start := time.Now()
	err := f.Applier.ChangePorts(ctx, add, del)
	f.log.Debug("nat ports changed", "added", len(add), "removed", len(del), "duration", time.Since(start), "error", err)
	return err
}

// openState opens (creating) the state database, root-only. A running endpoint holds its
// lock: a second one gives up after dbLockTimeout.
func openState(dir string) (*bolt.DB, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("creating the state directory: %w", err)
	}
	path := filepath.Join(dir, stateFile)
	// The free-page list is rebuilt at open rather than written at every commit: a commit
	// (one per container start) then costs the same however many ports were published and
	// revoked before it.
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: dbLockTimeout, NoFreelistSync: true, FreelistType: bolt.FreelistMapType})
	if errors.Is(err, bolt.ErrTimeout) {
		return nil, fmt.Errorf("state database %q is locked: another vic-endpoint is running with --state-dir %q", path, dir)
	}
	if err != nil {
		return nil, fmt.Errorf("opening the state database %q: %w", path, err)
	}
	return db, nil
}

// containerNetworks answers the network driver about a configured container network.
func containerNetworks(live *liveconfig.Live) netdriver.ContainerNetworks {
	return func(pg string) (netdriver.ContainerNetwork, bool) {
		cfg, up := live.Get()
		for _, cn := range cfg.ContainerNetworks {
			if cn.PortGroup == pg {
				return netdriver.ContainerNetwork{Config: cn, Uplink: up.Containers[pg].Link.Name}, true
			}
		}
		return netdriver.ContainerNetwork{}, false
	}
}
