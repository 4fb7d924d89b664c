//go:build linux

package main

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/netip"
	"time"

	"github.com/docker-vic/docker-vic/netdriver"
)

// portsPath is the route `docker vic port` and `docker vic ps` ask for published ports.
const portsPath = "/VIC.Ports"

// portsTimeout bounds one /VIC.Ports request.
const portsTimeout = 10 * time.Second

// snapshotter is the part of the network driver the ports route reads.
type snapshotter interface {
	Snapshot(ctx context.Context) ([]netdriver.Network, []netdriver.Endpoint, error)
}

// portsResponse is the answer of POST /VIC.Ports.
type portsResponse struct {
	// Networks are the vic bridge networks, so that clients can tell them from others.
	Networks  []portsNetwork
	Endpoints []portsEndpoint
	// Public is the endpoint's public address, where ports without a host IP are published
	// (and on 127.0.0.1).
	Public string
	// Version is the daemon's version, for `docker vic version`.
	Version string
}

// portsNetwork is one vic bridge network.
type portsNetwork struct {
	NetworkID string
	Bridge    string
	Subnet    string
}

// portsEndpoint is one container endpoint on a vic bridge network.
type portsEndpoint struct {
	EndpointID string
	NetworkID  string
	// Address is the container's address with its prefix length (172.16.0.2/16).
	Address string
	MAC     string
	Ports   []publishedPort
}

// publishedPort is one published port; an empty HostIP means the public address and loopback.
type publishedPort struct {
	Proto         string
	HostIP        string
	HostPort      uint16
	ContainerPort uint16
}

// portsHandler answers POST /VIC.Ports from the driver's snapshot.
func portsHandler(d snapshotter, public netip.Addr, log *slog.Logger) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), portsTimeout)
		defer cancel()
		nets, eps, err := d.Snapshot(ctx)
		w.Header().Set("Content-Type", "application/json")
		if err != nil {
			log.Warn("request failed", "method", "VIC.Ports", "error", err)
			w.WriteHeader(http.StatusInternalServerError)
			_ = json.NewEncoder(w).Encode(map[string]string{"Err": err.Error()})
			return
		}
		_ = json.NewEncoder(w).Encode(newPortsResponse(nets, eps, public))
	}
}

func newPortsResponse(nets []netdriver.Network, eps []netdriver.Endpoint, public netip.Addr) portsResponse {
	res := portsResponse{Networks: []portsNetwork{}, Endpoints: []portsEndpoint{}, Public: public.String(), Version: version}
	for _, n := range nets {
		res.Networks = append(res.Networks, portsNetwork{NetworkID: n.ID, Bridge: n.Bridge, Subnet: n.Subnet.String()})
	}
	for _, e := range eps {
		pe := portsEndpoint{EndpointID: e.ID, NetworkID: e.NetworkID, MAC: e.MAC, Ports: []publishedPort{}}
		if e.Address.IsValid() {
			pe.Address = e.Address.String()
		}
		for _, p := range e.Ports {
			pp := publishedPort{Proto: string(p.Proto), HostPort: p.HostPort, ContainerPort: p.ContainerPort}
			if p.HostIP.IsValid() && !p.HostIP.IsUnspecified() {
				pp.HostIP = p.HostIP.String()
			}
			pe.Ports = append(pe.Ports, pp)
		}
		res.Endpoints = append(res.Endpoints, pe)
	}
	return res
}
