package cvm

import (
	"reflect"
	"testing"

	"github.com/docker-vic/docker-vic/config"
)

// TestReconcileKeepsItsEndpointsVMs: each endpoint VM of a VCH of several keeps the VMs of the
// containers it runs, each recording it, and leaves the other endpoints' VMs alone; a container
// VM made before VMs recorded their endpoint is the first endpoint VM's.
func TestReconcileKeepsItsEndpointsVMs(t *testing.T) {
	withVCH(t, func(e *env) {
		e.addVM("old-container", map[string]string{config.KeyContainerVCH: "vch1", config.KeyContainerID: idJob})
		second, err := New(e.c, Options{VCH: "vch1", Endpoint: "vch1-2", Progress: e.log.add})
		if err != nil {
			t.Fatal(err)
		}
		if err := second.Reconcile(e.ctx, []Container{container("/web", idWeb, true, "vch1")}); err != nil {
			t.Fatal(err)
		}
		vm := e.vms()["web-1a2b3c4d5e6f"]
		if vm.extra[config.KeyContainerEndpoint] != "vch1-2" {
			t.Errorf("the VM of endpoint vch1-2's container records endpoint %q", vm.extra[config.KeyContainerEndpoint])
		}
		if _, ok := e.vms()["old-container"]; !ok {
			t.Fatal("endpoint vch1-2 removed a container VM of endpoint vch1")
		}
		obs, err := second.Observed(e.ctx)
		if err != nil || len(obs) != 1 || obs[0].Name != "web-1a2b3c4d5e6f" {
			t.Fatalf("endpoint vch1-2 observes %+v (%v)", obs, err)
		}

		// The first endpoint, running no container, removes its old VM and keeps vch1-2's.
		e.reconcile()
		if got := e.containerVMs("vch1"); !reflect.DeepEqual(got, []string{"web-1a2b3c4d5e6f"}) {
			t.Errorf("container VMs of vch1 %q, want only endpoint vch1-2's", got)
		}
	})
}
