package dockerwatch

import (
	"context"
	"errors"
	"net/netip"
	"strings"
	"testing"

	"github.com/docker/go-plugins-helpers/ipam"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/network"
	"github.com/moby/moby/client"
	"gotest.tools/v3/assert"

	"github.com/docker-vic/docker-vic/config"
	"github.com/docker-vic/docker-vic/endpoint/testlog"
	"github.com/docker-vic/docker-vic/ipamdriver"
)

// testNetDHCP is a container network whose addresses come from its port group's DHCP server.
var testNetDHCP = config.ContainerNetwork{PortGroup: "pg-d", Alias: testNetPrefix + "d"}

// newIPAM is the vic IPAM driver of a VCH with the container networks cns and a store of its
// own: a new one stands for the driver after its state was lost.
func newIPAM(t *testing.T, cns ...config.ContainerNetwork) *ipamdriver.Driver {
	t.Helper()
	cfg := config.New("vch1")
	cfg.ContainerNetworks = cns
	cfg.ApplyDefaults()
	d, err := ipamdriver.New(cfg, ipamdriver.NewMemStore(), nil)
	assert.NilError(t, err)
	return d
}

// vicEnsurer ensures cns with the vic drivers on api, whose IPAM driver is ipd.
func vicEnsurer(api *fakeDocker, ipd *ipamdriver.Driver, cns ...config.ContainerNetwork) (*Ensurer, *testlog.Buffer) {
	log, logs := testlog.New()
	api.ipam = ipd
	return NewEnsurer(api, "vic", func() []config.ContainerNetwork { return cns }, ipd, log), logs
}

// loseState gives api and e a new vic IPAM driver that knows no pool, as after the endpoint's
// state was lost with Docker's networks still in place.
func loseState(t *testing.T, api *fakeDocker, e *Ensurer, cns ...config.ContainerNetwork) *ipamdriver.Driver {
	ipd := newIPAM(t, cns...)
	api.mu.Lock()
	api.ipam = ipd
	api.mu.Unlock()
	e.pools = ipd
	return ipd
}

// poolOf returns the port group and subnet of the pool ipd holds for port group pg.
func poolOf(t *testing.T, ipd *ipamdriver.Driver, pg string) (ipamdriver.Pool, bool) {
	t.Helper()
	pools, err := ipd.Pools(context.Background())
	assert.NilError(t, err)
	for _, p := range pools {
		if p.PortGroup == pg {
			return p, true
		}
	}
	return ipamdriver.Pool{}, false
}

// TestNetworksRecreateLostPools: a container network's Docker network whose pool the vic IPAM
// driver no longer knows (its state lost while Docker kept the network) cannot give addresses;
// with no container on it, it is created again, with a pool the driver knows, and said at
// warning level. The next round changes nothing.
func TestNetworksRecreateLostPools(t *testing.T) {
	cns := []config.ContainerNetwork{testNetA, testNetDHCP}
	api := newFakeDocker()
	e, logs := vicEnsurer(api, newIPAM(t, cns...), cns...)
	ensureOnce(t, e)
	before := map[string]string{}
	for _, cn := range cns {
		before[cn.Alias] = inspectNetwork(t, api, cn.Alias).ID
	}

	ipd := loseState(t, api, e, cns...)
	ensureOnce(t, e)
	for _, cn := range cns {
		n := inspectNetwork(t, api, cn.Alias)
		assert.Assert(t, n.ID != before[cn.Alias], "network %s kept the pool the IPAM driver lost", cn.Alias)
		p, ok := poolOf(t, ipd, cn.PortGroup)
		assert.Assert(t, ok, "the IPAM driver has no pool for %s after the round", cn.PortGroup)
		assert.Equal(t, n.IPAM.Config[0].Subnet, p.Subnet)
		w := warnings(logs.String(), "network="+cn.Alias+" ")
		assert.Assert(t, len(w) == 1 && strings.Contains(w[0], "lost its address pool"), "want one warning for %s:\n%s", cn.Alias, logs)
	}
	_, err := ipd.RequestAddress(context.Background(), &ipam.RequestAddressRequest{PoolID: api.pools[inspectNetwork(t, api, testNetA.Alias).ID]})
	assert.NilError(t, err, "a container gets no address on the recreated network")

	logs.Reset()
	ids := map[string]string{}
	for _, cn := range cns {
		ids[cn.Alias] = inspectNetwork(t, api, cn.Alias).ID
	}
	ensureOnce(t, e)
	for _, cn := range cns {
		assert.Equal(t, inspectNetwork(t, api, cn.Alias).ID, ids[cn.Alias], "a second round recreated %s", cn.Alias)
	}
	assert.Assert(t, !strings.Contains(logs.String(), "level=WARN"), logs.String())
}

