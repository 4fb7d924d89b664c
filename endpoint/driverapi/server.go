// Package driverapi serves the libnetwork remote network driver and IPAM driver named vic on one
// unix socket. It owns the transport only: decoding requests (empty bodies included), a
// deadline per request, and errors as HTTP 500 with {"Err": ...}. The drivers behind it are
// plain Go interfaces.
package driverapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/docker/go-plugins-helpers/ipam"
	"github.com/docker/go-plugins-helpers/network"
)

// Name is the name Docker knows both drivers by: `-d vic` and `--ipam-driver vic`.
const Name = "vic"

// DefaultSocket is where Docker looks for the plugin.
const DefaultSocket = "/run/docker/plugins/" + Name + ".sock"

// contentType is the media type of plugin requests and responses.
const contentType = "application/vnd.docker.plugins.v1.1+json"

// DefaultTimeout bounds each request: Docker itself waits forever on a hung handler.
const DefaultTimeout = 30 * time.Second

// NetworkDriver is the remote network driver.
type NetworkDriver interface {
	GetCapabilities(ctx context.Context) (*network.CapabilitiesResponse, error)
	CreateNetwork(ctx context.Context, r *network.CreateNetworkRequest) error
	DeleteNetwork(ctx context.Context, r *network.DeleteNetworkRequest) error
	CreateEndpoint(ctx context.Context, r *network.CreateEndpointRequest) (*network.CreateEndpointResponse, error)
	DeleteEndpoint(ctx context.Context, r *network.DeleteEndpointRequest) error
	EndpointInfo(ctx context.Context, r *network.InfoRequest) (*network.InfoResponse, error)
	Join(ctx context.Context, r *network.JoinRequest) (*network.JoinResponse, error)
	Leave(ctx context.Context, r *network.LeaveRequest) error
	ProgramExternalConnectivity(ctx context.Context, r *network.ProgramExternalConnectivityRequest) error
	RevokeExternalConnectivity(ctx context.Context, r *network.RevokeExternalConnectivityRequest) error
}

// IPAMDriver is the remote IPAM driver.
type IPAMDriver interface {
	GetCapabilities(ctx context.Context) (*ipam.CapabilitiesResponse, error)
	GetDefaultAddressSpaces(ctx context.Context) (*ipam.AddressSpacesResponse, error)
	RequestPool(ctx context.Context, r *ipam.RequestPoolRequest) (*ipam.RequestPoolResponse, error)
	ReleasePool(ctx context.Context, r *ipam.ReleasePoolRequest) error
	RequestAddress(ctx context.Context, r *ipam.RequestAddressRequest) (*ipam.RequestAddressResponse, error)
	ReleaseAddress(ctx context.Context, r *ipam.ReleaseAddressRequest) error
}

// Server routes plugin requests to the two drivers.
type Server struct {
	mux     *http.ServeMux
	timeout time.Duration
	log     *slog.Logger
}

