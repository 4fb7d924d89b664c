//go:build linux

package main

import (
	"context"
	"log/slog"
	"net/netip"
	"reflect"
	"sort"
	"strings"
	"time"

	"github.com/moby/moby/client"

	"github.com/docker-vic/docker-vic/api/vchdoc"
	"github.com/docker-vic/docker-vic/config"
	"github.com/docker-vic/docker-vic/endpoint/cvm"
	"github.com/docker-vic/docker-vic/netdriver"
	"github.com/docker-vic/docker-vic/vsphere"
)

// dockerInterval is how often the containers on vic networks are read from Docker.
const dockerInterval = 2 * time.Second

// containerLister is the part of Docker's API the container VMs need.
type containerLister interface {
	NetworkList(ctx context.Context, options client.NetworkListOptions) (client.NetworkListResult, error)
	ContainerList(ctx context.Context, options client.ContainerListOptions) (client.ContainerListResult, error)
}

// watchDocker reads the containers on vic networks from Docker every dockerInterval, on its
// own goroutine, for what driver handlers may not ask Docker themselves: the names of their
// containers, and (when syncer is not nil) the container VMs, handed over whenever they change.
// Docker being down only leaves the last names and VMs in place.
func watchDocker(ctx context.Context, names *containerNames, syncer *cvm.Syncer, nd snapshotter, cfg *config.Config, log *slog.Logger) {
	api, err := client.New(client.FromEnv, client.WithAPIVersionNegotiation())
	if err != nil {
		log.Warn("no docker client: port conflicts name endpoints, not containers, and containers get no VMs", "error", err)
		return
	}
	defer api.Close()
	var last []cvm.Container
	t := time.NewTicker(dockerInterval)
	defer t.Stop()
	for {
		byEndpoint, want, err := containersOnVicNetworks(ctx, api, nd, cfg)
		switch {
		case err != nil && ctx.Err() == nil:
			log.Debug("reading the containers on vic networks from docker failed", "error", err)
		case err == nil:
			names.set(byEndpoint)
			if syncer != nil && (last == nil || !reflect.DeepEqual(want, last)) {
				syncer.Set(want)
				last = want
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// containersOnVicNetworks returns the container name of each endpoint of the vic networks, and
// every container with a vic network, running or not, with one NIC per vic network (on the
// bridge port group for bridge networks, on its own port group for a container network) and
// its published ports. The list is never nil, so that an empty one removes every container VM.
func containersOnVicNetworks(ctx context.Context, api containerLister, nd snapshotter, cfg *config.Config) (map[string]string, []cvm.Container, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	nets, err := api.NetworkList(ctx, client.NetworkListOptions{Filters: make(client.Filters).Add("driver", "vic")})
	if err != nil {
		return nil, nil, err
	}
	portGroups := map[string]string{} // network ID -> port group
	netNames := map[string]string{}   // network ID -> name
	for _, n := range nets.Items {
		if n.Driver != "vic" {
			continue
		}
		pg := n.Options[netdriver.OptionPortGroup]
		if pg == "" {
			pg = cfg.Bridge.PortGroup
		}
		portGroups[n.ID], netNames[n.ID] = pg, n.Name
	}
	list, err := api.ContainerList(ctx, client.ContainerListOptions{All: true})
	if err != nil {
		return nil, nil, err
	}
	_, endpoints, err := nd.Snapshot(ctx)
	if err != nil {
		return nil, nil, err
	}
	ports := map[string][]string{}
	for _, e := range endpoints {
		for _, p := range e.Ports {
			ports[e.ID] = append(ports[e.ID], p.String())
		}
	}
	byEndpoint, want := map[string]string{}, []cvm.Container{}
	for _, c := range list.Items {
		if c.NetworkSettings == nil {
			continue
		}
		out, onVic := cvm.Container{ID: c.ID, Running: c.State == "running"}, false
		if len(c.Names) > 0 {
			out.Name = strings.TrimPrefix(c.Names[0], "/")
		}
		for _, es := range c.NetworkSettings.Networks {
			pg, ok := portGroups[es.NetworkID]
			if !ok {
				continue
			}
			onVic = true
			if es.EndpointID != "" {
				byEndpoint[es.EndpointID] = out.Name
			}
			out.Ports = append(out.Ports, ports[es.EndpointID]...)
			if len(es.MacAddress) == 0 {
				continue // stopped: the VM keeps the cards it had
			}
			nic := cvm.NIC{Network: netNames[es.NetworkID], PortGroup: pg, MAC: es.MacAddress.String()}
			if es.IPAddress.IsValid() {
				nic.Address = netip.PrefixFrom(es.IPAddress, es.IPPrefixLen)
			}
			out.NICs = append(out.NICs, nic)
		}
		if !onVic || (len(out.NICs) == 0 && out.Running) {
			continue // not ours, or starting: its interfaces are not there yet
		}
		sort.Slice(out.NICs, func(i, j int) bool { return out.NICs[i].Network < out.NICs[j].Network })
		sort.Strings(out.Ports)
		want = append(want, out)
	}
	sort.Slice(want, func(i, j int) bool { return want[i].ID < want[j].ID })
	return byEndpoint, want, nil
}

// newContainerVMs keeps a VM in vSphere per container on a vic network (SPEC §7), writing
// vSphere from its own goroutine (Run), so that a slow or absent vCenter never holds up a
// container.
func newContainerVMs(t *vsphere.Target, v *vchdoc.VCH, log *slog.Logger) *cvm.Syncer {
	syncer := cvm.NewSyncer(cvm.ConnectTarget(t), cvm.Options{
		VCH: v.Name, Datacenter: t.Datacenter,
		Progress: func(step string) { log.Info("container VMs: " + step) },
	})
	syncer.Failed = func(err error) { log.Warn("container VMs are behind: vSphere refused or is unreachable", "error", err) }
	return syncer
}
