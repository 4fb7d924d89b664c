package dockerwatch

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/moby/moby/api/types/network"
	"github.com/moby/moby/api/types/swarm"
	"github.com/moby/moby/client"

	"github.com/docker-vic/docker-vic/config"
	"github.com/docker-vic/docker-vic/endpoint/driverapi"
	"github.com/docker-vic/docker-vic/ipamdriver"
)

// NetworkInterval is how often the Ensurer checks the Docker networks of the container
// networks, so that one removed by hand comes back.
const NetworkInterval = 30 * time.Second

// The wait for Docker, which starts after the daemon: a short backoff, each call bounded.
const (
	dockerWaitFirst   = 250 * time.Millisecond
	dockerWaitMax     = 5 * time.Second
	dockerCallTimeout = 10 * time.Second
)

// optionPortGroup names the port group of a container network in the three places a Docker
// network carries it: the network driver's option (`-o`), the IPAM option (`--ipam-opt`) and
// the label that lets the daemon recognise the networks it made.
const optionPortGroup = ipamdriver.OptionPortGroup

// NetworkAPI is the part of Docker's API the Ensurer uses.
type NetworkAPI interface {
	Ping(ctx context.Context, options client.PingOptions) (client.PingResult, error)
	NetworkList(ctx context.Context, options client.NetworkListOptions) (client.NetworkListResult, error)
	NetworkCreate(ctx context.Context, name string, options client.NetworkCreateOptions) (client.NetworkCreateResult, error)
	NetworkRemove(ctx context.Context, network string, options client.NetworkRemoveOptions) (client.NetworkRemoveResult, error)
	ContainerList(ctx context.Context, options client.ContainerListOptions) (client.ContainerListResult, error)
}

// PoolLister is the part of the vic IPAM driver the Ensurer asks: the pools it holds (an
// *ipamdriver.Driver).
type PoolLister interface {
	Pools(ctx context.Context) ([]ipamdriver.Pool, error)
}

// Ensurer keeps one Docker network per container network of the VCH, named by its alias. It
// removes a network only to create it again when the vic IPAM driver lost its pool and no
// container is on it (see recreate); any other it leaves alone: containers may use it.
type Ensurer struct {
	api        NetworkAPI
	driver     string // network driver of the networks it creates and lists
	ipamDriver string
	// pools are the vic IPAM driver's; nil: the pools of the networks are not checked.
	pools PoolLister
	// networks gives the configured container networks at each round; cfg holds its answer.
	networks func() []config.ContainerNetwork
	cfg      []config.ContainerNetwork
	log      *slog.Logger
	warnings onceLog
	// swarm, when set, says whether this engine manages a swarm: see InSwarm.
	swarm SwarmInfo
}

// SwarmInfo is the part of Docker's API that tells whether the engine manages a swarm.
type SwarmInfo interface {
	Info(ctx context.Context, options client.InfoOptions) (client.SystemInfoResult, error)
}

// InSwarm makes the Ensurer keep the networks of drivers of swarm scope (vic-endpoint --swarm),
// through info, the engine's Docker API. A network of the swarm exists once for all its nodes,
// its pools held by the plugin of the swarm's leader only, so the Ensurer then:
//   - creates the networks only when its engine is a manager of the swarm (a worker cannot, an
//     engine outside a swarm cannot make a network of a swarm-scope driver), of swarm scope and
//     attachable, so that both services and `docker run --net` use them. Several managers may
//     try at once: the swarm keeps the first of a name and refuses the others;
//   - never removes one to recreate it: its own plugin holds no pool of the swarm's networks
//     unless its engine leads the swarm, which says nothing of the pools the leader holds.
func (e *Ensurer) InSwarm(info SwarmInfo) { e.swarm = info }

// NewEnsurer returns an Ensurer of the vic networks of the container networks that networks
// returns, read again at each round: the configuration may change. pools is the vic IPAM
// driver, whose pools the networks must have. driver is the name Docker knows the vic drivers by
// (driverapi.Name, or the managed plugin's name): the networks are made with it.
func NewEnsurer(api NetworkAPI, driver string, networks func() []config.ContainerNetwork, pools PoolLister, log *slog.Logger) *Ensurer {
	return &Ensurer{
		api:        api,
		driver:     driver,
		ipamDriver: driver,
		pools:      pools,
		networks:   networks,
		cfg:        networks(),
		log:        log,
		warnings:   onceLog{log: log},
	}
}

