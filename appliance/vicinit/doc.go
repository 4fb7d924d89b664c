// Package vicinit is vic-init, the endpoint appliance's PID 1, in two stages.
//
// Stage 1 runs as the initramfs's /init: it loads the few modules that reach the CD, mounts the
// root squashfs from the CD under an overlay on tmpfs and switches root to it, with vic-init
// from the CD as the new PID 1 (stage1_linux.go). Stage 2 makes the appliance a VCH endpoint:
// it loads the drivers of the devices present, opens the guestinfo channel, reads the VCH's
// configuration, mounts the data disk, names the network cards by role and applies their
// addresses and routes, makes the Docker API's key and has its certificate signed through
// guestinfo, then supervises containerd, dockerd and vic-endpoint. Every step is reported in
// guestinfo.KeyStatus and on the serial console; a failed step is reported and tried again.
//
// The parts that need no VM (the link plan, the certificate request, the status) build
// everywhere and are unit-tested; the rest is Linux and is tested by booting the ISO.
package vicinit
