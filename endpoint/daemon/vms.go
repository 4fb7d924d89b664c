//go:build linux

package daemon

import (
	"sync"

	"log/slog"

	"github.com/docker-vic/docker-vic/api/vchdoc"
	"github.com/docker-vic/docker-vic/endpoint/cvm"
	"github.com/docker-vic/docker-vic/endpoint/liveconfig"
	"github.com/docker-vic/docker-vic/vsphere"
)

// newContainerVMs keeps a VM in vSphere per container on a vic network (SPEC §7), writing
// vSphere from its own goroutine (Run), so that a slow or absent vCenter never holds up a
// container.
func newContainerVMs(t *vsphere.Target, v *vchdoc.VCH, log *slog.Logger) *cvm.Syncer {
	syncer := cvm.NewSyncer(cvm.ConnectTarget(t), cvm.Options{
		VCH: v.Name, Datacenter: t.Datacenter,
		Progress: func(step string) { log.Info("container VMs: " + step) },
	})
	syncer.Failed = func(err error) { log.Warn("container VMs are behind: vSphere refused or is unreachable", "error", err) }
	return syncer
}

// vmSwitch hands the container VMs' syncer what it should keep: every container on a vic
// network, or none while the VCH's configuration turns container VMs off (docker vic create or
// configure --container-vms=false), so that the VMs already made go too.
type vmSwitch struct {
	syncer *cvm.Syncer
	live   *liveconfig.Live

	mu   sync.Mutex
	want []cvm.Container
}

// Set implements dockerwatch.VMs.
func (s *vmSwitch) Set(want []cvm.Container) {
	s.mu.Lock()
	s.want = want
	s.mu.Unlock()
	s.apply()
}

// apply hands the syncer what the configuration now served allows.
func (s *vmSwitch) apply() {
	cfg, _ := s.live.Get()
	s.mu.Lock()
	want := s.want
	s.mu.Unlock()
	if cfg.NoContainerVMs {
		want = nil
	}
	s.syncer.Set(want)
}
