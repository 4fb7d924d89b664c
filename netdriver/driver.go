// Package netdriver is the libnetwork remote network driver named vic, for bridge networks and
// container networks (container.go): it
// validates what Docker sends, persists networks, endpoints and published ports, and asks the
// endpoint's link, port and NAT layers to make them real. It stays thin: the kernel work lives
// in endpoint/link, endpoint/hostports and endpoint/nat. When its state is lost, Rebuild makes
// it again from what Docker has (rebuild.go).
package netdriver

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"sort"

	"github.com/docker/go-plugins-helpers/network"

	"github.com/docker-vic/docker-vic/endpoint/hostnets"
	"github.com/docker-vic/docker-vic/endpoint/hostports"
	"github.com/docker-vic/docker-vic/endpoint/link"
	"github.com/docker-vic/docker-vic/endpoint/nat"
)

// Links is the part of link.Links the driver uses.
type Links interface {
	EnsureBridge(b link.Bridge) error
	DeleteBridge(name string) error
	EnsureVeth(v link.Veth) error
	DeleteVeth(host string) error
	EnsureMacvlan(m link.Macvlan) error
	DeleteMacvlan(name string) error
	Owned() ([]string, error)
	Delete(name string) error
	// SetRouteLocalnet lets 127.0.0.1 reach published ports of containers on bridge.
	SetRouteLocalnet(bridge string) error
	// MTU reads a link's MTU: a spanning network's frames must fit the uplink's.
	MTU(name string) (int, error)
	// The trunk and the spans of bridge networks in a swarm (span.go).
	EnsureTrunk(uplink string) error
	DeleteTrunk() error
	EnsureSpan(s link.Span) error
	DeleteSpan(s link.Span) error
}

// Firewall programs the rules of the whole state in one batch, or of a change of published
// ports alone.
type Firewall interface {
	Apply(ctx context.Context, desired nat.State) error
	ChangePorts(ctx context.Context, add, del []nat.Mapping) error
}

// PortHolder keeps published host ports bound so that nothing else takes them.
type PortHolder interface {
	Hold(k hostports.Key) error
	HoldEphemeral(proto hostports.Proto, hostIP netip.Addr) (uint16, error)
	Release(k hostports.Key)
}

// ContainerNamer names the container of an endpoint, or returns "" when it does not know.
// It must answer from memory: handlers call it and may not call Docker's API.
type ContainerNamer interface {
	ContainerName(endpointID string) string
}

// Driver implements the vic network driver.
type Driver struct {
	store    Store
	links    Links
	firewall Firewall
	holder   PortHolder
	// public is the endpoint's address on the public network: published ports live there and
	// on loopback.
	public netip.Addr
	// hostSubnets reads the endpoint VM's own subnets: no bridge network may overlap them.
	hostSubnets func() []hostnets.Subnet
	names       ContainerNamer
	log         *slog.Logger
	// containerNets and sandboxes serve container networks; without them there are none.
	containerNets ContainerNetworks
	sandboxes     SandboxFirewall
	dhcpRouter    DHCPRouter
	swarm         bool
	uplink        string
	spans         SpanFilter

	// lock serializes handlers; a channel so that waiting honours each request's deadline.
	lock      chan struct{}
	networks  map[string]*Network
	endpoints map[string]*Endpoint
	// held are stored networks that failed their check at start: their links stay.
	held []*Network
	// past holds the IDs of the networks and endpoints from before the engine's start, from
	// EngineStarts to EngineAnswers (past.go); nil otherwise.
	past map[string]bool
}

// Options configure a Driver.
type Options struct {
	Store    Store
	Links    Links
	Firewall Firewall
	Holder   PortHolder
	Public   netip.Addr
	// HostSubnets, when set, reads the endpoint VM's own subnets (its connected routes, its
	// role networks among them), read again at each check.
	HostSubnets func() []hostnets.Subnet
	// Names, when set, lets errors name containers rather than endpoint IDs.
	Names ContainerNamer
	Log   *slog.Logger
	// ContainerNetworks and Sandboxes, when set, serve the VCH's container networks.
	ContainerNetworks ContainerNetworks
	Sandboxes         SandboxFirewall
	// DHCPRouter, when set, gives DHCP container networks' containers their lease's router.
	DHCPRouter DHCPRouter
	// Swarm makes the networks of swarm scope: the swarm's managers allocate their addresses
	// through the vic IPAM driver, and every node that runs a task creates them. Its bridge
	// networks span the endpoints over the bridge port group, through Uplink (the endpoint's
	// interface on it), kept apart there by Spans (span.go).
	Swarm  bool
	Uplink string
	Spans  SpanFilter
}

