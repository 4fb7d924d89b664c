//go:build linux

package daemon

import (
	"log/slog"
	"sync"
	"time"

	"github.com/docker-vic/docker-vic/api/vchdoc"
	"github.com/docker-vic/docker-vic/endpoint/cvm"
	"github.com/docker-vic/docker-vic/endpoint/liveconfig"
	"github.com/docker-vic/docker-vic/vsphere"
)

// newContainerVMs keeps a VM in vSphere per container on a vic network (SPEC §7), writing
// vSphere from its own goroutine (Run), so that a slow or absent vCenter never holds up a
// container. endpoint is the endpoint VM this daemon runs on (uplink.Match found it): of a VCH
// of several, each keeps the VMs of its own containers.
func newContainerVMs(t *vsphere.Target, v *vchdoc.VCH, endpoint string, log *slog.Logger) *cvm.Syncer {
	syncer := cvm.NewSyncer(cvm.ConnectTarget(t), cvm.Options{
		VCH: v.Name, Endpoint: endpoint, Datacenter: t.Datacenter,
		Progress: func(step string) { log.Info("container VMs: " + step) },
	})
	// What is stale: the container changes (starts, stops, removals) not yet in vSphere.
	behind := func() uint64 { st := syncer.Status(); return st.Wanted - st.Synced }
	var warned time.Time // Failed runs on the syncer's goroutine only
	syncer.Failed = func(err error) {
		if time.Since(warned) < vmWarnEvery {
			log.Debug("container VMs are still behind: vSphere refused or is unreachable", "changes", behind(), "error", err)
			return
		}
		warned = time.Now()
		log.Warn("container VMs are behind: vSphere refused or is unreachable, retrying; containers work meanwhile", "changes", behind(), "error", err)
	}
	syncer.Slow = func(waited time.Duration) {
		log.Warn("container VMs are behind: vSphere has not answered for "+waited.String()+"; containers work meanwhile", "changes", behind())
	}
	syncer.Recovered = func(d time.Duration) {
		warned = time.Time{}
		log.Info("container VMs caught up with the containers in vSphere", "behind", d.Round(time.Second))
	}
	return syncer
}

// vmWarnEvery is how often lasting failures of the container VMs are said at warning level.
const vmWarnEvery = time.Minute

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
