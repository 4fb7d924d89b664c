package netdriver

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"

	"github.com/docker-vic/docker-vic/endpoint/link"

	"github.com/docker/go-plugins-helpers/network"

	"github.com/docker-vic/docker-vic/endpoint/hostports"
	"github.com/docker-vic/docker-vic/endpoint/nat"
)

// Options of ProgramExternalConnectivity: the -p port map, and the ports of --expose and the
// image's EXPOSE.
const (
	optPortMap      = "com.docker.network.portmap"
	optExposedPorts = "com.docker.network.endpoint.exposedports"
)

// PortBinding is one entry of Docker's port map; the CLI splits -p ranges into single
// entries, but a host range for one container port (-p 8000-8010:80) arrives as HostPortEnd.
// Proto is the IANA protocol number (6 tcp, 17 udp, 132 sctp).
type PortBinding struct {
	Proto       int
	Port        uint16
	HostIP      string
	HostPort    uint16
	HostPortEnd uint16
}

func (b PortBinding) String() string {
	host := fmt.Sprint(b.HostPort)
	if b.HostPortEnd > b.HostPort {
		host += fmt.Sprintf("-%d", b.HostPortEnd)
	}
	if b.HostIP != "" {
		host = b.HostIP + ":" + host
	}
	proto, _ := hostports.ProtoFromNumber(b.Proto)
	return fmt.Sprintf("-p %s:%d/%s", host, b.Port, proto)
}

// ProgramExternalConnectivity implements driverapi.NetworkDriver: it publishes the container's
// ports on the endpoint's public address and on loopback, all of them or none.
func (d *Driver) ProgramExternalConnectivity(ctx context.Context, r *network.ProgramExternalConnectivityRequest) error {
	bindings, err := parsePortMap(r.Options[optPortMap])
	if err != nil {
		return fmt.Errorf("endpoint %s: %w", link.ShortID(r.EndpointID), err)
	}
	if err := d.acquire(ctx); err != nil {
		return err
	}
	defer d.release()
	e, ok := d.endpoints[r.EndpointID]
	if !ok {
		return fmt.Errorf("endpoint %s is not known to the vic driver", link.ShortID(r.EndpointID))
	}
	d.settlePast(ctx, e.NetworkID) // a dead endpoint of the engine's past may hold a host port
	n := d.networks[e.NetworkID]
	if n != nil && n.PortGroup != "" && len(e.Ports) == 0 {
		exposed, err := parseExposed(r.Options[optExposedPorts])
		if err != nil {
			return fmt.Errorf("endpoint %s: %w", link.ShortID(r.EndpointID), err)
		}
		if len(bindings)+len(exposed) > 0 {
			return d.publishContainerPorts(e, n, bindings, exposed)
		}
		return nil
	}
	if n == nil || n.Internal || len(bindings) == 0 || len(e.Ports) > 0 {
		return nil // internal networks publish nothing, as with Docker's bridge; a repeat is done
	}

	success := false
	var held []Port
	defer func() {
		if !success {
			for _, p := range held {
				d.holder.Release(p.Key())
			}
		}
	}()
	for _, b := range bindings {
		p, err := d.hold(e, b, held)
		if err != nil {
			return err
		}
		held = append(held, p)
	}
	added := d.mappings(e, held)
	if err := d.firewall.ChangePorts(ctx, added, nil); err != nil {
		return fmt.Errorf("publishing the ports of endpoint %s: %w", link.ShortID(e.ID), err)
	}
	e.Ports = held
	if err := d.store.PutEndpoint(e); err != nil {
		e.Ports = nil
		_ = d.firewall.ChangePorts(ctx, nil, added)
		return fmt.Errorf("saving endpoint %s: %w", link.ShortID(e.ID), err)
	}
	success = true
	return nil
}

// hold reserves the host port of one binding: the one asked for, the first free one of a
// host range, or an ephemeral one for host port 0. mine are the ports the same container
// already holds in this call: a port of its own -p list is never taken twice.
func (d *Driver) hold(e *Endpoint, b PortBinding, mine []Port) (Port, error) {
	proto, err := hostports.ProtoFromNumber(b.Proto)
	if err != nil {
		return Port{}, fmt.Errorf("port %s: %w", b, err)
	}
	hostIP, err := d.hostIP(b)
	if err != nil {
		return Port{}, err
	}
	p := Port{Proto: proto, HostIP: hostIP, ContainerPort: b.Port}
	if b.HostPort == 0 {
		port, err := d.holder.HoldEphemeral(proto, hostIP)
		if err != nil {
			return Port{}, fmt.Errorf("port %s: %w", b, err)
		}
		p.HostPort = port
		return p, nil
	}
	last := max(b.HostPortEnd, b.HostPort)
	var firstErr error
	for port := b.HostPort; ; port++ {
		p.HostPort = port
		err := ownClash(mine, p)
		if err == nil {
			err = d.publishedBy(e, p)
		}
		if err == nil {
			if err = d.holder.Hold(p.Key()); err == nil {
				return p, nil
			}
		}
		if firstErr == nil {
			firstErr = err
		}
		if port == last {
			break
		}
	}
	var inUse *hostports.InUseError
	var clash *ownClashError
	if errors.As(firstErr, &inUse) || errors.As(firstErr, &clash) || last == b.HostPort {
		return Port{}, fmt.Errorf("cannot publish %s: %w", b, firstErr)
	}
	return Port{}, fmt.Errorf("cannot publish %s: every host port of the range is in use", b)
}

