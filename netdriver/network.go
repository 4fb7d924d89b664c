package netdriver

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"sort"
	"strconv"
	"strings"

	"github.com/docker/go-plugins-helpers/network"

	"github.com/docker-vic/docker-vic/endpoint/hostnets"
	"github.com/docker-vic/docker-vic/endpoint/link"
	"github.com/docker-vic/docker-vic/endpoint/nat"
)

// Option keys Docker puts in CreateNetwork's options.
const (
	optGeneric    = "com.docker.network.generic"
	optInternal   = "com.docker.network.internal"
	optEnableIPv6 = "com.docker.network.enable_ipv6"
)

// OptionMTU is the one `-o` option of a vic bridge network: the MTU of its bridge and veths.
const OptionMTU = "com.docker.network.driver.mtu"

// knownOptions are the `-o` options a vic bridge network accepts.
var knownOptions = []string{OptionMTU, OptionPortGroup}

// CreateNetwork implements driverapi.NetworkDriver: a bridge with the gateway address, its rules,
// and the record, all or nothing.
func (d *Driver) CreateNetwork(ctx context.Context, r *network.CreateNetworkRequest) error {
	n, err := d.parseNetwork(r)
	if err != nil {
		return err
	}
	if err := d.acquire(ctx); err != nil {
		return err
	}
	defer d.release()
	if err := d.fitUplink(n); err != nil {
		return err
	}
	d.settlePast(ctx, n.ID) // a dead network of the engine's past may hold the subnet
	if old, ok := d.networks[n.ID]; ok {
		if *old != *n {
			return fmt.Errorf("network %s already exists with subnet %s: a network ID names one network", link.ShortID(n.ID), old.Subnet)
		}
		if err := d.ensureBridge(n); err != nil { // a repeated call converges
			return err
		}
		delete(d.past, n.ID) // created again: the engine's own since
		return nil
	}
	for _, o := range d.networks {
		if n.Bridge != "" && o.Bridge == n.Bridge {
			return fmt.Errorf("network %s: its ID starts with the same %d characters as network %s, and both would share bridge %s: network IDs must differ in their first %[2]d characters",
				n.ID, link.IDChars, o.ID, n.Bridge)
		}
	}
	if n.PortGroup != "" {
		if err := d.checkContainerNetwork(n); err != nil {
			return err
		}
	}
	if err := d.checkOverlap(n); err != nil {
		return err
	}
	if n.PortGroup != "" {
		return d.createContainerNetwork(n)
	}

	success := false
	undo := func() {
		_ = d.links.DeleteBridge(n.Bridge)
		if n.Span {
			_ = d.deleteSpan(n.ID)
		}
	}
	if err := d.ensureBridge(n); err != nil {
		undo()
		return err
	}
	defer func() {
		if !success {
			undo()
		}
	}()
	d.networks[n.ID] = n
	defer func() {
		if !success {
			delete(d.networks, n.ID)
		}
	}()
	if err := d.firewall.Apply(ctx, d.natState()); err != nil {
		return fmt.Errorf("programming the rules of network %s: %w", link.ShortID(n.ID), err)
	}
	if err := d.store.PutNetwork(n); err != nil {
		_ = d.firewall.Apply(ctx, d.natStateWithout(n.ID))
		return fmt.Errorf("saving network %s: %w", link.ShortID(n.ID), err)
	}
	success = true
	d.log.Info("network created", "network", link.ShortID(n.ID), "bridge", n.Bridge, "subnet", n.Subnet)
	return nil
}

// natStateWithout is the NAT state as if network id did not exist (for rollbacks).
func (d *Driver) natStateWithout(id string) (s0 nat.State) {
	n := d.networks[id]
	delete(d.networks, id)
	s0 = d.natState()
	if n != nil {
		d.networks[id] = n
	}
	return s0
}

