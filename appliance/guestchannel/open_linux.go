package guestchannel

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/docker-vic/docker-vic/api/guestinfo"
)

// Dirs are where Open looks; tests point them into a temporary directory.
type Dirs struct {
	// FwCfg is the qemu_fw_cfg module's by_name directory.
	FwCfg string
	// Ports is the sysfs class of virtio-serial ports: NAME/name holds a port's name, and
	// /dev/NAME is its device (there is no udev to make /dev/virtio-ports/ links).
	Ports string
	// Dev is where the port devices are.
	Dev string
}

// DefaultDirs are the real ones.
var DefaultDirs = Dirs{FwCfg: "/sys/firmware/qemu_fw_cfg/by_name", Ports: "/sys/class/virtio-ports", Dev: "/dev"}

// Open returns the channel of this VM: the qemu port when the fw_cfg entry exists, else the
// VMware backdoor when the guest runs on VMware, else ErrNoChannel. The qemu_fw_cfg and
// virtio_console modules must be loaded.
func Open(d Dirs) (guestinfo.Channel, Transport, error) {
	port, err := qemuPort(d)
	if err != nil {
		return nil, "", err
	}
	if port != "" {
		f, err := os.OpenFile(port, os.O_RDWR, 0)
		if err != nil {
			return nil, "", fmt.Errorf("opening the guestinfo port: %w", err)
		}
		return guestinfo.NewWireChannel(f), TransportQemu, nil
	}
	if ch, ok := openVMware(); ok {
		return ch, TransportVMware, nil
	}
	return nil, "", ErrNoChannel
}

// qemuPort returns the device of the port that the fw_cfg entry names, or "" without the entry.
func qemuPort(d Dirs) (string, error) {
	raw, err := os.ReadFile(filepath.Join(d.FwCfg, guestinfo.FwCfgPort, "raw"))
	if os.IsNotExist(err) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("reading fw_cfg entry %s: %w", guestinfo.FwCfgPort, err)
	}
	name := strings.TrimSpace(string(raw))
	ports, _ := filepath.Glob(filepath.Join(d.Ports, "*", "name"))
	for _, p := range ports {
		b, err := os.ReadFile(p)
		if err == nil && strings.TrimSpace(string(b)) == name {
			return filepath.Join(d.Dev, filepath.Base(filepath.Dir(p))), nil
		}
	}
	return "", fmt.Errorf("fw_cfg entry %s names virtio-serial port %q, which the guest does not have", guestinfo.FwCfgPort, name)
}