// hostIP checks the host address of a binding: published ports live on the endpoint's public
// address and on loopback, never on the management or client addresses.
func (d *Driver) hostIP(b PortBinding) (netip.Addr, error) {
	if b.HostIP == "" {
		return netip.Addr{}, nil
	}
	ip, err := netip.ParseAddr(b.HostIP)
	if err != nil {
		return netip.Addr{}, fmt.Errorf("port %s: host address %q is not an IP address", b, b.HostIP)
	}
	if nat.ValidateHostIP(d.public, ip) == nil {
		if ip.IsUnspecified() {
			return netip.Addr{}, nil
		}
		return ip.Unmap(), nil
	}
	return netip.Addr{}, fmt.Errorf("port %s: host address %s is neither the endpoint's public address %s nor 127.0.0.1", b, ip, d.public)
}

// ownClashError says that a container's -p list names one host port twice.
type ownClashError struct{ port, earlier Port }

func (e *ownClashError) Error() string {
	return fmt.Sprintf("host port %d/%s is already published by this container's own %s: its -p list names that host port twice",
		e.port.HostPort, e.port.Proto, e.earlier)
}

// ownClash fails when p overlaps a port the same container holds already.
func ownClash(mine []Port, p Port) error {
	for _, q := range mine {
		if q.overlaps(p) {
			return &ownClashError{port: p, earlier: q}
		}
	}
	return nil
}

// overlaps reports whether two published ports take the same host port: a port on every
// address overlaps the same port on one address.
func (p Port) overlaps(q Port) bool {
	return q.Proto == p.Proto && q.HostPort == p.HostPort &&
		(!q.HostIP.IsValid() || !p.HostIP.IsValid() || q.HostIP == p.HostIP)
}

// publishedBy fails when another endpoint of the driver already publishes the host port.
func (d *Driver) publishedBy(self *Endpoint, p Port) error {
	for _, o := range d.endpoints {
		if o == self {
			continue
		}
		for _, q := range o.Ports {
			if q.overlaps(p) {
				return &hostports.InUseError{Key: p.Key(), By: fmt.Sprintf("%s (%s)", d.describe(o.ID), q)}
			}
		}
	}
	return nil
}

// RevokeExternalConnectivity implements driverapi.NetworkDriver; unknown endpoints are fine.
func (d *Driver) RevokeExternalConnectivity(ctx context.Context, r *network.RevokeExternalConnectivityRequest) error {
	if err := d.acquire(ctx); err != nil {
		return err
	}
	defer d.release()
	e, ok := d.endpoints[r.EndpointID]
	if !ok || len(e.Ports) == 0 {
		return nil
	}
	if n := d.networks[e.NetworkID]; n != nil && n.PortGroup != "" {
		return d.revokeContainerPorts(e, n)
	}
	old := e.Ports
	if err := d.firewall.ChangePorts(ctx, nil, d.mappings(e, old)); err != nil {
		return fmt.Errorf("removing the published ports of endpoint %s: %w", link.ShortID(e.ID), err)
	}
	e.Ports = nil
	for _, p := range old {
		d.holder.Release(p.Key())
	}
	if err := d.store.PutEndpoint(e); err != nil {
		return fmt.Errorf("saving endpoint %s: %w", link.ShortID(e.ID), err)
	}
	return nil
}

// ExposedPort is one entry of Docker's exposed ports (--expose, EXPOSE).
type ExposedPort struct {
	Proto int
	Port  uint16
}

func parseExposed(v any) ([]ExposedPort, error) { return decodeOption[ExposedPort](v, "exposed ports") }

func parsePortMap(v any) ([]PortBinding, error) { return decodeOption[PortBinding](v, "port map") }

// decodeOption reads a list option of Docker's, which arrives decoded as generic JSON.
func decodeOption[T any](v any, what string) ([]T, error) {
	if v == nil {
		return nil, nil
	}
	raw, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	var out []T
	if err := json.Unmarshal(raw, &out); err != nil {
		return nil, fmt.Errorf("reading the %s docker sent: %w", what, err)
	}
	return out, nil
}
