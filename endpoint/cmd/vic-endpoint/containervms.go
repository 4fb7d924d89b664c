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

	"github.com/docker-vic/docker-vic/cli-plugin/vch"
	"github.com/docker-vic/docker-vic/endpoint/config"
	"github.com/docker-vic/docker-vic/endpoint/cvm"
	"github.com/docker-vic/docker-vic/endpoint/session"
	"github.com/docker-vic/docker-vic/netdriver"
)

// containerVMsInterval is how often the containers on vic networks are read from Docker for
// their VMs in vSphere.
const containerVMsInterval = 2 * time.Second

// containerLister is the part of Docker's API the container VMs need.
type containerLister interface {
	NetworkList(ctx context.Context, options client.NetworkListOptions) (client.NetworkListResult, error)
	ContainerList(ctx context.Context, options client.ContainerListOptions) (client.ContainerListResult, error)
}

// feedContainerVMs reads the containers on vic networks from Docker every interval, on its
// own goroutine (never from a driver handler), and hands them to the syncer whenever they
// change. Docker being down only delays the VMs: the syncer keeps the last state it was given.
func feedContainerVMs(ctx context.Context, syncer *cvm.Syncer, nd snapshotter, cfg *config.Config, log *slog.Logger) {
	api, err := client.New(client.FromEnv, client.WithAPIVersionNegotiation())
	if err != nil {
		log.Warn("no docker client: container VMs are not kept", "error", err)
		return
	}
	defer api.Close()
	var last []cvm.Container
	t := time.NewTicker(containerVMsInterval)
	defer t.Stop()
	for {
		want, err := containersOnVicNetworks(ctx, api, nd, cfg)
		if err == nil && (last == nil || !reflect.DeepEqual(want, last)) {
			syncer.Set(want)
			last = want
		} else if err != nil && ctx.Err() == nil {
			log.Debug("reading the containers for their VMs failed", "error", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// containersOnVicNetworks lists every container with a vic network, running or not, with one
// NIC per vic network (on the bridge port group for bridge networks, on its own port group for
// a container network) and its published ports. The list is never nil, so that an empty one
// removes every container VM.
func containersOnVicNetworks(ctx context.Context, api containerLister, nd snapshotter, cfg *config.Config) ([]cvm.Container, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	nets, err := api.NetworkList(ctx, client.NetworkListOptions{Filters: make(client.Filters).Add("driver", "vic")})
	if err != nil {
		return nil, err
	}
	portGroups := map[string]string{} // network ID -> port group
	names := map[string]string{}      // network ID -> name
	for _, n := range nets.Items {
		if n.Driver != "vic" {
			continue
		}
		pg := n.Options[netdriver.OptionPortGroup]
		if pg == "" {
			pg = cfg.Bridge.PortGroup
		}
		portGroups[n.ID], names[n.ID] = pg, n.Name
	}
	list, err := api.ContainerList(ctx, client.ContainerListOptions{All: true})
	if err != nil {
		return nil, err
	}
	_, endpoints, err := nd.Snapshot(ctx)
	if err != nil {
		return nil, err
	}
	ports := map[string][]string{}
	for _, e := range endpoints {
		for _, p := range e.Ports {
			ports[e.ID] = append(ports[e.ID], p.String())
		}
	}
	want := []cvm.Container{}
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
			out.Ports = append(out.Ports, ports[es.EndpointID]...)
			if len(es.MacAddress) == 0 {
				continue // stopped: the VM keeps the cards it had
			}
			nic := cvm.NIC{Network: names[es.NetworkID], PortGroup: pg, MAC: es.MacAddress.String()}
			if es.IPAddress.IsValid() {
				nic.Address = netip.PrefixFrom(es.IPAddress, es.IPPrefixLen)
			}
			out.NICs = append(out.NICs, nic)
		}
		if !onVic || len(out.NICs) == 0 && out.Running {
			continue // not ours, or starting: its interfaces are not there yet
		}
		sort.Slice(out.NICs, func(i, j int) bool { return out.NICs[i].Network < out.NICs[j].Network })
		sort.Strings(out.Ports)
		want = append(want, out)
	}
	sort.Slice(want, func(i, j int) bool { return want[i].ID < want[j].ID })
	return want, nil
}

// keepContainerVMs keeps a VM in vSphere per container on a vic network (SPEC §7) until ctx
// ends: Docker is read on one goroutine, vSphere written on another, so that neither a slow
// vCenter nor a slow Docker ever holds up a container.
func keepContainerVMs(ctx context.Context, t *session.Target, v *vch.VCH, nd snapshotter, log *slog.Logger) {
	syncer := cvm.NewSyncer(cvm.ConnectTarget(t), cvm.Options{
		VCH: v.Name, Datacenter: t.Datacenter,
		Progress: func(step string) { log.Info("container VMs: " + step) },
	})
	syncer.Failed = func(err error) { log.Warn("container VMs are behind: vSphere refused or is unreachable", "error", err) }
	go feedContainerVMs(ctx, syncer, nd, v.Config, log)
	syncer.Run(ctx)
}
