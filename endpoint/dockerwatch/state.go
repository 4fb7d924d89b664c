package dockerwatch

import (
	"cmp"
	"context"
	"fmt"
	"maps"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/docker-vic/docker-vic/endpoint/link"

	"github.com/containerd/errdefs"
	pluginnet "github.com/docker/go-plugins-helpers/network"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/network"
	"github.com/moby/moby/client"

	"github.com/docker-vic/docker-vic/endpoint/driverapi"
	"github.com/docker-vic/docker-vic/endpoint/hostports"
	"github.com/docker-vic/docker-vic/endpoint/nat"
	"github.com/docker-vic/docker-vic/ipamdriver"
	"github.com/docker-vic/docker-vic/netdriver"
)

// stateTimeout bounds the reading of Docker's networks and containers for a rebuild.
const stateTimeout = 60 * time.Second

// StateReader is the part of Docker's API a rebuild of the drivers' state reads: the networks
// and containers, as the Watcher reads them, and each container's configuration.
type StateReader interface {
	ContainerLister
	ContainerInspect(ctx context.Context, id string, options client.ContainerInspectOptions) (client.ContainerInspectResult, error)
}

// State is what Docker has of the vic drivers: the networks of the vic network driver or the
// vic IPAM driver, and the endpoints of the containers on them, with the ports they publish.
type State struct {
	Networks  []FoundNetwork
	Endpoints []FoundEndpoint
	// Problems are the ports whose host port Docker does not say and the kernel does not
	// show: they are published again on a host port of their range, or a new ephemeral one.
	Problems []string
}

// FoundNetwork is one network of a State: for the network driver, the IPAM driver or both.
type FoundNetwork struct {
	ID     string
	Driver *netdriver.FoundNetwork  // nil: another network driver
	Pool   *ipamdriver.FoundNetwork // nil: another IPAM driver; its Addresses are the endpoints'
	// Swarm says that the network is of swarm scope: a manager shows all of the swarm's, made
	// on the engine or not.
	Swarm bool
}

// FoundEndpoint is one endpoint of a running container of a State.
type FoundEndpoint struct {
	ID, NetworkID string
	Driver        *netdriver.FoundEndpoint // nil: on a network of another network driver
	Address       ipamdriver.FoundAddress
}

// ReadState reads, for a rebuild, the networks of the vic drivers and the endpoints of the
// containers on them: addresses, MACs and sandboxes, and the ports each container publishes
// through the network that gives it its gateway (Docker's rule). A host port Docker's
// configuration leaves open (host port 0, or a range) is the one of published, the port map
// elements the kernel holds, that leads to the container's address and port. driver is the name
// Docker knows the vic drivers by (driverapi.Name, or the managed plugin's name).
func ReadState(ctx context.Context, api StateReader, driver string, published []nat.Element, public netip.Addr) (*State, error) {
	ctx, cancel := context.WithTimeout(ctx, stateTimeout)
	defer cancel()
	nets, err := api.NetworkList(ctx, client.NetworkListOptions{})
	if err != nil {
		return nil, fmt.Errorf("listing docker's networks: %w", err)
	}
	st, vic := &State{}, map[string]FoundNetwork{}
	for _, n := range nets.Items {
		if f, ok := foundNetwork(n.Network, driver); ok {
			st.Networks = append(st.Networks, f)
			vic[n.ID] = f
		}
	}
	list, err := api.ContainerList(ctx, client.ContainerListOptions{All: true})
	if err != nil {
		return nil, fmt.Errorf("listing docker's containers: %w", err)
	}
	for _, c := range list.Items {
		if !onVic(c, vic) {
			continue
		}
		res, err := api.ContainerInspect(ctx, c.ID, client.ContainerInspectOptions{})
		if errdefs.IsNotFound(err) {
			continue // removed meanwhile: it has no endpoint left
		}
		if err != nil {
			return nil, fmt.Errorf("inspecting container %s: %w", link.ShortID(c.ID), err)
		}
		st.addContainer(res.Container, vic, published, public)
	}
	return st, nil
}

