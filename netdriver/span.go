package netdriver

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"net"

	"github.com/docker-vic/docker-vic/endpoint/link"
	"github.com/docker-vic/docker-vic/endpoint/span"
)

// In a swarm (Options.Swarm), every bridge network spans the endpoints: its bridge on each is
// joined to the trunk, the bridge holding the endpoint's interface on the bridge port group
// (Options.Uplink), and the span filter keeps the networks apart on that wire and their
// gateways local (endpoint/span).

// SpanFilter programs the filter of the spanning networks: the whole set at each change.
type SpanFilter interface {
	Apply(nets []span.Net) error
}

// GatewayMAC is the MAC of a spanning network's gateway, the same on every endpoint so that a
// container keeps the gateway it knows wherever it runs: locally administered, unicast, the
// rest from the network's ID.
func GatewayMAC(networkID string) net.HardwareAddr {
	sum := sha256.Sum256([]byte(networkID))
	mac := net.HardwareAddr(append([]byte{0x06}, sum[:5]...))
	return mac
}

// spanNets are the filter's networks: the spanning networks of the driver, with n (a network
// being created) and without the network of ID gone (one being deleted).
func (d *Driver) spanNets(n *Network, gone string) []span.Net {
	var out []span.Net
	add := func(o *Network) {
		if o.Span && o.ID != gone {
			out = append(out, span.Net{Port: link.SpanPortName(o.ID), Wire: link.WireName(o.ID), Subnet: o.Subnet, Gateway: o.Gateway.Addr()})
		}
	}
	for _, o := range d.networks {
		if n == nil || o.ID != n.ID {
			add(o)
		}
	}
	if n != nil {
		add(n)
	}
	return out
}

// applySpans programs the filter for the spanning networks with n and without gone.
func (d *Driver) applySpans(n *Network, gone string) error {
	nets := d.spanNets(n, gone)
	if d.spans == nil || !d.swarm && len(nets) == 0 {
		return nil // an endpoint outside a swarm never touches the filter
	}
	if err := d.spans.Apply(nets); err != nil {
		return fmt.Errorf("programming the span filter: %w", err)
	}
	return nil
}

// ensureSpan joins spanning network n's bridge to the trunk, the filter first: the gateway is
// never on the wire, not even for a moment.
func (d *Driver) ensureSpan(n *Network) error {
	if d.uplink == "" {
		return fmt.Errorf("network %s spans the swarm's endpoints over the bridge port group, which has no interface on this endpoint: give the endpoint VM a NIC on it, or map it with --uplink", link.ShortID(n.ID))
	}
	if err := d.applySpans(n, ""); err != nil {
		return err
	}
	if err := d.links.EnsureTrunk(d.uplink); err != nil {
		return fmt.Errorf("network %s: %w", link.ShortID(n.ID), err)
	}
	if err := d.links.EnsureSpan(link.SpanOf(n.ID, n.Bridge, n.MTU)); err != nil {
		return fmt.Errorf("network %s: %w", link.ShortID(n.ID), err)
	}
	return nil
}

// deleteSpan removes the span of network id and reprograms the filter without it; the last
// spanning network takes the trunk with it, which frees the uplink.
func (d *Driver) deleteSpan(id string) error {
	errs := []error{d.links.DeleteSpan(link.SpanOf(id, link.BridgeName(id), 0)), d.applySpans(nil, id)}
	last := true
	for _, o := range d.networks {
		if o.Span && o.ID != id {
			last = false
		}
	}
	if last {
		errs = append(errs, d.links.DeleteTrunk())
	}
	return errors.Join(errs...)
}
