package netdriver

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"net"
	"net/netip"

	"github.com/docker/go-plugins-helpers/network"

	"github.com/docker-vic/docker-vic/config"
	"github.com/docker-vic/docker-vic/endpoint/cfw"
	"github.com/docker-vic/docker-vic/endpoint/hostports"
	"github.com/docker-vic/docker-vic/endpoint/link"
)

// Container networks put containers straight on a vSphere port group: each endpoint is a
// bridge-mode macvlan of the endpoint's NIC on that port group, with its own MAC and an
// address of the network's ranges. There is no NAT: a published port is the container's own
// address and port, let in by the network's firewall level inside the container.

// OptionPortGroup (`-o`) makes a Docker network the container network of that port group. The
// endpoint creates these networks itself, one per configured container network.
const OptionPortGroup = "com.docker.network.vic.portgroup"

// ContainerNetwork is what the driver needs of a configured container network.
type ContainerNetwork struct {
	Config config.ContainerNetwork
	// Uplink is the endpoint's interface on the port group; "" when it has none.
	Uplink string
}

// ContainerNetworks looks a configured container network up by port group.
type ContainerNetworks func(portGroup string) (ContainerNetwork, bool)

// DHCPRouter returns the router of the DHCP lease of MAC on a port group, if it has one.
type DHCPRouter func(portGroup string, mac net.HardwareAddr) (netip.Addr, bool)

// SandboxFirewall programs a container network's firewall level inside a container's network
// namespace (see endpoint/cfw).
type SandboxFirewall interface {
	Apply(sandbox, name string, r cfw.Rules) error
	Remove(sandbox, name string) error
}

// checkContainerNetwork validates a container network against the VCH configuration.
func (d *Driver) checkContainerNetwork(n *Network) error {
	id, pg := link.ShortID(n.ID), n.PortGroup
	cn, ok := d.containerNetwork(pg)
	switch {
	case !ok:
		return fmt.Errorf("network %s: port group %q is not a container network of this VCH: add it with docker vic configure --container-network", id, pg)
	case n.Internal:
		return fmt.Errorf("network %s: container network %q cannot be --internal: its containers sit on the port group itself", id, pg)
	case n.MTU != 0:
		return fmt.Errorf("network %s: container network %q takes no %s option: its MTU is the port group's", id, pg, OptionMTU)
	case cn.Uplink == "":
		return fmt.Errorf("network %s: the endpoint has no interface on port group %q: give it a NIC there, or pass --uplink %s=IFACE to vic-endpoint", id, pg, pg)
	}
	if !cn.Config.DHCP() && (n.Subnet != cn.Config.Gateway.Masked() || n.Gateway.Addr() != cn.Config.Gateway.Addr()) {
		return fmt.Errorf("network %s: container network %q has subnet %s and gateway %s, not %s and %s: use --ipam-driver vic",
			id, pg, cn.Config.Gateway.Masked(), cn.Config.Gateway.Addr(), n.Subnet, n.Gateway.Addr())
	}
	for _, o := range d.networks {
		if o.ID != n.ID && o.PortGroup == pg {
			return fmt.Errorf("network %s: container network %q already is Docker network %s", id, pg, link.ShortID(o.ID))
		}
	}
	return nil
}

func (d *Driver) containerNetwork(pg string) (ContainerNetwork, bool) {
	if d.containerNets == nil {
		return ContainerNetwork{}, false
	}
	return d.containerNets(pg)
}

// macForEndpoint derives a locally administered unicast MAC from an endpoint ID: stable for
// repeated calls, and unrelated to the address, which another VCH on the same port group may
// also hand out.
func macForEndpoint(endpointID string) string {
	sum := sha256.Sum256([]byte(endpointID))
	return net.HardwareAddr{0x02, sum[0], sum[1], sum[2], sum[3], sum[4]}.String()
}