// parseNetwork validates a CreateNetwork request into the record to keep.
func (d *Driver) parseNetwork(r *network.CreateNetworkRequest) (*Network, error) {
	id := link.ShortID(r.NetworkID)
	if r.NetworkID == "" {
		return nil, fmt.Errorf("network has no ID: docker sent an incomplete request")
	}
	if v, _ := r.Options[optEnableIPv6].(bool); v || len(r.IPv6Data) > 0 {
		return nil, fmt.Errorf("network %s asks for IPv6, which vic networks do not support", id)
	}
	if len(r.IPv4Data) != 1 {
		return nil, fmt.Errorf("network %s has %d IPv4 pools: a vic network takes exactly one subnet", id, len(r.IPv4Data))
	}
	pool := r.IPv4Data[0]
	subnet, err := netip.ParsePrefix(pool.Pool)
	if err != nil || !subnet.Addr().Is4() {
		return nil, fmt.Errorf("network %s: pool %q is not an IPv4 subnet", id, pool.Pool)
	}
	if subnet.Bits() > 30 {
		return nil, fmt.Errorf("network %s: subnet %s is smaller than a /30 and leaves no room for containers", id, subnet)
	}
	gateway, err := netip.ParsePrefix(pool.Gateway)
	if err != nil || !subnet.Contains(gateway.Addr()) {
		return nil, fmt.Errorf("network %s: gateway %q is not an address of subnet %s", id, pool.Gateway, subnet)
	}
	n := &Network{
		ID:      r.NetworkID,
		Bridge:  link.BridgeName(r.NetworkID),
		Subnet:  subnet.Masked(),
		Gateway: netip.PrefixFrom(gateway.Addr(), subnet.Bits()),
	}
	n.Internal, _ = r.Options[optInternal].(bool)
	n.Span = d.swarm
	generic, _ := r.Options[optGeneric].(map[string]any)
	keys := make([]string, 0, len(generic))
	for k := range generic {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		v := fmt.Sprint(generic[k])
		switch k {
		case OptionPortGroup:
			if v == "" {
				return nil, fmt.Errorf("network %s: option %s needs the name of a container network's port group", id, k)
			}
			n.PortGroup = v
			n.Bridge = ""
			n.Span = false
		case OptionMTU:
			mtu, err := strconv.Atoi(v)
			if err != nil || mtu < 576 || mtu > 9000 {
				return nil, fmt.Errorf("network %s: option %s=%q must be an MTU between 576 and 9000", id, k, v)
			}
			n.MTU = mtu
		default:
			return nil, fmt.Errorf("network %s: option %q is not known to the vic driver (known: %s)", id, k, strings.Join(knownOptions, ", "))
		}
	}
	return n, nil
}

// fitUplink keeps a spanning network's frames within the MTU of the bridge port group's
// interface, which carries them to the other endpoints: an MTU above it is refused, and a
// network without one takes it when it is below Linux's default.
func (d *Driver) fitUplink(n *Network) error {
	if !n.Span || d.uplink == "" {
		return nil
	}
	mtu, err := d.links.MTU(d.uplink)
	if err != nil {
		return fmt.Errorf("network %s: reading the MTU of the bridge port group's interface: %w", link.ShortID(n.ID), err)
	}
	switch {
	case n.MTU > mtu:
		return fmt.Errorf("network %s: option %s=%d is above the MTU %d of the bridge port group's interface %s, which carries the network to the other endpoints: give %d or less",
			link.ShortID(n.ID), OptionMTU, n.MTU, mtu, d.uplink, mtu)
	case n.MTU == 0 && mtu < defaultMTU:
		n.MTU = mtu
	}
	return nil
}

// defaultMTU is the MTU Linux gives a bridge and veths when the network sets none.
const defaultMTU = 1500

// checkOverlap refuses a subnet that another vic network, one of the endpoint VM's own
// subnets or a special range already uses.
func (d *Driver) checkOverlap(n *Network) error {
	if err := d.checkVicOverlap(n); err != nil || n.Subnet.Bits() == 0 {
		return err
	}
	if n.PortGroup == "" {
		if err := hostnets.Check(n.Subnet, d.readHostSubnets()); err != nil {
			return fmt.Errorf("network %s: %w", link.ShortID(n.ID), err)
		}
	}
	return nil
}

// checkVicOverlap refuses a subnet that another vic network uses. A DHCP container network's
// addresses are the port group's business: it overlaps nothing.
func (d *Driver) checkVicOverlap(n *Network) error {
	if n.Subnet.Bits() == 0 {
		return nil
	}
	for _, o := range d.networks {
		if o.Subnet.Bits() != 0 && o.ID != n.ID && o.Subnet.Overlaps(n.Subnet) {
			return fmt.Errorf("network %s: subnet %s overlaps subnet %s of vic network %s", link.ShortID(n.ID), n.Subnet, o.Subnet, link.ShortID(o.ID))
		}
	}
	return nil
}

func (d *Driver) readHostSubnets() []hostnets.Subnet {
	if d.hostSubnets == nil {
		return nil
	}
	return d.hostSubnets()
}

// forgetHeld removes the record of a held-back network that Docker deletes.
func (d *Driver) forgetHeld(id string) {
	for i, n := range d.held {
		if n.ID == id {
			d.held = append(d.held[:i], d.held[i+1:]...)
			if err := d.store.DeleteNetwork(id); err != nil {
				d.log.Warn("cannot forget a held-back network", "network", link.ShortID(id), "error", err)
			}
			return
		}
	}
}

// checkRecord checks a network read back from the database before the driver programs the
// kernel from it: a damaged record is held back. A network whose subnet the endpoint VM's own
// routes took since is restored all the same, so that its containers keep working, and said
// loudly.
func (d *Driver) checkRecord(n *Network) error {
	switch {
	case n.ID == "":
		return fmt.Errorf("the record has no network ID")
	case !n.Subnet.IsValid() || !n.Subnet.Addr().Is4():
		return fmt.Errorf("subnet %s is not an IPv4 network", n.Subnet)
	case n.PortGroup == "" && n.Bridge != link.BridgeName(n.ID):
		return fmt.Errorf("bridge %q is not the bridge %q of the network", n.Bridge, link.BridgeName(n.ID))
	case n.PortGroup != "" && n.Bridge != "":
		return fmt.Errorf("container network %q has a bridge %q", n.PortGroup, n.Bridge)
	case n.Gateway.IsValid() && n.Subnet.Bits() > 0 && !n.Subnet.Contains(n.Gateway.Addr()):
		return fmt.Errorf("gateway %s is outside subnet %s", n.Gateway.Addr(), n.Subnet)
	}
	if n.PortGroup == "" {
		if err := hostnets.Check(n.Subnet, d.readHostSubnets()); err != nil {
			d.log.Error("a restored network overlaps a network of the endpoint VM: its containers keep working, but remove the network or the route",
				"network", link.ShortID(n.ID), "error", err)
		}
	}
	return nil
}

