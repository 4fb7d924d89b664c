package dockerwatch

import (
	"context"
	"net"
	"net/netip"
	"reflect"
	"testing"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/network"
	"github.com/moby/moby/client"

	"github.com/docker-vic/docker-vic/endpoint/cvm"
	"github.com/docker-vic/docker-vic/endpoint/hostports"
	"github.com/docker-vic/docker-vic/netdriver"
)

// fakeLister answers the two list calls with fixed networks and containers.
type fakeLister struct {
	nets       []network.Summary
	containers []container.Summary
}

func (f fakeLister) NetworkList(context.Context, client.NetworkListOptions) (client.NetworkListResult, error) {
	return client.NetworkListResult{Items: f.nets}, nil
}

func (f fakeLister) ContainerList(context.Context, client.ContainerListOptions) (client.ContainerListResult, error) {
	return client.ContainerListResult{Items: f.containers}, nil
}

type fakeSnapshot []netdriver.Endpoint

func (f fakeSnapshot) Snapshot(context.Context) ([]netdriver.Network, []netdriver.Endpoint, error) {
	return nil, f, nil
}

func mac(s string) network.HardwareAddr {
	m, _ := net.ParseMAC(s)
	return network.HardwareAddr(m)
}

// The containers of vic networks become container VMs: a NIC per vic network on the right port
// group, the published ports; a stopped container keeps no NIC (its VM keeps its own); other
// networks and their containers are left out.
func TestContainersOnVicNetworks(t *testing.T) {
	vicNet := func(id, name string, opts map[string]string) network.Summary {
		var s network.Summary
		s.ID, s.Name, s.Driver, s.Options = id, name, "vic", opts
		return s
	}
	var other network.Summary
	other.ID, other.Name, other.Driver = "n-bridge", "bridge", "bridge"
	docker := fakeLister{
		nets: []network.Summary{
			vicNet("n-web", "web-tier", nil),
			vicNet("n-ext", "consumer", map[string]string{netdriver.OptionPortGroup: "External-Consumer"}),
			other,
		},
		containers: []container.Summary{
			{ID: "c1", Names: []string{"/web"}, State: "running", NetworkSettings: &container.NetworkSettingsSummary{
				Networks: map[string]*network.EndpointSettings{
					"web-tier": {NetworkID: "n-web", EndpointID: "e1", MacAddress: mac("02:42:ac:10:00:02"),
						IPAddress: netip.MustParseAddr("172.16.0.2"), IPPrefixLen: 16},
					"consumer": {NetworkID: "n-ext", EndpointID: "e2", MacAddress: mac("02:42:cb:00:71:8c"),
						IPAddress: netip.MustParseAddr("203.0.113.140"), IPPrefixLen: 26},
				}}},
			{ID: "c2", Names: []string{"/stopped"}, State: "exited", NetworkSettings: &container.NetworkSettingsSummary{
				Networks: map[string]*network.EndpointSettings{"web-tier": {NetworkID: "n-web"}}}},
			{ID: "c3", Names: []string{"/plain"}, State: "running", NetworkSettings: &container.NetworkSettingsSummary{
				Networks: map[string]*network.EndpointSettings{"bridge": {NetworkID: "n-bridge", EndpointID: "e3", MacAddress: mac("02:42:ac:11:00:02")}}}},
		},
	}
	endpoints := fakeSnapshot{{ID: "e1", Ports: []netdriver.Port{{Proto: hostports.TCP, HostPort: 8080, ContainerPort: 80}}}}
	names, got, err := Containers(context.Background(), docker, endpoints, "vic", "VIC-Bridge")
	if err != nil {
		t.Fatal(err)
	}
	if want := map[string]string{"e1": "web", "e2": "web"}; !reflect.DeepEqual(names, want) {
		t.Errorf("names %v, want %v", names, want)
	}
	want := []cvm.Container{
		{ID: "c1", Name: "web", Running: true, Ports: []string{"8080->80/tcp"}, NICs: []cvm.NIC{
			{Network: "consumer", PortGroup: "External-Consumer", MAC: "02:42:cb:00:71:8c", Address: netip.MustParsePrefix("203.0.113.140/26")},
			{Network: "web-tier", PortGroup: "VIC-Bridge", MAC: "02:42:ac:10:00:02", Address: netip.MustParsePrefix("172.16.0.2/16")},
		}},
		{ID: "c2", Name: "stopped"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("containers\n%+v\nwant\n%+v", got, want)
	}
}

// The drivers served as a managed plugin are known by its name, which networks give with or
// without the tag: both are the plugin's, another plugin's are not.
func TestContainersOfThePluginName(t *testing.T) {
	net := func(id, driver string) network.Summary {
		var s network.Summary
		s.ID, s.Name, s.Driver = id, id, driver
		return s
	}
	running := func(id, netID, endpoint string) container.Summary {
		return container.Summary{ID: id, Names: []string{"/" + id}, State: "running", NetworkSettings: &container.NetworkSettingsSummary{
			Networks: map[string]*network.EndpointSettings{netID: {NetworkID: netID, EndpointID: endpoint}}}}
	}
	docker := fakeLister{
		nets:       []network.Summary{net("tagged", "vic:latest"), net("untagged", "vic"), net("other", "other/vic:latest")},
		containers: []container.Summary{running("a", "tagged", "e1"), running("b", "untagged", "e2"), running("c", "other", "e3")},
	}
	names, _, err := Containers(context.Background(), docker, fakeSnapshot{}, "vic:latest", "VIC-Bridge")
	if err != nil {
		t.Fatal(err)
	}
	// An untagged vic is the legacy plugin's network: not the managed plugin's.
	if want := map[string]string{"e1": "a"}; !reflect.DeepEqual(names, want) {
		t.Errorf("names %v, want %v", names, want)
	}
}
