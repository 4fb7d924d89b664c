package dockerwatch

import (
	"context"
	"net/netip"
	"reflect"
	"testing"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/network"
	"github.com/moby/moby/api/types/swarm"
	"github.com/moby/moby/client"

	"github.com/docker-vic/docker-vic/ipamdriver"
)

// fakeManager is a swarm's manager: its networks, with the tasks and services of the swarm.
type fakeManager struct {
	fakeState
	tasks    []swarm.Task
	services []swarm.Service
}

func (f *fakeManager) TaskList(context.Context, client.TaskListOptions) (client.TaskListResult, error) {
	return client.TaskListResult{Items: f.tasks}, nil
}

func (f *fakeManager) ServiceList(context.Context, client.ServiceListOptions) (client.ServiceListResult, error) {
	return client.ServiceListResult{Items: f.services}, nil
}

// task is a task in state on network id with addresses.
func task(state swarm.TaskState, id string, addrs ...string) swarm.Task {
	t := swarm.Task{Status: swarm.TaskStatus{State: state}}
	a := swarm.NetworkAttachment{Network: swarm.Network{ID: id}}
	for _, s := range addrs {
		a.Addresses = append(a.Addresses, netip.MustParsePrefix(s))
	}
	t.NetworksAttachments = []swarm.NetworkAttachment{a}
	return t
}

func TestReadSwarmPoolsHoldsTheSwarmsAllocations(t *testing.T) {
	web := vicNet(webNet, "web", "172.16.0.0/16", "172.16.0.1", nil, nil)
	web.Scope = "swarm"
	local := vicNet(dbNet, "db", "172.17.0.0/16", "172.17.0.1", nil, nil)
	local.Scope = "local"
	api := &fakeManager{fakeState: fakeState{nets: []network.Network{web, local}}}
	api.tasks = []swarm.Task{
		task(swarm.TaskStateRunning, webNet, "172.16.0.2/16"),
		task(swarm.TaskStatePending, webNet, "172.16.0.3/16"),
		task(swarm.TaskStateShutdown, webNet, "172.16.0.4/16"), // ended: the allocator asks no more
		task(swarm.TaskStateRunning, dbNet, "172.17.0.2/16"),
	}
	api.services = []swarm.Service{{Endpoint: swarm.Endpoint{VirtualIPs: []swarm.EndpointVirtualIP{{NetworkID: webNet, Addr: netip.MustParsePrefix("172.16.0.9/16")}}}}}
	got, err := ReadSwarmPools(context.Background(), api, "vic")
	if err != nil {
		t.Fatal(err)
	}
	want := []ipamdriver.FoundNetwork{{Name: "web", Subnet: netip.MustParsePrefix("172.16.0.0/16"), Gateway: netip.MustParseAddr("172.16.0.1"), Swarm: true,
		Addresses: []ipamdriver.FoundAddress{{Address: netip.MustParsePrefix("172.16.0.2/16")}, {Address: netip.MustParsePrefix("172.16.0.3/16")}, {Address: netip.MustParsePrefix("172.16.0.9/16")}}}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("ReadSwarmPools =\n%+v\nwant\n%+v", got, want)
	}
}

// A manager shows every network of the swarm; it has made, with a pool of its own, only those
// its containers use.
func TestDriversLeaveOutTheSwarmsNetworksNotOnTheEngine(t *testing.T) {
	web := vicNet(webNet, "web", "172.16.0.0/16", "172.16.0.1", nil, nil)
	idle := vicNet(dbNet, "idle", "172.17.0.0/16", "172.17.0.1", nil, nil)
	web.Scope, idle.Scope = "swarm", "swarm"
	api := &fakeState{nets: []network.Network{web, idle}, containers: []container.InspectResponse{
		ctr("alpha", nil, nil, webNet+":a1a1a1a1a1a10000:172.16.0.2/16:172.16.0.1"),
	}}
	st, err := ReadState(context.Background(), api, "vic", nil, netip.Addr{})
	if err != nil {
		t.Fatal(err)
	}
	nets, _, pools := st.Drivers()
	if len(pools) != 1 || pools[0].Name != "web" {
		t.Fatalf("pools = %+v, want only web's", pools)
	}
	if len(nets) != 1 || nets[0].ID != webNet {
		t.Fatalf("networks = %+v, want only web", nets)
	}
}