func (d *Driver) ensureBridge(n *Network) error {
	if n.Bridge == "" {
		return nil // a container network has no bridge
	}
	b := link.Bridge{Name: n.Bridge, Gateway: n.Gateway, MTU: n.MTU}
	if n.Span {
		b.MAC = GatewayMAC(n.ID)
	}
	if err := d.links.EnsureBridge(b); err != nil {
		return fmt.Errorf("network %s: %w", link.ShortID(n.ID), err)
	}
	if err := d.links.SetRouteLocalnet(n.Bridge); err != nil {
		return fmt.Errorf("network %s: %w", link.ShortID(n.ID), err)
	}
	if n.Span {
		return d.ensureSpan(n)
	}
	return nil
}

// DeleteNetwork implements driverapi.NetworkDriver. An unknown network is fine: Docker deletes
// networks during its own start-up cleanup. A network whose endpoints are still in use by
// containers is refused (Docker itself never asks that); endpoints left over without a
// container go with it.
func (d *Driver) DeleteNetwork(ctx context.Context, r *network.DeleteNetworkRequest) error {
	if err := d.acquire(ctx); err != nil {
		return err
	}
	defer d.release()
	n, ok := d.networks[r.NetworkID]
	if !ok {
		d.forgetHeld(r.NetworkID)
		if err := d.links.DeleteBridge(link.BridgeName(r.NetworkID)); err != nil {
			return err
		}
		return d.deleteSpan(r.NetworkID)
	}
	if err := d.checkNoLiveEndpoints(n); err != nil {
		return err
	}
	return d.removeNetwork(ctx, n)
}

// removeNetwork forgets network n with its endpoints, and removes its rules and links.
func (d *Driver) removeNetwork(ctx context.Context, n *Network) error {
	if n.Bridge == "" {
		return d.deleteContainerNetwork(n)
	}
	for _, e := range d.endpoints {
		if e.NetworkID == n.ID {
			d.dropEndpoint(e)
		}
	}
	delete(d.networks, n.ID)
	if err := d.firewall.Apply(ctx, d.natState()); err != nil {
		d.networks[n.ID] = n
		return fmt.Errorf("removing the rules of network %s: %w", link.ShortID(n.ID), err)
	}
	if err := d.links.DeleteBridge(n.Bridge); err != nil {
		return err
	}
	var spanErr error
	if n.Span {
		// Docker forgets the network whatever the answer: so does the driver, and a span
		// link left behind goes at the next start (restore).
		spanErr = d.deleteSpan(n.ID)
	}
	if err := d.store.DeleteNetwork(n.ID); err != nil {
		return fmt.Errorf("forgetting network %s: %w", link.ShortID(n.ID), err)
	}
	if spanErr != nil {
		return fmt.Errorf("network %s: removing its span: %w", link.ShortID(n.ID), spanErr)
	}
	d.log.Info("network deleted", "network", link.ShortID(n.ID))
	return nil
}

// checkNoLiveEndpoints refuses to delete network n while a container uses one of its
// endpoints (inUse). A container that died without Docker telling the driver holds nothing
// back.
func (d *Driver) checkNoLiveEndpoints(n *Network) error {
	used := d.inUse()
	var live []string
	for _, e := range d.endpoints {
		if e.NetworkID != n.ID {
			continue
		}
		u, err := used(e)
		if err != nil {
			return fmt.Errorf("network %s: %w", link.ShortID(n.ID), err)
		}
		if u {
			live = append(live, d.describe(e.ID))
		}
	}
	if len(live) == 0 {
		return nil
	}
	sort.Strings(live)
	return fmt.Errorf("network %s is still in use by %s: disconnect or remove them first", link.ShortID(n.ID), strings.Join(live, ", "))
}

// inUse returns a test of whether a container uses an endpoint: on a bridge network its veth is
// still there (a veth lives exactly as long as the container's end of it), on a container
// network the sandbox it joined still exists. The links are listed once, at the first endpoint
// of a bridge network.
func (d *Driver) inUse() func(e *Endpoint) (bool, error) {
	var owned map[string]bool
	return func(e *Endpoint) (bool, error) {
		if n := d.networks[e.NetworkID]; n != nil && n.Bridge == "" {
			_, err := os.Stat(e.Sandbox)
			return e.Sandbox != "" && err == nil, nil
		}
		if owned == nil {
			names, err := d.links.Owned()
			if err != nil {
				return false, fmt.Errorf("listing the driver's links: %w", err)
			}
			owned = map[string]bool{}
			for _, name := range names {
				owned[name] = true
			}
		}
		return owned[link.HostVethName(e.ID)], nil
	}
}
