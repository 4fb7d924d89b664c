//go:build linux

package main

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/moby/moby/api/types/network"
	"github.com/moby/moby/client"

	"github.com/docker-vic/docker-vic/config"
	"github.com/docker-vic/docker-vic/ipamdriver"
)

// containerNetInterval is how often the Docker networks of the container networks are checked,
// so that one removed by hand comes back.
const containerNetInterval = 30 * time.Second

// The wait for Docker, which starts after the endpoint: a short backoff, each call bounded.
const (
	dockerWaitFirst   = 250 * time.Millisecond
	dockerWaitMax     = 5 * time.Second
	dockerCallTimeout = 10 * time.Second
)

// vicDriver is the name Docker knows both vic drivers by, network and IPAM.
const vicDriver = "vic"

// optionPortGroup names the port group of a container network in the three places a Docker
// network carries it: the network driver's option (`-o`), the IPAM option (`--ipam-opt`) and
// the label that lets the endpoint recognise the networks it made.
const optionPortGroup = ipamdriver.OptionPortGroup

// networkAPI is the part of Docker's API the container networks need.
type networkAPI interface {
	Ping(ctx context.Context, options client.PingOptions) (client.PingResult, error)
	NetworkList(ctx context.Context, options client.NetworkListOptions) (client.NetworkListResult, error)
	NetworkCreate(ctx context.Context, name string, options client.NetworkCreateOptions) (client.NetworkCreateResult, error)
}

// networkEnsurer keeps one Docker network per container network of the VCH, named by its
// alias. It runs on its own goroutine, never from a driver handler: creating a network calls
// back into the drivers, and a handler waiting on Docker can deadlock the daemon. It never
// removes a network: containers may use it.
type networkEnsurer struct {
	api        networkAPI
	driver     string // network driver of the networks it creates and lists
	ipamDriver string
	cfg        []config.ContainerNetwork
	// source, when set, gives the configured container networks again at each round.
	source   func() []config.ContainerNetwork
	log      *slog.Logger
	warnings onceLog
}

// ensureContainerNetworks waits for Docker, then keeps the Docker networks of the container
// networks that networks returns (read again at each round: the configuration may change)
// until ctx ends.
func ensureContainerNetworks(ctx context.Context, networks func() []config.ContainerNetwork, log *slog.Logger) {
	api, err := client.New(client.FromEnv, client.WithAPIVersionNegotiation())
	if err != nil {
		log.Warn("no docker client: the container networks will not show in docker network ls", "error", err)
		return
	}
	defer api.Close()
	e := newNetworkEnsurer(api, vicDriver, vicDriver, networks(), log)
	e.source = networks
	e.run(ctx, containerNetInterval)
}

func newNetworkEnsurer(api networkAPI, driver, ipamDriver string, cfg []config.ContainerNetwork, log *slog.Logger) *networkEnsurer {
	return &networkEnsurer{
		api:        api,
		driver:     driver,
		ipamDriver: ipamDriver,
		cfg:        cfg,
		log:        log,
		warnings:   onceLog{log: log},
	}
}