// New loads the persisted state and returns the driver. Call Restore before serving.
func New(o Options) (*Driver, error) {
	d := &Driver{
		store: o.Store, links: o.Links, firewall: o.Firewall, holder: o.Holder,
		public: o.Public, hostSubnets: o.HostSubnets, names: o.Names, log: o.Log,
		containerNets: o.ContainerNetworks, sandboxes: o.Sandboxes, dhcpRouter: o.DHCPRouter,
		swarm: o.Swarm, uplink: o.Uplink, spans: o.Spans,
		lock:      make(chan struct{}, 1),
		networks:  map[string]*Network{},
		endpoints: map[string]*Endpoint{},
	}
	if d.log == nil {
		d.log = slog.New(slog.DiscardHandler)
	}
	nets, err := o.Store.Networks()
	if err != nil {
		return nil, fmt.Errorf("loading networks: %w", err)
	}
	for _, n := range nets {
		if err := d.checkRecord(n); err != nil {
			// Kept in the database, neither served nor programmed, its links left alone.
			d.log.Error("a stored network is not restored", "network", link.ShortID(n.ID), "error", err)
			d.held = append(d.held, n)
			continue
		}
		d.networks[n.ID] = n
	}
	eps, err := o.Store.Endpoints()
	if err != nil {
		return nil, fmt.Errorf("loading endpoints: %w", err)
	}
	for _, e := range eps {
		d.endpoints[e.ID] = e
	}
	return d, nil
}

// acquire takes the driver's lock, or gives up when ctx ends.
func (d *Driver) acquire(ctx context.Context) error {
	select {
	case d.lock <- struct{}{}:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("waiting for other network operations: %w", ctx.Err())
	}
}

func (d *Driver) release() { <-d.lock }

// GetCapabilities implements driverapi.NetworkDriver: networks exist on this endpoint only,
// or in a swarm on every node that runs one of their tasks.
func (d *Driver) GetCapabilities(context.Context) (*network.CapabilitiesResponse, error) {
	if d.swarm {
		return &network.CapabilitiesResponse{Scope: network.GlobalScope, ConnectivityScope: network.GlobalScope}, nil
	}
	return &network.CapabilitiesResponse{Scope: network.LocalScope, ConnectivityScope: network.LocalScope}, nil
}

// natState is the NAT state of the driver's networks and published ports.
func (d *Driver) natState() nat.State {
	var s nat.State
	for _, n := range d.networks {
		if n.Bridge != "" { // container networks have no NAT
			bn := nat.BridgeNetwork{Bridge: n.Bridge, Subnet: n.Subnet.Masked(), Internal: n.Internal}
			if n.Span {
				bn.Trunk = link.TrunkName
			}
			s.Networks = append(s.Networks, bn)
		}
	}
	for _, e := range d.endpoints {
		s.Ports = append(s.Ports, d.mappings(e, e.Ports)...)
	}
	sort.Slice(s.Networks, func(i, j int) bool { return s.Networks[i].Bridge < s.Networks[j].Bridge })
	return s
}

// mappings are the NAT mappings of ports of endpoint e.
func (d *Driver) mappings(e *Endpoint, ports []Port) []nat.Mapping {
	n := d.networks[e.NetworkID]
	if n == nil || n.Bridge == "" {
		return nil
	}
	out := make([]nat.Mapping, len(ports))
	for i, p := range ports {
		out[i] = nat.Mapping{
			Proto: p.Proto, HostIP: p.HostIP, HostPort: p.HostPort,
			ContainerIP: e.Address.Addr(), ContainerPort: p.ContainerPort, Bridge: n.Bridge,
		}
	}
	return out
}

