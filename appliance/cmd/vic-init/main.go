//go:build linux

// Command vic-init is the endpoint appliance's PID 1: as the initramfs's /init it finds the
// root on the CD and switches to it (stage 1), then it makes the VM a VCH endpoint and
// supervises containerd, dockerd and vic-endpoint (stage 2). Package appliance/vicinit does
// the work.
package main

import (
	"fmt"
	"os"

	"github.com/docker-vic/docker-vic/appliance/vicinit"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func main() {
	if os.Getpid() != 1 {
		fmt.Fprintln(os.Stderr, "vic-init: vic-init is the endpoint appliance's PID 1 and runs only as such")
		os.Exit(2)
	}
	vicinit.Main(version)
}