// run ensures the networks every interval until ctx ends, waiting for Docker first and again
// whenever it stops answering.
func (e *networkEnsurer) run(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	answering := false
	for {
		if !answering {
			if !e.waitForDocker(ctx) {
				return
			}
			answering = true
		}
		if err := e.ensure(ctx); err != nil && ctx.Err() == nil {
			if client.IsErrConnectionFailed(err) {
				e.log.Debug("docker stopped answering", "error", err)
				answering = false
				continue
			}
			e.warnings.warn("list", "checking the container networks failed: retrying later", "error", err)
			e.warnings.carryOver()
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// waitForDocker pings Docker with a growing delay until it answers (true) or ctx ends (false).
// Only the answer is logged above debug.
func (e *networkEnsurer) waitForDocker(ctx context.Context) bool {
	delay := dockerWaitFirst
	for {
		pingCtx, cancel := context.WithTimeout(ctx, dockerCallTimeout)
		_, err := e.api.Ping(pingCtx, client.PingOptions{})
		cancel()
		if err == nil {
			e.log.Info("docker answers: ensuring the container networks", "networks", len(e.cfg))
			return true
		}
		e.log.Debug("docker does not answer yet", "error", err, "retry", delay)
		t := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			t.Stop()
			return false
		case <-t.C:
		}
		delay = min(2*delay, dockerWaitMax)
	}
}

// ensure makes one round: it creates the missing networks, and reports the networks of the same
// name that are not ours and the ones left by a port group no longer configured. A failure to
// create one network is logged and retried next round; only a failure to list is returned.
func (e *networkEnsurer) ensure(ctx context.Context) error {
	if e.source != nil {
		e.cfg = e.source()
	}
	nets, err := e.list(ctx, "driver", e.driver)
	if err != nil {
		return err
	}
	defer e.warnings.endRound()
	byName := map[string]network.Summary{}
	for _, n := range nets {
		byName[n.Name] = n
	}
	for _, cn := range e.cfg {
		name := dockerNetworkName(cn)
		if n, ok := byName[name]; ok {
			e.check(n, cn)
			continue
		}
		e.createMissing(ctx, cn)
	}
	e.reportLeftOver(nets)
	return nil
}

// list returns the networks whose key (driver or name) is exactly value: Docker's filters match
// more loosely.
func (e *networkEnsurer) list(ctx context.Context, key, value string) ([]network.Summary, error) {
	ctx, cancel := context.WithTimeout(ctx, dockerCallTimeout)
	defer cancel()
	res, err := e.api.NetworkList(ctx, client.NetworkListOptions{Filters: make(client.Filters).Add(key, value)})
	if err != nil {
		return nil, fmt.Errorf("listing the docker networks with %s %q: %w", key, value, err)
	}
	var out []network.Summary
	for _, n := range res.Items {
		if (key == "driver" && n.Driver == value) || (key == "name" && n.Name == value) {
			out = append(out, n)
		}
	}
	return out, nil
}

// check keeps a network of our driver with the expected name, and reports it when it belongs to
// another port group.
func (e *networkEnsurer) check(n network.Summary, cn config.ContainerNetwork) {
	if pg := n.Labels[optionPortGroup]; pg != cn.PortGroup {
		e.warnings.warn("conflict/"+n.Name, "a docker network has the name of a container network but not its port group: left alone",
			"network", n.Name, "id", shortID(n.ID), "driver", n.Driver, "portgroup", pg, "expected", cn.PortGroup)
		return
	}
	e.log.Debug("the docker network of a container network is in place", "network", n.Name, "id", shortID(n.ID), "portgroup", cn.PortGroup)
}

// createMissing creates the network of cn, unless a network of another driver has its name:
// that one is reported and left alone.
func (e *networkEnsurer) createMissing(ctx context.Context, cn config.ContainerNetwork) {
	name := dockerNetworkName(cn)
	same, err := e.list(ctx, "name", name)
	if err != nil {
		e.warnings.warn("create/"+name, "checking the docker network of a container network failed", "network", name, "error", err)
		return
	}
	if len(same) > 0 {
		n := same[0]
		e.warnings.warn("conflict/"+name, "a docker network has the name of a container network but another driver: left alone",
			"network", name, "id", shortID(n.ID), "driver", n.Driver, "portgroup", n.Labels[optionPortGroup],
			"expected", e.driver+" on port group "+cn.PortGroup)
		return
	}
	createCtx, cancel := context.WithTimeout(ctx, dockerCallTimeout)
	defer cancel()
	res, err := e.api.NetworkCreate(createCtx, name, e.createOptions(cn))
	if err != nil {
		e.warnings.warn("create/"+name, "creating the docker network of a container network failed: retrying later",
			"network", name, "portgroup", cn.PortGroup, "error", err)
		return
	}
	e.log.Info("created the docker network of a container network", "network", name, "id", shortID(res.ID), "portgroup", cn.PortGroup)
	for _, w := range res.Warning {
		e.log.Warn("docker warned while creating a container network", "network", name, "warning", w)
	}
}

// createOptions are those of `docker network create -d DRIVER --ipam-driver IPAM
// --ipam-opt K=PG -o K=PG --label K=PG [--subnet S --gateway G] ALIAS`, the subnet and
// gateway for static networks only.
func (e *networkEnsurer) createOptions(cn config.ContainerNetwork) client.NetworkCreateOptions {
	ipam := &network.IPAM{
		Driver:  e.ipamDriver,
		Options: map[string]string{optionPortGroup: cn.PortGroup},
	}
	if !cn.DHCP() {
		ipam.Config = []network.IPAMConfig{{Subnet: cn.Gateway.Masked(), Gateway: cn.Gateway.Addr()}}
	}
	return client.NetworkCreateOptions{
		Driver:  e.driver,
		IPAM:    ipam,
		Options: map[string]string{optionPortGroup: cn.PortGroup},
		Labels:  map[string]string{optionPortGroup: cn.PortGroup},
	}
}

// reportLeftOver reports the networks labelled by a port group that is no longer a container
// network, or that now goes by another alias. They stay: containers may use them.
func (e *networkEnsurer) reportLeftOver(nets []network.Summary) {
	aliases := map[string]string{}
	names := map[string]bool{}
	for _, cn := range e.cfg {
		aliases[cn.PortGroup] = dockerNetworkName(cn)
		names[dockerNetworkName(cn)] = true
	}
	for _, n := range nets {
		pg, labelled := n.Labels[optionPortGroup]
		if !labelled || names[n.Name] {
			continue // a bridge network, or one check has seen
		}
		alias, configured := aliases[pg]
		switch {
		case !configured:
			e.warnings.warn("left/"+n.Name, "a docker network belongs to a port group that is no longer a container network: left in place, remove it once no container uses it",
				"network", n.Name, "id", shortID(n.ID), "portgroup", pg)
		case alias != n.Name:
			e.warnings.warn("left/"+n.Name, "a docker network belongs to a container network now named otherwise: left in place, remove it once no container uses it",
				"network", n.Name, "id", shortID(n.ID), "portgroup", pg, "now", alias)
		}
	}
}

// dockerNetworkName is the name of cn's Docker network: its alias, which defaults to the port
// group (config.ApplyDefaults fills it; this covers a configuration read without it).
func dockerNetworkName(cn config.ContainerNetwork) string {
	if cn.Alias != "" {
		return cn.Alias
	}
	return cn.PortGroup
}

// shortID is the 12-character form Docker shows of a network ID.
func shortID(id string) string {
	if len(id) > 12 {
		return id[:12]
	}
	return id
}

// onceLog reports a standing problem once at warn level, then at debug level for as long as it
// stays the same, so that a check every 30 s does not fill the journal. A problem that went away
// for one round is reported again when it comes back.
type onceLog struct {
	log       *slog.Logger
	last, now map[string]string
}

// warn reports the problem key, described by msg and args.
func (o *onceLog) warn(key, msg string, args ...any) {
	if o.now == nil {
		o.now = map[string]string{}
	}
	text := msg + fmt.Sprint(args...)
	o.now[key] = text
	if o.last[key] == text {
		o.log.Debug(msg, args...)
		return
	}
	o.log.Warn(msg, args...)
}

// endRound forgets the problems not reported again since the previous round.
func (o *onceLog) endRound() {
	o.last, o.now = o.now, nil
}

// carryOver ends a round that could not look at everything: the problems of the previous round
// stay known.
func (o *onceLog) carryOver() {
	if o.now == nil {
		o.now = map[string]string{}
	}
	for k, v := range o.last {
		if _, ok := o.now[k]; !ok {
			o.now[k] = v
		}
	}
	o.endRound()
}