// TestNetworksKeepLostPoolsWithContainers: a network whose pool was lost but that containers
// are on, running or stopped, stays (Docker refuses to remove it under running ones, and
// stopped ones would name a network that no longer exists); the warning, once, names the
// containers and what to do.
func TestNetworksKeepLostPoolsWithContainers(t *testing.T) {
	for _, state := range []container.ContainerState{container.StateRunning, container.StateExited} {
		t.Run(string(state), func(t *testing.T) {
			api := newFakeDocker()
			e, logs := vicEnsurer(api, newIPAM(t, testNetA), testNetA)
			ensureOnce(t, e)
			n := inspectNetwork(t, api, testNetA.Alias)
			api.containers = []container.Summary{{ID: "c1", Names: []string{"/web"}, State: state,
				NetworkSettings: &container.NetworkSettingsSummary{Networks: map[string]*network.EndpointSettings{n.Name: {NetworkID: n.ID}}}}}

			loseState(t, api, e, testNetA)
			ensureOnce(t, e)
			ensureOnce(t, e)
			assert.Equal(t, inspectNetwork(t, api, testNetA.Alias).ID, n.ID)
			w := warnings(logs.String(), "network="+testNetA.Alias+" ")
			assert.Assert(t, len(w) == 1, "want one warning over two rounds:\n%s", logs)
			for _, s := range []string{"lost its address pool", "docker network disconnect -f", "containers=web"} {
				assert.Assert(t, strings.Contains(w[0], s), "the warning does not say %q: %s", s, w[0])
			}

			api.containers = nil // the user disconnected them
			ensureOnce(t, e)
			assert.Assert(t, inspectNetwork(t, api, testNetA.Alias).ID != n.ID, "not recreated once no container is on it")
		})
	}
}

// TestNetworksLeaveOtherIPAMAlone: a network of the container network's name, driver and port
// group made by hand with another IPAM driver has no pool in the vic one, and stays.
func TestNetworksLeaveOtherIPAMAlone(t *testing.T) {
	api := newFakeDocker()
	res, err := api.NetworkCreate(context.Background(), testNetA.Alias, client.NetworkCreateOptions{
		Driver: "vic",
		IPAM:   &network.IPAM{Driver: "default", Config: []network.IPAMConfig{{Subnet: netip.MustParsePrefix("203.0.113.224/28")}}},
		Labels: map[string]string{optionPortGroup: testNetA.PortGroup},
	})
	assert.NilError(t, err)
	e, logs := vicEnsurer(api, newIPAM(t, testNetA), testNetA)
	ensureOnce(t, e)
	assert.Equal(t, inspectNetwork(t, api, testNetA.Alias).ID, res.ID)
	assert.Assert(t, !strings.Contains(logs.String(), "level=WARN"), logs.String())
}

// failingPools is an IPAM driver whose pools cannot be read.
type failingPools struct{}

func (failingPools) Pools(context.Context) ([]ipamdriver.Pool, error) {
	return nil, errors.New("state database is closed")
}

// TestNetworksKeepNetworksWhenPoolsAreUnreadable: when the IPAM driver's pools cannot be read,
// no network is taken for lost; the failure is said once.
func TestNetworksKeepNetworksWhenPoolsAreUnreadable(t *testing.T) {
	api := newFakeDocker()
	e, logs := vicEnsurer(api, newIPAM(t, testNetA), testNetA)
	ensureOnce(t, e)
	id := inspectNetwork(t, api, testNetA.Alias).ID
	e.pools = failingPools{}
	ensureOnce(t, e)
	ensureOnce(t, e)
	assert.Equal(t, inspectNetwork(t, api, testNetA.Alias).ID, id)
	w := warnings(logs.String(), "state database is closed")
	assert.Assert(t, len(w) == 1, "want one warning over two rounds:\n%s", logs)
}
