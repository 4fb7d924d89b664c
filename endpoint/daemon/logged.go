//go:build linux

package daemon

import (
	"context"
	"log/slog"

	"github.com/docker-vic/docker-vic/endpoint/link"

	"github.com/docker/go-plugins-helpers/network"

	"github.com/docker-vic/docker-vic/netdriver"
)

// loggedDriver is the network driver with one log line per endpoint change; the driver logs
// network changes itself.
type loggedDriver struct {
	*netdriver.Driver
	log *slog.Logger
}

// CreateEndpoint implements driverapi.NetworkDriver.
func (d loggedDriver) CreateEndpoint(ctx context.Context, r *network.CreateEndpointRequest) (*network.CreateEndpointResponse, error) {
	res, err := d.Driver.CreateEndpoint(ctx, r)
	if err == nil {
		var addr string
		if r.Interface != nil {
			addr = r.Interface.Address
		}
		d.log.Info("endpoint created", "network", link.ShortID(r.NetworkID), "endpoint", link.ShortID(r.EndpointID), "address", addr)
	}
	return res, err
}

// DeleteEndpoint implements driverapi.NetworkDriver.
func (d loggedDriver) DeleteEndpoint(ctx context.Context, r *network.DeleteEndpointRequest) error {
	err := d.Driver.DeleteEndpoint(ctx, r)
	if err == nil {
		d.log.Info("endpoint deleted", "network", link.ShortID(r.NetworkID), "endpoint", link.ShortID(r.EndpointID))
	}
	return err
}

// ProgramExternalConnectivity implements driverapi.NetworkDriver.
func (d loggedDriver) ProgramExternalConnectivity(ctx context.Context, r *network.ProgramExternalConnectivityRequest) error {
	err := d.Driver.ProgramExternalConnectivity(ctx, r)
	if err == nil {
		d.log.Info("ports published", "network", link.ShortID(r.NetworkID), "endpoint", link.ShortID(r.EndpointID))
	}
	return err
}

// RevokeExternalConnectivity implements driverapi.NetworkDriver.
func (d loggedDriver) RevokeExternalConnectivity(ctx context.Context, r *network.RevokeExternalConnectivityRequest) error {
	err := d.Driver.RevokeExternalConnectivity(ctx, r)
	if err == nil {
		d.log.Info("ports revoked", "network", link.ShortID(r.NetworkID), "endpoint", link.ShortID(r.EndpointID))
	}
	return err
}
