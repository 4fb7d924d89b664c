package netdriver

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"

	"github.com/docker/go-plugins-helpers/network"

	"github.com/docker-vic/docker-vic/endpoint/link"
)

// CreateEndpoint implements driverapi.NetworkDriver: it records the endpoint and, when Docker
// left the MAC to the driver, picks one derived from the address as Docker's bridge does.
func (d *Driver) CreateEndpoint(ctx context.Context, r *network.CreateEndpointRequest) (*network.CreateEndpointResponse, error) {
	if err := d.acquire(ctx); err != nil {
		return nil, err
	}
	defer d.release()
	e, res, err := d.newEndpoint(r)
	if err != nil {
		return nil, err
	}
	if old, ok := d.endpoints[e.ID]; ok && old.Address == e.Address {
		return res, nil // a repeated call
	}
	if err := d.store.PutEndpoint(e); err != nil {
		return nil, fmt.Errorf("saving endpoint %s: %w", link.ShortID(e.ID), err)
	}
	d.endpoints[e.ID] = e
	return res, nil
}

// newEndpoint checks a CreateEndpoint request against the driver's state and returns the
// endpoint to record, and the MAC it picked for the answer.
func (d *Driver) newEndpoint(r *network.CreateEndpointRequest) (*Endpoint, *network.CreateEndpointResponse, error) {
	id := link.ShortID(r.EndpointID)
	if r.Interface == nil || r.Interface.Address == "" {
		return nil, nil, fmt.Errorf("endpoint %s has no IPv4 address: vic networks need one", id)
	}
	if r.Interface.AddressIPv6 != "" {
		return nil, nil, fmt.Errorf("endpoint %s asks for IPv6 address %s, which vic networks do not support", id, r.Interface.AddressIPv6)
	}
	addr, err := netip.ParsePrefix(r.Interface.Address)
	if err != nil || !addr.Addr().Is4() {
		return nil, nil, fmt.Errorf("endpoint %s: address %q is not an IPv4 address with its prefix length", id, r.Interface.Address)
	}
	n, ok := d.networks[r.NetworkID]
	if !ok {
		return nil, nil, fmt.Errorf("network %s is not known to the vic driver: recreate it with docker network create -d vic", link.ShortID(r.NetworkID))
	}
	if err := checkAddress(n, addr); err != nil {
		return nil, nil, fmt.Errorf("endpoint %s: %w", id, err)
	}
	if old, ok := d.endpoints[r.EndpointID]; ok {
		switch {
		case old.NetworkID != n.ID:
			return nil, nil, fmt.Errorf("endpoint %s already exists on network %s: an endpoint ID names one endpoint", id, link.ShortID(old.NetworkID))
		case old.Address.Addr() != addr.Addr():
			return nil, nil, fmt.Errorf("endpoint %s already exists with address %s: it cannot take %s", id, old.Address.Addr(), addr.Addr())
		case r.Interface.MacAddress != "" && !strings.EqualFold(r.Interface.MacAddress, old.MAC):
			return nil, nil, fmt.Errorf("endpoint %s already exists with MAC address %s: it cannot take %s", id, old.MAC, r.Interface.MacAddress)
		}
	}
	for _, o := range d.endpoints {
		if o.ID == r.EndpointID {
			continue
		}
		if o.NetworkID == n.ID && o.Address.Addr() == addr.Addr() {
			return nil, nil, fmt.Errorf("endpoint %s: address %s is already used by endpoint %s of the same network", id, addr.Addr(), link.ShortID(o.ID))
		}
		if link.HostVethName(o.ID) == link.HostVethName(r.EndpointID) {
			return nil, nil, fmt.Errorf("endpoint %s: its ID starts with the same %d characters as endpoint %s, and both would share link %s: endpoint IDs must differ in their first %[2]d characters",
				r.EndpointID, link.IDChars, o.ID, link.HostVethName(o.ID))
		}
	}
	mac, res := r.Interface.MacAddress, &network.CreateEndpointResponse{}
	if mac == "" {
		mac = macFor(addr.Addr())
		if n.PortGroup != "" {
			mac = macForEndpoint(r.EndpointID)
		}
		res.Interface = &network.EndpointInterface{MacAddress: mac}
	} else if err := checkMAC(mac); err != nil {
		return nil, nil, fmt.Errorf("endpoint %s: %w", id, err)
	}
	bits := n.Subnet.Bits()
	if bits == 0 {
		bits = addr.Bits() // DHCP: the lease's own prefix
	}
	return &Endpoint{ID: r.EndpointID, NetworkID: n.ID, Address: netip.PrefixFrom(addr.Addr(), bits), MAC: mac}, res, nil
}

