package netdriver

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"net"
	"strings"

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
	// Holds reports whether the kernel holds the filter of nets as Apply left it.
	Holds(nets []span.Net) (bool, error)
}

// RepairSpans programs the span filter again when the kernel no longer holds it (a flush of
// the ruleset): without it, the networks would meet on the wire. It reports whether it did.
func (d *Driver) RepairSpans(ctx context.Context) (bool, error) {
	if err := d.acquire(ctx); err != nil {
		return false, err
	}
	defer d.release()
	if d.spans == nil || !d.swarm {
		return false, nil
	}
	holds, err := d.spans.Holds(d.spanNets(nil, ""))
	if err != nil || holds {
		return false, err
	}
	return true, d.applySpans(nil, "")
}

// GatewayMAC is the MAC of a spanning network's gateway, the same on every endpoint so that a
// container keeps the gateway it knows wherever it runs: locally administered, unicast, the
// rest from the network's ID.
func GatewayMAC(networkID string) net.HardwareAddr {
	sum := sha256.Sum256([]byte(networkID))
	return net.HardwareAddr(append([]byte{0x06}, sum[:5]...))
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
		return fmt.Errorf("keeping the spanning networks apart: %w", err)
	}
	return nil
}

// ensureSpan joins spanning network n's bridge to the trunk, the filter first: the gateway is
// never on the wire, not even for a moment.
func (d *Driver) ensureSpan(n *Network) error {
	if d.uplink == "" {
		return fmt.Errorf("network %s spans the swarm's endpoints over the bridge port group, which has no interface on this endpoint: give the endpoint VM a NIC on it, or map it to one (the plugin's VIC_UPLINKS, vic-endpoint's --uplink)", link.ShortID(n.ID))
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

// joinErrors joins errors on one line, "; " between them; none is nil.
func joinErrors(errs []error) error {
	if len(errs) == 0 {
		return nil
	}
	msgs := make([]string, len(errs))
	for i, err := range errs {
		msgs[i] = err.Error()
	}
	return errors.New(strings.Join(msgs, "; "))
}

// isSpanLink reports whether a link of the driver is a span end or the trunk.
func isSpanLink(name string) bool {
	return name == link.TrunkName || strings.HasPrefix(name, link.SpanPortPrefix) || strings.HasPrefix(name, link.WirePrefix)
}

// deleteSpan removes the span of network id and reprograms the filter without it; the last
// spanning network takes the trunk with it, which frees the uplink.
func (d *Driver) deleteSpan(id string) error {
	var errs []error
	if err := d.links.DeleteSpan(link.SpanOf(id, link.BridgeName(id), 0)); err != nil {
		errs = append(errs, err)
	}
	if err := d.applySpans(nil, id); err != nil {
		errs = append(errs, err)
	}
	last := true
	for _, o := range d.networks {
		if o.Span && o.ID != id {
			last = false
		}
	}
	if last {
		if err := d.links.DeleteTrunk(); err != nil {
			errs = append(errs, err)
		}
	}
	return joinErrors(errs)
}
