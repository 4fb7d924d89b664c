package dockerwatch

import (
	"context"
	"testing"

	"github.com/moby/moby/api/types/swarm"
	"github.com/moby/moby/client"
	"gotest.tools/v3/assert"

	"github.com/docker-vic/docker-vic/config"
)

// fakeSwarm is the swarm state Docker's Info reports.
type fakeSwarm struct{ info swarm.Info }

func (f *fakeSwarm) Info(context.Context, client.InfoOptions) (client.SystemInfoResult, error) {
	var res client.SystemInfoResult
	res.Info.Swarm = f.info
	return res, nil
}

// In a swarm, only a manager creates the container networks, of swarm scope and attachable; a
// network whose pool its own plugin does not hold (the swarm's leader holds it) stays.
func TestNetworksInASwarmOnManagersOnly(t *testing.T) {
	cns := []config.ContainerNetwork{testNetA, testNetDHCP}
	api := newFakeDocker()
	e, logs := vicEnsurer(api, newIPAM(t, cns...), cns...)
	node := &fakeSwarm{}
	e.InSwarm(node)

	for _, state := range []swarm.Info{
		{LocalNodeState: swarm.LocalNodeStateInactive},
		{LocalNodeState: swarm.LocalNodeStateActive}, // a worker
	} {
		node.info = state
		ensureOnce(t, e)
		res, err := api.NetworkList(context.Background(), client.NetworkListOptions{})
		assert.NilError(t, err)
		assert.Equal(t, len(res.Items), 0, "an engine in state %q that manages no swarm created networks", state.LocalNodeState)
	}

	node.info = swarm.Info{LocalNodeState: swarm.LocalNodeStateActive, ControlAvailable: true}
	ensureOnce(t, e)
	ids := map[string]string{}
	for _, cn := range cns {
		n := inspectNetwork(t, api, cn.Alias)
		assert.Equal(t, n.Scope, "swarm", "%s", cn.Alias)
		assert.Assert(t, n.Attachable, "%s is not attachable", cn.Alias)
		ids[cn.Alias] = n.ID
	}

	loseState(t, api, e, cns...) // this manager's plugin holds none of the swarm's pools
	ensureOnce(t, e)
	for _, cn := range cns {
		assert.Equal(t, inspectNetwork(t, api, cn.Alias).ID, ids[cn.Alias], "%s was made again", cn.Alias)
	}
	assert.Equal(t, len(warnings(logs.String(), "")), 0, "warnings: %s", logs)
}
