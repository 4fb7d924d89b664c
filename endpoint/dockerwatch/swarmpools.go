package dockerwatch

import (
	"context"
	"fmt"

	"github.com/moby/moby/api/types/swarm"
	"github.com/moby/moby/client"

	"github.com/docker-vic/docker-vic/endpoint/driverapi"
	"github.com/docker-vic/docker-vic/ipamdriver"
)

// SwarmReader is the part of the Docker API of a swarm's manager that a rebuild of the swarm's
// pools reads: the swarm's networks, tasks and services.
type SwarmReader interface {
	NetworkList(ctx context.Context, options client.NetworkListOptions) (client.NetworkListResult, error)
	TaskList(ctx context.Context, options client.TaskListOptions) (client.TaskListResult, error)
	ServiceList(ctx context.Context, options client.ServiceListOptions) (client.ServiceListResult, error)
}

// allocatedStates are the states of a task whose addresses the swarm's allocator holds, and
// asks for again when a manager becomes the leader: the states up to running.
var allocatedStates = map[swarm.TaskState]bool{
	swarm.TaskStateNew: true, swarm.TaskStateAllocated: true, swarm.TaskStatePending: true,
	swarm.TaskStateAssigned: true, swarm.TaskStateAccepted: true, swarm.TaskStatePreparing: true,
	swarm.TaskStateReady: true, swarm.TaskStateStarting: true, swarm.TaskStateRunning: true,
}

// ReadSwarmPools reads, for a rebuild on the swarm's leader, the pools of the swarm's space: each
// network of swarm scope whose IPAM driver is driver, holding the addresses of the swarm's tasks
// that have not ended and the virtual IPs of its services (a DHCP container network's tasks
// hold no address of the swarm's).
func ReadSwarmPools(ctx context.Context, api SwarmReader, driver string) ([]ipamdriver.FoundNetwork, error) {
	ctx, cancel := context.WithTimeout(ctx, stateTimeout)
	defer cancel()
	nets, err := api.NetworkList(ctx, client.NetworkListOptions{})
	if err != nil {
		return nil, fmt.Errorf("listing the swarm's networks: %w", err)
	}
	var out []ipamdriver.FoundNetwork
	index := map[string]int{}
	for _, n := range nets.Items {
		if n.Scope != "swarm" || !driverapi.SameName(driver, n.IPAM.Driver) {
			continue
		}
		f, _ := foundNetwork(n.Network, driver)
		p := *f.Pool
		p.Swarm = true
		index[n.ID] = len(out)
		out = append(out, p)
	}
	tasks, err := api.TaskList(ctx, client.TaskListOptions{})
	if err != nil {
		return nil, fmt.Errorf("listing the swarm's tasks: %w", err)
	}
	add := func(networkID string, addr ipamdriver.FoundAddress) {
		if i, ok := index[networkID]; ok && addr.Address.Addr().Is4() && !addr.Address.Addr().IsUnspecified() {
			out[i].Addresses = append(out[i].Addresses, addr)
		}
	}
	for _, t := range tasks.Items {
		if !allocatedStates[t.Status.State] {
			continue
		}
		for _, a := range t.NetworksAttachments {
			for _, addr := range a.Addresses {
				add(a.Network.ID, ipamdriver.FoundAddress{Address: addr})
			}
		}
	}
	services, err := api.ServiceList(ctx, client.ServiceListOptions{})
	if err != nil {
		return nil, fmt.Errorf("listing the swarm's services: %w", err)
	}
	for _, s := range services.Items {
		for _, vip := range s.Endpoint.VirtualIPs {
			add(vip.NetworkID, ipamdriver.FoundAddress{Address: vip.Addr})
		}
	}
	return out, nil
}