// Restore makes the kernel match the persisted state after a restart, a reboot or a crash:
// bridges, route_localnet, held ports and every rule. With prune, it removes the links it
// owns but no longer knows: only on the word of a state that can be trusted. Without, it
// leaves them in place and names them in the log. Veths are not recreated: a container that
// still runs keeps its own.
func (d *Driver) Restore(ctx context.Context, prune bool) error {
	if err := d.acquire(ctx); err != nil {
		return err
	}
	defer d.release()
	return d.restore(ctx, prune)
}

func (d *Driver) restore(ctx context.Context, prune bool) error {
	known := map[string]bool{}
	for _, n := range d.held {
		// The record may be damaged: keep the bridge its ID names as well as the one it holds.
		known[n.Bridge] = true
		known[link.BridgeName(n.ID)] = true
	}
	var errs []error
	for _, n := range d.networks {
		if n.Bridge == "" {
			continue
		}
		known[n.Bridge] = true
		if n.Span {
			known[link.SpanPortName(n.ID)], known[link.WireName(n.ID)], known[link.TrunkName] = true, true, true
		}
		if err := d.ensureBridge(n); err != nil {
			errs = append(errs, err)
		}
	}
	if err := d.applySpans(nil, ""); err != nil {
		errs = append(errs, err)
	}
	for _, e := range d.endpoints {
		// Both ends: the peer is still here when Docker has not moved it into the container yet.
		known[link.HostVethName(e.ID)] = true
		known[link.PeerName(e.ID)] = true
		known[link.MacvlanName(e.ID)] = true
		if n := d.networks[e.NetworkID]; n != nil && n.Bridge == "" {
			continue // a container network's ports are the container's own: nothing to hold
		}
		for _, p := range e.Ports {
			if err := d.holder.Hold(p.Key()); err != nil {
				d.log.Warn("cannot hold a published port again", "endpoint", e.ID, "port", p.String(), "error", err)
			}
		}
	}
	owned, err := d.links.Owned()
	if err != nil {
		errs = append(errs, err)
	}
	for _, name := range owned {
		switch {
		case known[name]:
		case isSpanLink(name):
			// A span holds no container's state, and one the filter does not know would be
			// a door between networks: it goes whatever the state's word is worth.
			d.log.Info("removing a span link of no network", "link", name)
			if err := d.links.Delete(name); err != nil {
				errs = append(errs, err)
			}
		case !prune:
			d.log.Warn("a link of the vic driver belongs to no network or endpoint docker has: left in place, the next start with a sound state removes it", "link", name)
		default:
			d.log.Info("removing a stale link", "link", name)
			if err := d.links.Delete(name); err != nil {
				errs = append(errs, err)
			}
		}
	}
	if err := d.firewall.Apply(ctx, d.natState()); err != nil {
		errs = append(errs, fmt.Errorf("programming the rules: %w", err))
	}
	return errors.Join(errs...)
}

// Snapshot returns copies of the driver's endpoints and networks, for `docker vic port`.
func (d *Driver) Snapshot(ctx context.Context) ([]Network, []Endpoint, error) {
	if err := d.acquire(ctx); err != nil {
		return nil, nil, err
	}
	defer d.release()
	var nets []Network
	for _, n := range d.networks {
		nets = append(nets, *n)
	}
	var eps []Endpoint
	for _, e := range d.endpoints {
		c := *e
		c.Ports = append([]Port(nil), e.Ports...)
		eps = append(eps, c)
	}
	sort.Slice(nets, func(i, j int) bool { return nets[i].ID < nets[j].ID })
	sort.Slice(eps, func(i, j int) bool { return eps[i].ID < eps[j].ID })
	return nets, eps, nil
}

// describe names an endpoint for messages: its container when known, else its short ID.
func (d *Driver) describe(endpointID string) string {
	if d.names != nil {
		if name := d.names.ContainerName(endpointID); name != "" {
			return fmt.Sprintf("container %q", name)
		}
	}
	return "endpoint " + link.ShortID(endpointID)
}