// joinContainerNetwork makes the macvlan Docker moves into the container and sets the
// container's firewall level: at once when its namespace exists (docker network connect), else
// the moment Docker mounts it, before the interfaces move in (see cfw.Firewalls).
func (d *Driver) joinContainerNetwork(e *Endpoint, n *Network, sandbox string) (*network.JoinResponse, error) {
	cn, ok := d.containerNetwork(n.PortGroup)
	if !ok || cn.Uplink == "" {
		return nil, fmt.Errorf("endpoint %s: container network %q is no longer configured on this endpoint", link.ShortID(e.ID), n.PortGroup)
	}
	mac, err := net.ParseMAC(e.MAC)
	if err != nil {
		return nil, fmt.Errorf("endpoint %s: MAC address %q is not valid: the container's interface needs its own MAC", link.ShortID(e.ID), e.MAC)
	}
	m := link.Macvlan{Name: link.MacvlanName(e.ID), Parent: cn.Uplink, MAC: mac}
	if err := d.links.EnsureMacvlan(m); err != nil {
		_ = d.links.DeleteMacvlan(m.Name)
		return nil, fmt.Errorf("endpoint %s: %w", link.ShortID(e.ID), err)
	}
	if err := d.applySandboxFirewall(e, cn, sandbox, nil); err != nil {
		_ = d.links.DeleteMacvlan(m.Name)
		_ = d.sandboxes.Remove(sandbox, link.ShortID(e.ID)) // nothing may land later
		return nil, err
	}
	res := &network.JoinResponse{InterfaceName: network.InterfaceName{SrcName: m.Name, DstPrefix: "eth"}}
	switch {
	case !cn.Config.DHCP():
		res.Gateway = cn.Config.Gateway.Addr().String()
	case d.dhcpRouter != nil:
		if router, ok := d.dhcpRouter(n.PortGroup, mac); ok && router.IsValid() {
			res.Gateway = router.String()
			break
		}
		fallthrough
	default:
		res.DisableGatewayService = true // a lease without a router: the port group only
	}
	return res, nil
}

// applySandboxFirewall programs the firewall of endpoint e in its sandbox with ports open.
func (d *Driver) applySandboxFirewall(e *Endpoint, cn ContainerNetwork, sandbox string, open []Port) error {
	if d.sandboxes == nil {
		return fmt.Errorf("endpoint %s: container networks need a sandbox firewall, and this driver has none", link.ShortID(e.ID))
	}
	r := cfw.Rules{Address: e.Address.Addr(), Level: cn.Config.Firewall, Peers: peerRanges(cn.Config)}
	if len(r.Peers) == 0 {
		r.Peers = []netip.Prefix{e.Address.Masked()} // DHCP: the lease's subnet
	}
	for _, p := range open {
		r.Ports = append(r.Ports, cfw.Port{Proto: string(p.Proto), Port: p.HostPort, Target: p.ContainerPort})
	}
	if err := r.Validate(); err != nil {
		return err
	}
	if err := d.sandboxes.Apply(sandbox, link.ShortID(e.ID), r); err != nil {
		return fmt.Errorf("endpoint %s: programming the firewall of container network %q in the container: %w", link.ShortID(e.ID), cn.Config.PortGroup, err)
	}
	return nil
}

// peerRanges are the addresses the peers level trusts: the network's ranges, or its whole
// subnet when it has none.
func peerRanges(c config.ContainerNetwork) []netip.Prefix {
	var out []netip.Prefix
	for _, r := range c.Ranges {
		out = append(out, r.Prefixes()...)
	}
	if len(out) == 0 && !c.DHCP() {
		out = append(out, c.Gateway.Masked())
	}
	return out
}

// publishContainerPorts opens the -p and exposed ports of a container-network endpoint in its
// own firewall: clients dial the container's address at the host port (the container port
// when none is given), which is redirected to the container port when they differ. An exposed
// port (--expose, EXPOSE) is open as itself, as VIC's external networks did.
func (d *Driver) publishContainerPorts(e *Endpoint, n *Network, bindings []PortBinding, exposed []ExposedPort) error {
	cn, ok := d.containerNetwork(n.PortGroup)
	if !ok {
		return fmt.Errorf("endpoint %s: container network %q is no longer configured on this endpoint", link.ShortID(e.ID), n.PortGroup)
	}
	open, err := containerPorts(e, cn.Config, bindings, exposed)
	if err != nil {
		return err
	}
	if err := d.applySandboxFirewall(e, cn, e.Sandbox, open); err != nil {
		return err
	}
	e.Ports = open
	if err := d.store.PutEndpoint(e); err != nil {
		e.Ports = nil
		_ = d.applySandboxFirewall(e, cn, e.Sandbox, nil)
		return fmt.Errorf("saving endpoint %s: %w", link.ShortID(e.ID), err)
	}
	return nil
}

