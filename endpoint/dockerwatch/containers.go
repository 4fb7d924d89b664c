package dockerwatch

import (
	"context"
	"net/netip"
	"sort"
	"strings"
	"time"

	"github.com/moby/moby/client"

	"github.com/docker-vic/docker-vic/endpoint/cvm"
	"github.com/docker-vic/docker-vic/endpoint/driverapi"
	"github.com/docker-vic/docker-vic/netdriver"
)

// readTimeout bounds one reading of the containers.
const readTimeout = 10 * time.Second

// Containers returns the container name of each endpoint of the vic networks, and every
// container with a vic network, running or not, with one NIC per vic network (on bridgePG for
// bridge networks, on its own port group for a container network) and its published ports. The
// list is never nil, so that an empty one removes every container VM. driver is the name Docker
// knows the vic drivers by (driverapi.Name, or the managed plugin's name).
func Containers(ctx context.Context, api ContainerLister, nd Snapshotter, driver, bridgePG string) (map[string]string, []cvm.Container, error) {
	ctx, cancel := context.WithTimeout(ctx, readTimeout)
	defer cancel()
	// Every network: Docker's driver filter is exact, and the names are compared as
	// driverapi.SameName does (without the default registry and library/ path).
	nets, err := api.NetworkList(ctx, client.NetworkListOptions{})
	if err != nil {
		return nil, nil, err
	}
	portGroups := map[string]string{} // network ID -> port group
	netNames := map[string]string{}   // network ID -> name
	for _, n := range nets.Items {
		if !driverapi.SameName(driver, n.Driver) {
			continue
		}
		pg := n.Options[netdriver.OptionPortGroup]
		if pg == "" {
			pg = bridgePG
		}
		portGroups[n.ID], netNames[n.ID] = pg, n.Name
	}
	list, err := api.ContainerList(ctx, client.ContainerListOptions{All: true})
	if err != nil {
		return nil, nil, err
	}
	_, endpoints, err := nd.Snapshot(ctx)
	if err != nil {
		return nil, nil, err
	}
	ports := map[string][]string{}
	for _, e := range endpoints {
		for _, p := range e.Ports {
			ports[e.ID] = append(ports[e.ID], p.String())
		}
	}
	byEndpoint, want := map[string]string{}, []cvm.Container{}
	for _, c := range list.Items {
		if c.NetworkSettings == nil {
			continue
		}
		out, onVic := cvm.Container{ID: c.ID, Running: c.State == "running"}, false
		if len(c.Names) > 0 {
			out.Name = strings.TrimPrefix(c.Names[0], "/")
		}
		for _, es := range c.NetworkSettings.Networks {
			pg, ok := portGroups[es.NetworkID]
			if !ok {
				continue
			}
			onVic = true
			if es.EndpointID != "" {
				byEndpoint[es.EndpointID] = out.Name
			}
			out.Ports = append(out.Ports, ports[es.EndpointID]...)
			if len(es.MacAddress) == 0 {
				continue // stopped: the VM keeps the cards it had
			}
			nic := cvm.NIC{Network: netNames[es.NetworkID], PortGroup: pg, MAC: es.MacAddress.String()}
			if es.IPAddress.IsValid() {
				nic.Address = netip.PrefixFrom(es.IPAddress, es.IPPrefixLen)
			}
			out.NICs = append(out.NICs, nic)
		}
		if !onVic || (len(out.NICs) == 0 && out.Running) {
			continue // not ours, or starting: its interfaces are not there yet
		}
		sort.Slice(out.NICs, func(i, j int) bool { return out.NICs[i].Network < out.NICs[j].Network })
		sort.Strings(out.Ports)
		want = append(want, out)
	}
	sort.Slice(want, func(i, j int) bool { return want[i].ID < want[j].ID })
	return byEndpoint, want, nil
}