// foundNetwork is network n as the vic drivers know it, if either made it: driver names them.
func foundNetwork(n network.Network, driver string) (FoundNetwork, bool) {
	f := FoundNetwork{ID: n.ID, Swarm: n.Scope == "swarm"}
	var subnets []netdriver.FoundSubnet
	var first network.IPAMConfig
	for _, c := range n.IPAM.Config {
		if c.Subnet.Addr().Is4() {
			subnets = append(subnets, netdriver.FoundSubnet{Subnet: c.Subnet, Gateway: c.Gateway})
			if len(subnets) == 1 {
				first = c
			}
		}
	}
	if driverapi.SameName(driver, n.Driver) {
		f.Driver = &netdriver.FoundNetwork{ID: n.ID, Options: n.Options, Internal: n.Internal, IPv6: n.EnableIPv6, Subnets: subnets}
	}
	if driverapi.SameName(driver, n.IPAM.Driver) {
		f.Pool = &ipamdriver.FoundNetwork{Name: n.Name, Subnet: first.Subnet, SubPool: first.IPRange, Gateway: first.Gateway,
			PortGroup: n.IPAM.Options[ipamdriver.OptionPortGroup]}
	}
	return f, f.Driver != nil || f.Pool != nil
}

// onVic reports whether container c has an endpoint on one of the networks vic.
func onVic(c container.Summary, vic map[string]FoundNetwork) bool {
	if c.NetworkSettings == nil {
		return false
	}
	for _, es := range c.NetworkSettings.Networks {
		if _, ok := vic[es.NetworkID]; ok && es.EndpointID != "" {
			return true
		}
	}
	return false
}

// addContainer adds the endpoints of container c on the networks vic.
func (st *State) addContainer(c container.InspectResponse, vic map[string]FoundNetwork, published []nat.Element, public netip.Addr) {
	if c.NetworkSettings == nil {
		return
	}
	gateway := gatewayNetwork(c.NetworkSettings.Networks)
	for name, es := range c.NetworkSettings.Networks {
		if es == nil || es.EndpointID == "" {
			continue
		}
		n, ok := vic[es.NetworkID]
		if !ok {
			continue
		}
		addr := netip.PrefixFrom(es.IPAddress, es.IPPrefixLen)
		f := FoundEndpoint{ID: es.EndpointID, NetworkID: es.NetworkID, Address: ipamdriver.FoundAddress{Address: addr, MAC: es.MacAddress.String()}}
		if n.Driver != nil {
			f.Driver = &netdriver.FoundEndpoint{
				Create: &pluginnet.CreateEndpointRequest{NetworkID: es.NetworkID, EndpointID: es.EndpointID,
					Interface: &pluginnet.EndpointInterface{Address: addr.String(), MacAddress: es.MacAddress.String()}},
				Sandbox: c.NetworkSettings.SandboxKey,
			}
			if name == gateway {
				f.Driver.Bindings, f.Driver.Exposed = portMap(c)
				st.resolve(f.Driver, n.Driver, addr.Addr(), published, public)
			}
		}
		st.Endpoints = append(st.Endpoints, f)
	}
}

// gatewayNetwork names the network that gives a container its gateway, and so publishes its
// ports: of those with a gateway, the one of highest priority, then the first by name.
func gatewayNetwork(nets map[string]*network.EndpointSettings) string {
	var best string
	var bestPrio int
	for name, es := range nets {
		if es == nil || !es.Gateway.IsValid() {
			continue
		}
		if best == "" || es.GwPriority > bestPrio || es.GwPriority == bestPrio && name < best {
			best, bestPrio = name, es.GwPriority
		}
	}
	return best
}

// protoNumbers are the IANA numbers of Docker's port map.
var protoNumbers = map[network.IPProtocol]int{network.TCP: 6, network.UDP: 17, network.SCTP: 132}

// portMap is what Docker sends ProgramExternalConnectivity for container c: its -p bindings
// (-P adds a host port 0 for each exposed port without one) and its exposed ports, ordered
// by port, then protocol, then host port from the highest, host port 0 last.
func portMap(c container.InspectResponse) ([]netdriver.PortBinding, []netdriver.ExposedPort) {
	ports := map[network.Port]bool{}
	var bindings network.PortMap
	publishAll := false
	if c.HostConfig != nil {
		bindings, publishAll = c.HostConfig.PortBindings, c.HostConfig.PublishAllPorts
		for p := range bindings {
			ports[p] = true
		}
	}
	if c.Config != nil {
		for p := range c.Config.ExposedPorts {
			ports[p] = true
		}
	}
	sorted := slices.SortedFunc(maps.Keys(ports), func(a, b network.Port) int {
		return cmp.Or(cmp.Compare(a.Num(), b.Num()), cmp.Compare(a.Proto(), b.Proto()))
	})
	var out []netdriver.PortBinding
	var exposed []netdriver.ExposedPort
	for _, p := range sorted {
		proto, ok := protoNumbers[p.Proto()]
		if !ok {
			continue
		}
		exposed = append(exposed, netdriver.ExposedPort{Proto: proto, Port: p.Num()})
		list := slices.Clone(bindings[p])
		if len(list) == 0 && publishAll {
			list = append(list, network.PortBinding{})
		}
		slices.SortStableFunc(list, func(a, b network.PortBinding) int { return cmp.Compare(hostPort(b.HostPort), hostPort(a.HostPort)) })
		for _, b := range list {
			pb := netdriver.PortBinding{Proto: proto, Port: p.Num()}
			pb.HostPort, pb.HostPortEnd = hostRange(b.HostPort)
			if b.HostIP.IsValid() {
				pb.HostIP = b.HostIP.String()
			}
			out = append(out, pb)
		}
	}
	return out, exposed
}

