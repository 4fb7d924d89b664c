//go:build linux

package daemon

import (
	"log/slog"

	"github.com/docker-vic/docker-vic/api/vchdoc"
	"github.com/docker-vic/docker-vic/endpoint/cvm"
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