// Run ensures the networks every interval until ctx ends, waiting for Docker first and again
// whenever it stops answering.
func (e *Ensurer) Run(ctx context.Context, interval time.Duration) {
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

// waitForDocker waits until Docker answers (true) or ctx ends (false).
func (e *Ensurer) waitForDocker(ctx context.Context) bool {
	if !WaitForDocker(ctx, e.api, e.log) {
		return false
	}
	e.log.Info("docker answers: ensuring the container networks", "networks", len(e.cfg))
	return true
}

// Pinger is the part of Docker's API that tells whether Docker answers.
type Pinger interface {
	Ping(ctx context.Context, options client.PingOptions) (client.PingResult, error)
}

// WaitForDocker pings Docker with a growing delay until it answers (true) or ctx ends (false).
// The wait is logged at debug level only.
func WaitForDocker(ctx context.Context, api Pinger, log *slog.Logger) bool {
	delay := dockerWaitFirst
	for {
		pingCtx, cancel := context.WithTimeout(ctx, dockerCallTimeout)
		_, err := api.Ping(pingCtx, client.PingOptions{})
		cancel()
		if err == nil {
			return true
		}
		log.Debug("docker does not answer yet", "error", err, "retry", delay)
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

// ensure makes one round: it creates the missing networks, recreates those whose pool the vic
// IPAM driver lost, and reports the networks of the same name that are not ours and the ones
// left by a port group no longer configured. A failure to create one network is logged and
// retried next round; only a failure to list is returned.
func (e *Ensurer) ensure(ctx context.Context) error {
	e.cfg = e.networks()
	if e.swarm != nil {
		manager, err := e.managesSwarm(ctx)
		if err != nil || !manager {
			return err
		}
	}
	nets, err := e.list(ctx, "driver", e.driver)
	if err != nil {
		return err
	}
	defer e.warnings.endRound()
	// Read after the list: Docker asks for a network's pool before the network shows.
	pools, checkPools := e.readPools(ctx)
	byName := map[string]network.Summary{}
	for _, n := range nets {
		byName[n.Name] = n
	}
	for _, cn := range e.cfg {
		n, ok := byName[networkName(cn)]
		switch {
		case !ok:
			e.createMissing(ctx, cn)
		case e.check(n, cn) && checkPools && e.swarm == nil && driverapi.SameName(e.ipamDriver, n.IPAM.Driver) && !hasPool(pools, n, cn):
			e.recreate(ctx, n, cn)
		}
	}
	e.reportLeftOver(nets)
	return nil
}

// managesSwarm reports whether the engine is a manager of a swarm; a worker, or an engine
// outside a swarm, leaves the container networks to the swarm's managers.
func (e *Ensurer) managesSwarm(ctx context.Context) (bool, error) {
	ctx, cancel := context.WithTimeout(ctx, dockerCallTimeout)
	defer cancel()
	res, err := e.swarm.Info(ctx, client.InfoOptions{})
	if err != nil {
		return false, fmt.Errorf("asking docker whether it manages a swarm: %w", err)
	}
	if s := res.Info.Swarm; s.LocalNodeState != swarm.LocalNodeStateActive || !s.ControlAvailable {
		e.log.Debug("the engine is no manager of a swarm: the swarm's managers create the container networks",
			"state", s.LocalNodeState, "manager", s.ControlAvailable)
		return false, nil
	}
	return true, nil
}

// readPools reads the vic IPAM driver's pools; false when they are not to be checked this round.
func (e *Ensurer) readPools(ctx context.Context) ([]ipamdriver.Pool, bool) {
	if e.pools == nil {
		return nil, false
	}
	pools, err := e.pools.Pools(ctx)
	if err != nil {
		e.warnings.warn("pools", "reading the pools of the vic IPAM driver failed: the container networks' pools are not checked this round", "error", err)
		return nil, false
	}
	return pools, true
}

// list returns the networks whose key (driver or name) is value, the driver's name in any of
// the forms Docker shows (driverapi.SameName): Docker's filters match more loosely.
func (e *Ensurer) list(ctx context.Context, key, value string) ([]network.Summary, error) {
	ctx, cancel := context.WithTimeout(ctx, dockerCallTimeout)
	defer cancel()
	// Docker's driver filter is exact: the driver is matched below, as driverapi.SameName does.
	opts := client.NetworkListOptions{}
	if key == "name" {
		opts.Filters = make(client.Filters).Add(key, value)
	}
	res, err := e.api.NetworkList(ctx, opts)
	if err != nil {
		return nil, fmt.Errorf("listing the docker networks with %s %q: %w", key, value, err)
	}
	var out []network.Summary
	for _, n := range res.Items {
		if (key == "driver" && driverapi.SameName(value, n.Driver)) || (key == "name" && n.Name == value) {
			out = append(out, n)
		}
	}
	return out, nil
}

// networkName is the name of cn's Docker network: its alias, which defaults to the port group
// (config.ApplyDefaults fills it; this covers a configuration read without it).
func networkName(cn config.ContainerNetwork) string {
	if cn.Alias != "" {
		return cn.Alias
	}
	return cn.PortGroup
}

// shortID is the 12-character form Docker shows of an ID.
