package daemon

import (
	"testing"

	"gotest.tools/v3/assert"

	"github.com/docker-vic/docker-vic/config"
	"github.com/docker-vic/docker-vic/endpoint/cvm"
	"github.com/docker-vic/docker-vic/endpoint/liveconfig"
	"github.com/docker-vic/docker-vic/endpoint/uplink"
)

func newSwitch(noVMs bool) *vmSwitch {
	cfg := config.New("vch1")
	cfg.NoContainerVMs = noVMs
	cfg.ApplyDefaults()
	return &vmSwitch{syncer: cvm.NewSyncer(nil, cvm.Options{VCH: "vch1"}), live: liveconfig.New(cfg, &uplink.Set{})}
}

// TestVMSwitchWaitsForDocker: a configuration change applied before Docker was ever read hands
// the syncer nothing (an empty list would destroy every container VM); Docker's first reading
// does.
func TestVMSwitchWaitsForDocker(t *testing.T) {
	s := newSwitch(false)
	s.apply()
	assert.Equal(t, s.syncer.Status().Wanted, uint64(0), "a list went to the syncer before Docker was read")
	s.Set([]cvm.Container{{ID: "c1", Name: "web"}})
	assert.Equal(t, s.syncer.Status().Wanted, uint64(1))
	s.apply()
	assert.Equal(t, s.syncer.Status().Wanted, uint64(2), "a configuration change hands the last list again")
}

// TestVMSwitchOff: with container VMs off, the syncer is handed an empty list at once, so the
// VMs already made go, whatever Docker runs.
func TestVMSwitchOff(t *testing.T) {
	s := newSwitch(true)
	s.apply()
	assert.Equal(t, s.syncer.Status().Wanted, uint64(1), "container VMs off must clear them even before Docker answers")
	s.Set([]cvm.Container{{ID: "c1", Name: "web"}})
	assert.Equal(t, s.syncer.Status().Wanted, uint64(2))
}
