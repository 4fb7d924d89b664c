// Package guestchannel opens the endpoint VM's guestinfo channel from inside the guest: under
// qemu (the tests' harness) the virtio-serial port that the fw_cfg entry guestinfo.FwCfgPort
// names, speaking guestinfo's wire; on vSphere VMware's backdoor (info-get and info-set of
// guestinfo keys). Both are a guestinfo.Channel.
package guestchannel

import (
	"errors"
)

// Transport names the way the channel reaches the host.
type Transport string

// The transports.
const (
	TransportQemu   Transport = "qemu fw_cfg and virtio-serial"
	TransportVMware Transport = "VMware backdoor"
)

// ErrNoChannel says that the guest finds neither transport: not a VM of docker-vic's.
var ErrNoChannel = errors.New("no guestinfo channel: neither the qemu fw_cfg entry nor VMware's backdoor is there")
