// Package portsapi is the contract of POST /VIC.Ports on the vic-endpoint socket: the vic
// bridge networks, their endpoints (containers' interfaces) with the ports published for them,
// the public address and the daemon's version. Docker shows no ports of a remote driver, so
// `docker vic port`, `ps` and `version` ask the daemon here. The daemon answers through Handler,
// the CLI asks through Ask; the round-trip test keeps both sides in step.
package portsapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"time"
)

const (
	// Path is the route of the request.
	Path = "/VIC.Ports"
	// DefaultSocket is where vic-endpoint serves the drivers and this route.
	DefaultSocket = "/run/docker/plugins/vic.sock"
	// EnvSocket names another socket for the CLI.
	EnvSocket = "VIC_ENDPOINT_SOCKET"
	// Timeout bounds one request, on both sides.
	Timeout = 10 * time.Second
	// maxAnswer bounds what the client reads of an answer.
	maxAnswer = 64 << 20
)

// Errors Ask returns when the daemon cannot be asked, for callers to advise on.
var (
	ErrUnreachable = errors.New("the vic endpoint is not reachable")
	ErrRootOnly    = errors.New("the vic endpoint socket is root-only")
)

// Answer is the daemon's answer.
type Answer struct {
	// Networks are the vic bridge networks, so that clients can tell them from others.
	Networks  []Network
	Endpoints []Endpoint
	// Public is the endpoint VM's public address, where ports without a host IP are published
	// (and on 127.0.0.1).
	Public string
	// Version is the daemon's version.
	Version string
}

// Network is one vic bridge network.
type Network struct {
	NetworkID string
	Bridge    string
	Subnet    string
}

// Endpoint is one container's interface on a vic bridge network.
type Endpoint struct {
	EndpointID string
	NetworkID  string
	// Address is the container's address with its prefix length (172.16.0.2/16).
	Address string
	MAC     string
	Ports   []Port
}

// Port is one published port; an empty HostIP means the public address and loopback.
type Port struct {
	Proto         string
	HostIP        string
	HostPort      uint16
	ContainerPort uint16
}

// Endpoint returns the endpoint with id, or nil.
func (a *Answer) Endpoint(id string) *Endpoint {
	for i := range a.Endpoints {
		if id != "" && a.Endpoints[i].EndpointID == id {
			return &a.Endpoints[i]
		}
	}
	return nil
}

// IsVicNetwork reports whether the network with Docker ID id is a vic bridge network.
func (a *Answer) IsVicNetwork(id string) bool {
	for _, n := range a.Networks {
		if id != "" && n.NetworkID == id {
			return true
		}
	}
	return false
}

// HostAddrs are the addresses a port is published on: an empty host IP means the public
// address and loopback.
func (a *Answer) HostAddrs(p Port) []string {
	if p.HostIP != "" {
		return []string{p.HostIP}
	}
	return []string{a.Public, "127.0.0.1"}
}

// Handler answers the request from snapshot, within Timeout. A failed snapshot is answered
// with HTTP 500 and {"Err": "..."}, as the driver routes are, and logged at warning level.
func Handler(snapshot func(ctx context.Context) (*Answer, error), log *slog.Logger) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), Timeout)
		defer cancel()
		a, err := snapshot(ctx)
		w.Header().Set("Content-Type", "application/json")
		if err != nil {
			log.Warn("request failed", "method", "VIC.Ports", "error", err)
			w.WriteHeader(http.StatusInternalServerError)
			_ = json.NewEncoder(w).Encode(map[string]string{"Err": err.Error()})
			return
		}
		_ = json.NewEncoder(w).Encode(a)
	})
}

// Ask asks the daemon serving socket. It wraps ErrUnreachable when nothing answers there and
// ErrRootOnly when the caller may not open the socket.
func Ask(ctx context.Context, socket string) (*Answer, error) {
	unreachable := fmt.Errorf("%w at %s", ErrUnreachable, socket)
	if _, err := os.Stat(socket); err != nil {
		return nil, unreachable
	}
	hc := &http.Client{Timeout: Timeout, Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", socket)
		},
	}}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://vic-endpoint"+Path, nil)
	if err != nil {
		return nil, err
	}
	res, err := hc.Do(req)
	if errors.Is(err, os.ErrPermission) {
		return nil, fmt.Errorf("%w: %s", ErrRootOnly, socket)
	}
	if err != nil {
		return nil, unreachable
	}
	defer res.Body.Close()
	body := io.LimitReader(res.Body, maxAnswer)
	if res.StatusCode != http.StatusOK {
		var e struct{ Err string }
		_ = json.NewDecoder(body).Decode(&e)
		return nil, fmt.Errorf("the vic endpoint at %s answered %s: %s", socket, res.Status, e.Err)
	}
	var a Answer
	if err := json.NewDecoder(body).Decode(&a); err != nil {
		return nil, fmt.Errorf("reading the published ports from the vic endpoint at %s: %w", socket, err)
	}
	return &a, nil
}