// NewServer returns a server for both drivers; timeout bounds every request (0 means DefaultTimeout).
func NewServer(nd NetworkDriver, id IPAMDriver, timeout time.Duration, log *slog.Logger) *Server {
	if timeout == 0 {
		timeout = DefaultTimeout
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s := &Server{mux: http.NewServeMux(), timeout: timeout, log: log}
	s.mux.HandleFunc("POST /Plugin.Activate", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, map[string][]string{"Implements": {"NetworkDriver", "IpamDriver"}})
	})

	route(s, "NetworkDriver.GetCapabilities", func(ctx context.Context, _ *struct{}) (*network.CapabilitiesResponse, error) {
		return nd.GetCapabilities(ctx)
	})
	route(s, "NetworkDriver.CreateNetwork", empty(nd.CreateNetwork))
	route(s, "NetworkDriver.DeleteNetwork", empty(nd.DeleteNetwork))
	route(s, "NetworkDriver.CreateEndpoint", nd.CreateEndpoint)
	route(s, "NetworkDriver.DeleteEndpoint", empty(nd.DeleteEndpoint))
	route(s, "NetworkDriver.EndpointOperInfo", nd.EndpointInfo)
	route(s, "NetworkDriver.Join", nd.Join)
	route(s, "NetworkDriver.Leave", empty(nd.Leave))
	route(s, "NetworkDriver.ProgramExternalConnectivity", empty(nd.ProgramExternalConnectivity))
	route(s, "NetworkDriver.RevokeExternalConnectivity", empty(nd.RevokeExternalConnectivity))
	// Swarm-only and discovery calls. A swarm's manager allocates a network through
	// AllocateNetwork, and every node creates it with the options that AllocateNetwork answered,
	// not the network's own: they are handed back, so that each node learns the port group of a
	// container network and the MTU of a bridge network. A local-scope driver never gets it.
	route(s, "NetworkDriver.AllocateNetwork", func(_ context.Context, r *network.AllocateNetworkRequest) (*network.AllocateNetworkResponse, error) {
		return &network.AllocateNetworkResponse{Options: r.Options}, nil
	})
	route(s, "NetworkDriver.FreeNetwork", empty(func(context.Context, *network.FreeNetworkRequest) error { return nil }))
	route(s, "NetworkDriver.DiscoverNew", empty(func(context.Context, *network.DiscoveryNotification) error { return nil }))
	route(s, "NetworkDriver.DiscoverDelete", empty(func(context.Context, *network.DiscoveryNotification) error { return nil }))

	route(s, "IpamDriver.GetCapabilities", func(ctx context.Context, _ *struct{}) (*ipam.CapabilitiesResponse, error) {
		return id.GetCapabilities(ctx)
	})
	route(s, "IpamDriver.GetDefaultAddressSpaces", func(ctx context.Context, _ *struct{}) (*ipam.AddressSpacesResponse, error) {
		return id.GetDefaultAddressSpaces(ctx)
	})
	route(s, "IpamDriver.RequestPool", id.RequestPool)
	route(s, "IpamDriver.ReleasePool", empty(id.ReleasePool))
	route(s, "IpamDriver.RequestAddress", id.RequestAddress)
	route(s, "IpamDriver.ReleaseAddress", empty(id.ReleaseAddress))
	return s
}

// Handle registers an extra route on the plugin socket, with a ServeMux pattern such as
// "POST /VIC.Ports". The handler sets its own deadline.
func (s *Server) Handle(pattern string, h http.Handler) { s.mux.Handle(pattern, h) }

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.mux.ServeHTTP(w, r) }

// empty adapts a call that answers nothing but an error.
func empty[Req any](fn func(context.Context, *Req) error) func(context.Context, *Req) (*struct{}, error) {
	return func(ctx context.Context, r *Req) (*struct{}, error) { return &struct{}{}, fn(ctx, r) }
}

// route registers one method: it decodes the body (see decode), runs fn
// under the server's deadline and encodes the answer or the error.
func route[Req, Res any](s *Server, method string, fn func(context.Context, *Req) (Res, error)) {
	s.mux.HandleFunc("POST /"+method, func(w http.ResponseWriter, r *http.Request) {
		req, err := decode[Req](w, r, method)
		if err != nil {
			s.log.Warn("request refused", "method", method, "error", err)
			writeError(w, err)
			return
		}
		ctx, cancel := context.WithTimeout(r.Context(), s.timeout)
		defer cancel()
		start := time.Now()
		res, err := fn(ctx, req)
		if err != nil {
			if errors.Is(err, context.DeadlineExceeded) {
				err = fmt.Errorf("%s did not finish within %s: %w", method, s.timeout, err)
			}
			s.log.Warn("request failed", "method", method, "duration", time.Since(start), "error", err)
			writeError(w, err)
			return
		}
		s.log.Debug("request", "method", method, "duration", time.Since(start), "request", req, "answer", res)
		writeJSON(w, http.StatusOK, res)
	})
}

// writeError answers 500 with {"Err": ...}: IPAM successes carry "Error", so only the status
// code tells Docker that a call failed.
func writeError(w http.ResponseWriter, err error) {
	writeJSON(w, http.StatusInternalServerError, map[string]string{"Err": err.Error()})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", contentType)
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// Listen opens the plugin socket at path, root-only, replacing a stale socket left by an
// earlier run.
func Listen(path string) (net.Listener, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, fmt.Errorf("creating the plugin socket directory: %w", err)
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("removing the stale plugin socket %s: %w", path, err)
	}
	l, err := net.Listen("unix", path)
	if err != nil {
		return nil, fmt.Errorf("listening on the plugin socket %s: %w", path, err)
	}
	if err := os.Chmod(path, 0o600); err != nil {
		l.Close()
		return nil, fmt.Errorf("making the plugin socket %s root-only: %w", path, err)
	}
	return l, nil
}

// Serve answers plugin requests on l until ctx ends.
func (s *Server) Serve(ctx context.Context, l net.Listener) error {
	srv := &http.Server{Handler: s, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		<-ctx.Done()
		shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(shutdown)
	}()
	if err := srv.Serve(l); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