// checkAddress refuses an address outside network n, of another prefix length, or that is
// the network's gateway, network address or broadcast address. A DHCP network's addresses are
// its leases': only IPv4 is checked.
func checkAddress(n *Network, addr netip.Prefix) error {
	if n.Subnet.Bits() == 0 {
		return nil
	}
	a := addr.Addr()
	switch {
	case !n.Subnet.Contains(a):
		return fmt.Errorf("address %s is outside network %s (subnet %s)", a, link.ShortID(n.ID), n.Subnet)
	case addr.Bits() != n.Subnet.Bits():
		return fmt.Errorf("address %s has prefix length %d, and network %s has /%d", addr, addr.Bits(), link.ShortID(n.ID), n.Subnet.Bits())
	case a == n.Gateway.Addr():
		return fmt.Errorf("address %s is the gateway of network %s", a, link.ShortID(n.ID))
	case n.Subnet.Bits() < 31 && a == n.Subnet.Masked().Addr():
		return fmt.Errorf("address %s is the network address of subnet %s", a, n.Subnet)
	case n.Subnet.Bits() < 31 && a == lastAddr(n.Subnet):
		return fmt.Errorf("address %s is the broadcast address of subnet %s", a, n.Subnet)
	}
	return nil
}

// lastAddr is the last address of p: its broadcast address.
func lastAddr(p netip.Prefix) netip.Addr {
	b := p.Masked().Addr().As4()
	host := uint32(1)<<(32-p.Bits()) - 1
	v := (uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])) | host
	return netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)})
}

// checkMAC refuses a MAC that a container's interface cannot carry: not 6 bytes, multicast or
// broadcast, or all zeros.
func checkMAC(s string) error {
	mac, err := net.ParseMAC(s)
	switch {
	case err != nil:
		return fmt.Errorf("MAC address %q is not valid", s)
	case len(mac) != 6:
		return fmt.Errorf("MAC address %q has %d bytes: an Ethernet MAC has 6", s, len(mac))
	case mac[0]&1 == 1:
		return fmt.Errorf("MAC address %s is a multicast or broadcast address: a container's interface needs a unicast one", mac)
	case bytes.Equal(mac, make(net.HardwareAddr, 6)):
		return fmt.Errorf("MAC address %s is all zeros", mac)
	}
	return nil
}

// macFor derives a locally administered MAC from an IPv4 address, as Docker's bridge does.
func macFor(a netip.Addr) string {
	b := a.As4()
	return net.HardwareAddr{0x02, 0x42, b[0], b[1], b[2], b[3]}.String()
}

// EndpointInfo implements driverapi.NetworkDriver.
func (d *Driver) EndpointInfo(ctx context.Context, r *network.InfoRequest) (*network.InfoResponse, error) {
	if err := d.acquire(ctx); err != nil {
		return nil, err
	}
	defer d.release()
	info := map[string]string{}
	if e, ok := d.endpoints[r.EndpointID]; ok {
		info["address"] = e.Address.String()
		info["mac"] = e.MAC
		for i, p := range e.Ports {
			info[fmt.Sprintf("port.%d", i)] = p.String()
		}
	}
	return &network.InfoResponse{Value: info}, nil
}

