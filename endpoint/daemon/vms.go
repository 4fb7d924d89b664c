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
// configure --container-vms=false), so that the VMs already made go too. Until Docker has been
// read once it hands over nothing, unless VMs are off: an empty list would destroy every
// container VM of a VCH whose Docker is still starting.
type vmSwitch struct {
	syncer *cvm.Syncer
	live   *liveconfig.Live

	mu   sync.Mutex
	seen bool
	want []cvm.Container
}

// Set implements dockerwatch.VMs.
func (s *vmSwitch) Set(want []cvm.Container) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.want, s.seen = want, true
	s.hand()
}

// apply hands the syncer what the configuration now served allows.
func (s *vmSwitch) apply() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.hand()
}

// hand passes the list on, under s.mu so that the last list handed over is the newest.
func (s *vmSwitch) hand() {
	cfg, _ := s.live.Get()
	switch {
	case cfg.NoContainerVMs:
		s.syncer.Set(nil)
	case s.seen:
		s.syncer.Set(s.want)
	}
}