// hostPort is the first port of a host port string ("8080", "8000-8010"); 0 for none.
func hostPort(s string) int {
	first, _ := hostRange(s)
	return int(first)
}

// hostRange reads a host port string: "8080", "8000-8010", "" or "0".
func hostRange(s string) (uint16, uint16) {
	lo, hi, isRange := strings.Cut(s, "-")
	first, err := strconv.ParseUint(lo, 10, 16)
	if err != nil {
		return 0, 0
	}
	last := first
	if isRange {
		if last, err = strconv.ParseUint(hi, 10, 16); err != nil || last < first {
			last = first
		}
	}
	return uint16(first), uint16(last)
}

// resolve sets the host port of each binding of e that Docker leaves open (0, or a range) to
// the one the kernel's port map leads to the container's address and port. Container
// networks publish on the container's own address: nothing to resolve.
func (st *State) resolve(e *netdriver.FoundEndpoint, n *netdriver.FoundNetwork, addr netip.Addr, published []nat.Element, public netip.Addr) {
	if n.Options[netdriver.OptionPortGroup] != "" {
		return
	}
	used := map[uint16]bool{}
	for i := range e.Bindings {
		b := &e.Bindings[i]
		if b.HostPort != 0 && b.HostPortEnd <= b.HostPort {
			continue
		}
		proto, _ := hostports.ProtoFromNumber(b.Proto)
		target := netip.AddrPortFrom(addr, b.Port)
		found := false
		for _, el := range published {
			port := el.Host.Port()
			if el.Proto != proto || el.Target != target || used[port] || !hostAddrMatches(b.HostIP, el.Host.Addr(), public) ||
				b.HostPort != 0 && (port < b.HostPort || port > b.HostPortEnd) {
				continue
			}
			b.HostPort, b.HostPortEnd, found = port, port, true
			used[port] = true
			break
		}
		if !found {
			st.Problems = append(st.Problems, fmt.Sprintf("endpoint %s: the kernel shows no host port for %s: it is published again on a free one", link.ShortID(e.Create.EndpointID), b))
		}
	}
}

// hostAddrMatches reports whether a port map element on host address a can serve a binding
// to hostIP ("" for the public address and loopback).
func hostAddrMatches(hostIP string, a, public netip.Addr) bool {
	ip, err := netip.ParseAddr(hostIP)
	if hostIP == "" || err == nil && ip.IsUnspecified() {
		return a == public || a == nat.Loopback
	}
	return err == nil && ip.Unmap() == a
}

// Drivers splits the state into what each driver rebuilds from. The engine makes a network
// of the swarm (its bridge, its pool of the engine's) only while it runs endpoints there: a
// manager shows every network of the swarm, and the others are left out.
func (st *State) Drivers() ([]netdriver.FoundNetwork, []netdriver.FoundEndpoint, []ipamdriver.FoundNetwork) {
	used := map[string]bool{}
	for _, e := range st.Endpoints {
		used[e.NetworkID] = true
	}
	var nets []netdriver.FoundNetwork
	var eps []netdriver.FoundEndpoint
	pools := map[string]*ipamdriver.FoundNetwork{}
	var order []string
	for _, n := range st.Networks {
		if n.Swarm && !used[n.ID] {
			continue
		}
		if n.Driver != nil {
			nets = append(nets, *n.Driver)
		}
		if n.Pool != nil {
			p := *n.Pool
			pools[n.ID] = &p
			order = append(order, n.ID)
		}
	}
	for _, e := range st.Endpoints {
		if e.Driver != nil {
			eps = append(eps, *e.Driver)
		}
		if p := pools[e.NetworkID]; p != nil {
			p.Addresses = append(p.Addresses, e.Address)
		}
	}
	var out []ipamdriver.FoundNetwork
	for _, id := range order {
		out = append(out, *pools[id])
	}
	return nets, eps, out
}
