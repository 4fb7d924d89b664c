package netdriver

import (
	"context"
	"errors"
	"fmt"
	"net/netip"

	"github.com/docker-vic/docker-vic/endpoint/link"

	"github.com/docker/go-plugins-helpers/network"
)

// FoundNetwork is a vic network as Docker shows it, found when the state is rebuilt.
type FoundNetwork struct {
	ID string
	// Options are its driver options (-o).
	Options  map[string]string
	Internal bool
	IPv6     bool
	// Subnets are its IPv4 subnets, each with the gateway Docker holds.
	Subnets []FoundSubnet
}

// FoundSubnet is one subnet of a network and its gateway.
type FoundSubnet struct {
	Subnet  netip.Prefix
	Gateway netip.Addr
}

// request is what Docker sent to CreateNetwork for the network.
func (f FoundNetwork) request() *network.CreateNetworkRequest {
	generic := map[string]any{}
	for k, v := range f.Options {
		generic[k] = v
	}
	r := &network.CreateNetworkRequest{NetworkID: f.ID, Options: map[string]any{
		optGeneric: generic, optInternal: f.Internal, optEnableIPv6: f.IPv6,
	}}
	for _, s := range f.Subnets {
		gw := ""
		if s.Gateway.IsValid() {
			gw = netip.PrefixFrom(s.Gateway, s.Subnet.Bits()).String()
		}
		r.IPv4Data = append(r.IPv4Data, &network.IPAMData{Pool: s.Subnet.String(), Gateway: gw})
	}
	return r
}

// FoundEndpoint is an endpoint of a running container, found in Docker when the state is
// rebuilt: what Docker sent to CreateEndpoint, the container's sandbox, and the ports the
// container publishes through this endpoint, as Docker's port map and exposed ports would send
// them (host ports the kernel shows in place of 0 or a range).
type FoundEndpoint struct {
	Create   *network.CreateEndpointRequest
	Sandbox  string
	Bindings []PortBinding
	Exposed  []ExposedPort
}

// Rebuild replaces the driver's state, after the state database was lost, with the networks
// Docker has and the endpoints of its running containers: every record is checked as the
// handlers check Docker's requests (CreateNetwork, CreateEndpoint), and the
// published host ports are held again. What does not pass is left out and returned in
// skipped. On error the state and the store are as they were. Call Restore without pruning
// next: the kernel is not touched here.
func (d *Driver) Rebuild(ctx context.Context, nets []FoundNetwork, eps []FoundEndpoint) (skipped []error, err error) {
	if err := d.acquire(ctx); err != nil {
		return nil, err
	}
	defer d.release()
	oldNets, oldEps, oldHeld := d.networks, d.endpoints, d.held
	d.networks, d.endpoints, d.held = map[string]*Network{}, map[string]*Endpoint{}, nil
	success := false
	defer func() {
		if !success {
			d.releasePorts()
			d.networks, d.endpoints, d.held = oldNets, oldEps, oldHeld
		}
	}()
	for _, f := range nets {
		if err := d.rebuildNetwork(f.request()); err != nil {
			skipped = append(skipped, err)
		}
	}
	for _, f := range eps {
		skipped = append(skipped, d.rebuildEndpoint(f)...)
	}
	if err := d.replaceStore(); err != nil {
		return nil, err
	}
	success = true
	return skipped, nil
}

// rebuildNetwork adds the network Docker created with r, checked as a stored one at a start:
// one that overlaps a network of the endpoint VM keeps working, and is said so loudly.
func (d *Driver) rebuildNetwork(r *network.CreateNetworkRequest) error {
	n, err := d.parseNetwork(r)
	if err != nil {
		return err
	}
	if err := d.checkRecord(n); err != nil {
		return fmt.Errorf("network %s: %w", link.ShortID(n.ID), err)
	}
	if err := d.checkVicOverlap(n); err != nil {
		return err
	}
	d.networks[n.ID] = n
	return nil
}

// rebuildEndpoint adds one endpoint with its ports. A port that cannot be published again is
// left out of it, and said so.
func (d *Driver) rebuildEndpoint(f FoundEndpoint) []error {
	e, _, err := d.newEndpoint(f.Create)
	if err != nil {
		return []error{err}
	}
	e.Sandbox = f.Sandbox
	n := d.networks[e.NetworkID]
	var skipped []error
	switch {
	case n.PortGroup != "" && len(f.Bindings)+len(f.Exposed) > 0:
		cn, ok := d.containerNetwork(n.PortGroup)
		if !ok {
			skipped = append(skipped, fmt.Errorf("endpoint %s: container network %q is no longer configured on this endpoint: its ports are left out", link.ShortID(e.ID), n.PortGroup))
			break
		}
		if e.Ports, err = containerPorts(e, cn.Config, f.Bindings, f.Exposed); err != nil {
			skipped = append(skipped, fmt.Errorf("endpoint %s: %w", link.ShortID(e.ID), err))
		}
	case n.PortGroup == "" && !n.Internal:
		for _, b := range f.Bindings {
			p, err := d.hold(e, b, e.Ports)
			if err != nil {
				skipped = append(skipped, fmt.Errorf("endpoint %s: %w", link.ShortID(e.ID), err))
				continue
			}
			e.Ports = append(e.Ports, p)
		}
	}
	d.endpoints[e.ID] = e
	return skipped
}

// releasePorts gives back the host ports of the driver's endpoints on bridge networks.
func (d *Driver) releasePorts() {
	for _, e := range d.endpoints {
		if n := d.networks[e.NetworkID]; n != nil && n.Bridge != "" {
			for _, p := range e.Ports {
				d.holder.Release(p.Key())
			}
		}
	}
}

// replaceStore makes the store hold the driver's networks and endpoints, and nothing else.
func (d *Driver) replaceStore() error {
	oldNets, err := d.store.Networks()
	if err != nil {
		return fmt.Errorf("reading the stored networks: %w", err)
	}
	oldEps, err := d.store.Endpoints()
	if err != nil {
		return fmt.Errorf("reading the stored endpoints: %w", err)
	}
	var errs []error
	for _, n := range oldNets {
		errs = append(errs, d.store.DeleteNetwork(n.ID))
	}
	for _, e := range oldEps {
		errs = append(errs, d.store.DeleteEndpoint(e.ID))
	}
	for _, n := range d.networks {
		errs = append(errs, d.store.PutNetwork(n))
	}
	for _, e := range d.endpoints {
		errs = append(errs, d.store.PutEndpoint(e))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("saving the rebuilt networks and endpoints: %w", err)
	}
	return nil
}