// Join implements driverapi.NetworkDriver: the veth pair whose peer Docker moves into the
// container, and the network's gateway.
func (d *Driver) Join(ctx context.Context, r *network.JoinRequest) (*network.JoinResponse, error) {
	if err := d.acquire(ctx); err != nil {
		return nil, err
	}
	defer d.release()
	e, ok := d.endpoints[r.EndpointID]
	if !ok {
		return nil, fmt.Errorf("endpoint %s is not known to the vic driver", link.ShortID(r.EndpointID))
	}
	n := d.networks[e.NetworkID]
	if n == nil {
		return nil, fmt.Errorf("endpoint %s belongs to network %s, which the vic driver no longer knows", link.ShortID(e.ID), link.ShortID(e.NetworkID))
	}
	if n.PortGroup != "" {
		res, err := d.joinContainerNetwork(e, n, r.SandboxKey)
		if err == nil {
			e.Sandbox = r.SandboxKey
			if err := d.store.PutEndpoint(e); err != nil {
				d.log.Warn("cannot save an endpoint's sandbox: a firewall level change reaches it only after a restart of the container",
					"endpoint", link.ShortID(e.ID), "error", err)
			}
		}
		return res, err
	}
	mac, _ := net.ParseMAC(e.MAC)
	v := link.Veth{Host: link.HostVethName(e.ID), Peer: link.PeerName(e.ID), Bridge: n.Bridge, MAC: mac, MTU: n.MTU}
	if err := d.links.EnsureVeth(v); err != nil {
		_ = d.links.DeleteVeth(v.Host)
		return nil, fmt.Errorf("endpoint %s: %w", link.ShortID(e.ID), err)
	}
	// Not written here: nothing on a bridge network needs the sandbox after a restart, and a
	// write per container start costs a disk sync.
	e.Sandbox = r.SandboxKey
	res := &network.JoinResponse{InterfaceName: network.InterfaceName{SrcName: v.Peer, DstPrefix: "eth"}}
	if n.Internal {
		res.DisableGatewayService = true // no gateway, and no docker_gwbridge either
	} else {
		res.Gateway = n.Gateway.Addr().String()
	}
	return res, nil
}

// Leave implements driverapi.NetworkDriver. The links go with DeleteEndpoint, which Docker also
// calls when Join fails half-way.
func (d *Driver) Leave(ctx context.Context, r *network.LeaveRequest) error {
	if err := d.acquire(ctx); err != nil {
		return err
	}
	defer d.release()
	if e, ok := d.endpoints[r.EndpointID]; ok {
		if n := d.networks[e.NetworkID]; n != nil && n.PortGroup != "" && e.Sandbox != "" && d.sandboxes != nil {
			if err := d.sandboxes.Remove(e.Sandbox, link.ShortID(e.ID)); err != nil {
				d.log.Warn("cannot remove a container's firewall", "endpoint", link.ShortID(e.ID), "error", err)
			}
		}
		e.Sandbox = ""
	}
	return nil
}

// DeleteEndpoint implements driverapi.NetworkDriver; an unknown endpoint is fine, and its links
// (found by name) are removed all the same.
func (d *Driver) DeleteEndpoint(ctx context.Context, r *network.DeleteEndpointRequest) error {
	if err := d.acquire(ctx); err != nil {
		return err
	}
	defer d.release()
	e, ok := d.endpoints[r.EndpointID]
	if !ok {
		return errors.Join(d.links.DeleteVeth(link.HostVethName(r.EndpointID)), d.links.DeleteMacvlan(link.MacvlanName(r.EndpointID)))
	}
	n := d.networks[e.NetworkID]
	hadPorts := len(e.Ports) > 0 && (n == nil || n.Bridge != "")
	d.dropEndpoint(e)
	if hadPorts {
		if err := d.firewall.Apply(ctx, d.natState()); err != nil {
			return fmt.Errorf("removing the rules of endpoint %s: %w", link.ShortID(e.ID), err)
		}
	}
	return nil
}

// dropEndpoint forgets an endpoint: its held ports, its veth and its record. The caller
// re-applies the rules.
func (d *Driver) dropEndpoint(e *Endpoint) {
	n := d.networks[e.NetworkID]
	for _, p := range e.Ports {
		if n == nil || n.Bridge != "" { // a container network's ports are the container's own
			d.holder.Release(p.Key())
		}
	}
	if n != nil && n.PortGroup != "" {
		if err := d.links.DeleteMacvlan(link.MacvlanName(e.ID)); err != nil {
			d.log.Warn("cannot delete the macvlan of an endpoint", "endpoint", link.ShortID(e.ID), "error", err)
		}
	} else if err := d.links.DeleteVeth(link.HostVethName(e.ID)); err != nil {
		d.log.Warn("cannot delete the veth of an endpoint", "endpoint", link.ShortID(e.ID), "error", err)
	}
	delete(d.endpoints, e.ID)
	if err := d.store.DeleteEndpoint(e.ID); err != nil {
		d.log.Warn("cannot forget an endpoint", "endpoint", link.ShortID(e.ID), "error", err)
	}
}
