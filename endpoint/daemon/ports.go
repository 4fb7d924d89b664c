//go:build linux

package daemon

import (
	"context"
	"log/slog"
	"net/http"
	"net/netip"

	"github.com/docker-vic/docker-vic/api/portsapi"
	"github.com/docker-vic/docker-vic/netdriver"
)

// snapshotter is the part of the network driver the ports route reads.
type snapshotter interface {
	Snapshot(ctx context.Context) ([]netdriver.Network, []netdriver.Endpoint, error)
}

// portsHandler answers POST /VIC.Ports from the driver's snapshot, with the daemon's version;
// while the state is rebuilt, with the gate's sentence.
func portsHandler(d snapshotter, g *gate, public netip.Addr, version string, log *slog.Logger) http.Handler {
	return portsapi.Handler(func(ctx context.Context) (*portsapi.Answer, error) {
		if err := g.refuse(); err != nil {
			return nil, err
		}
		nets, eps, err := d.Snapshot(ctx)
		if err != nil {
			return nil, err
		}
		return portsAnswer(nets, eps, public, version), nil
	}, log)
}

// portsAnswer describes the driver's bridge networks and endpoints as the CLI reads them.
func portsAnswer(nets []netdriver.Network, eps []netdriver.Endpoint, public netip.Addr, version string) *portsapi.Answer {
	a := &portsapi.Answer{Networks: []portsapi.Network{}, Endpoints: []portsapi.Endpoint{}, Public: public.String(), Version: version}
	for _, n := range nets {
		a.Networks = append(a.Networks, portsapi.Network{NetworkID: n.ID, Bridge: n.Bridge, Subnet: n.Subnet.String()})
	}
	for _, e := range eps {
		pe := portsapi.Endpoint{EndpointID: e.ID, NetworkID: e.NetworkID, MAC: e.MAC, Ports: []portsapi.Port{}}
		if e.Address.IsValid() {
			pe.Address = e.Address.String()
		}
		for _, p := range e.Ports {
			pp := portsapi.Port{Proto: string(p.Proto), HostPort: p.HostPort, ContainerPort: p.ContainerPort}
			if p.HostIP.IsValid() && !p.HostIP.IsUnspecified() {
				pp.HostIP = p.HostIP.String()
			}
			pe.Ports = append(pe.Ports, pp)
		}
		a.Endpoints = append(a.Endpoints, pe)
	}
	return a
}