// containerPorts are the ports a container-network endpoint opens for its -p bindings and its
// exposed ports, on its own address.
func containerPorts(e *Endpoint, c config.ContainerNetwork, bindings []PortBinding, exposed []ExposedPort) ([]Port, error) {
	if level := c.Firewall; len(bindings) > 0 && (level == config.FirewallClosed || level == config.FirewallOutbound) {
		return nil, fmt.Errorf("port %s: container network %q is at firewall level %q, which lets no connection in: use a container network at level published, peers or open, or change its level with docker vic configure --container-network-firewall",
			bindings[0], c.PortGroup, level)
	}
	var open []Port
	for _, b := range bindings {
		proto, err := hostports.ProtoFromNumber(b.Proto)
		if err != nil {
			return nil, fmt.Errorf("port %s: %w", b, err)
		}
		if b.HostIP != "" {
			if ip, err := netip.ParseAddr(b.HostIP); err != nil || !ip.IsUnspecified() && ip.Unmap() != e.Address.Addr() {
				return nil, fmt.Errorf("port %s: a container on container network %q publishes on its own address %s only", b, c.PortGroup, e.Address.Addr())
			}
		}
		if b.HostPortEnd > b.HostPort {
			return nil, fmt.Errorf("port %s: a container network takes no host port range: publish -p %d:%d", b, b.Port, b.Port)
		}
		host := b.HostPort
		if host == 0 {
			host = b.Port // -p C and -P: the container's own port
		}
		open = appendPort(open, Port{Proto: proto, HostIP: e.Address.Addr(), HostPort: host, ContainerPort: b.Port})
	}
	for _, x := range exposed {
		proto, err := hostports.ProtoFromNumber(x.Proto)
		if err != nil {
			return nil, fmt.Errorf("exposed port %d: %w", x.Port, err)
		}
		open = appendPort(open, Port{Proto: proto, HostIP: e.Address.Addr(), HostPort: x.Port, ContainerPort: x.Port})
	}
	return open, nil
}

// appendPort adds p unless the same port is already open.
func appendPort(open []Port, p Port) []Port {
	for _, q := range open {
		if q.Proto == p.Proto && q.HostPort == p.HostPort {
			return open
		}
	}
	return append(open, p)
}

// revokeContainerPorts closes the published ports of a container-network endpoint again.
func (d *Driver) revokeContainerPorts(e *Endpoint, n *Network) error {
	if cn, ok := d.containerNetwork(n.PortGroup); ok && e.Sandbox != "" {
		if err := d.applySandboxFirewall(e, cn, e.Sandbox, nil); err != nil {
			return err
		}
	}
	e.Ports = nil
	if err := d.store.PutEndpoint(e); err != nil {
		return fmt.Errorf("saving endpoint %s: %w", link.ShortID(e.ID), err)
	}
	return nil
}

// createContainerNetwork records a checked container network: it has no link or rule of its
// own until containers join.
func (d *Driver) createContainerNetwork(n *Network) error {
	if err := d.store.PutNetwork(n); err != nil {
		return fmt.Errorf("saving network %s: %w", link.ShortID(n.ID), err)
	}
	d.networks[n.ID] = n
	d.log.Info("container network created", "network", link.ShortID(n.ID), "portgroup", n.PortGroup, "subnet", n.Subnet)
	return nil
}

// deleteContainerNetwork forgets a container network and its endpoints' macvlans.
func (d *Driver) deleteContainerNetwork(n *Network) error {
	for _, e := range d.endpoints {
		if e.NetworkID == n.ID {
			d.dropEndpoint(e)
		}
	}
	if err := d.store.DeleteNetwork(n.ID); err != nil {
		return fmt.Errorf("forgetting network %s: %w", link.ShortID(n.ID), err)
	}
	delete(d.networks, n.ID)
	d.log.Info("container network deleted", "network", link.ShortID(n.ID), "portgroup", n.PortGroup)
	return nil
}

// RefreshContainerFirewalls sets the firewall of every joined container-network endpoint again
// from the current configuration: a level changed by `docker vic configure` reaches the
// containers that run. Ports a new level cannot keep (a redirect at closed or outbound) are
// closed, and said so.
func (d *Driver) RefreshContainerFirewalls(ctx context.Context) error {
	if err := d.acquire(ctx); err != nil {
		return err
	}
	defer d.release()
	var errs []error
	for _, e := range d.endpoints {
		n := d.networks[e.NetworkID]
		if n == nil || n.PortGroup == "" || e.Sandbox == "" {
			continue
		}
		cn, ok := d.containerNetwork(n.PortGroup)
		if !ok {
			continue // no longer configured: the container keeps what it has until it stops
		}
		err := d.applySandboxFirewall(e, cn, e.Sandbox, e.Ports)
		if err != nil && len(e.Ports) > 0 {
			d.log.Warn("a container's port redirects do not fit its network's new firewall level: closing them",
				"endpoint", link.ShortID(e.ID), "portgroup", n.PortGroup, "level", cn.Config.Firewall, "error", err)
			kept := unredirected(e.Ports)
			if err = d.applySandboxFirewall(e, cn, e.Sandbox, kept); err == nil {
				e.Ports = kept
				err = d.store.PutEndpoint(e)
			}
		}
		if err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// unredirected are the ports of open that are not redirects.
func unredirected(open []Port) []Port {
	var out []Port
	for _, p := range open {
		if p.HostPort == p.ContainerPort {
			out = append(out, p)
		}
	}
	return out
}
