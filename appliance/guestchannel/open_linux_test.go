package guestchannel

import (
	"os"
	"path/filepath"
	"testing"

	"gotest.tools/v3/assert"

	"github.com/docker-vic/docker-vic/api/guestinfo"
)

// fakeSys lays out the sysfs entries of qemu's fw_cfg and virtio-serial ports.
func fakeSys(t *testing.T, fwcfg string, ports map[string]string) Dirs {
	d := Dirs{FwCfg: t.TempDir(), Ports: t.TempDir(), Dev: "/dev"}
	if fwcfg != "" {
		dir := filepath.Join(d.FwCfg, guestinfo.FwCfgPort)
		assert.NilError(t, os.MkdirAll(dir, 0o755))
		assert.NilError(t, os.WriteFile(filepath.Join(dir, "raw"), []byte(fwcfg), 0o644))
	}
	for dev, name := range ports {
		assert.NilError(t, os.MkdirAll(filepath.Join(d.Ports, dev), 0o755))
		assert.NilError(t, os.WriteFile(filepath.Join(d.Ports, dev, "name"), []byte(name+"\n"), 0o644))
	}
	return d
}

func TestQemuPortFindsTheNamedPort(t *testing.T) {
	d := fakeSys(t, guestinfo.Port, map[string]string{"vport0p1": "org.qemu.guest_agent.0", "vport1p1": guestinfo.Port})
	dev, err := qemuPort(d)
	assert.NilError(t, err)
	assert.Equal(t, dev, "/dev/vport1p1")
}

func TestQemuPortWithoutEntryIsNotQemu(t *testing.T) {
	dev, err := qemuPort(fakeSys(t, "", nil))
	assert.NilError(t, err)
	assert.Equal(t, dev, "")
}

func TestQemuPortNamedButMissing(t *testing.T) {
	_, err := qemuPort(fakeSys(t, "org.example.other", map[string]string{"vport0p1": guestinfo.Port}))
	assert.Error(t, err, `fw_cfg entry opt/org.docker-vic/guestinfo-port names virtio-serial port "org.example.other", which the guest does not have`)
}

// TestOpenOnThisMachineFindsNoChannel: the host running the tests is neither a docker-vic qemu
// guest nor (here) VMware; the backdoor check must not crash.
func TestOpenOnThisMachineFindsNoChannel(t *testing.T) {
	_, _, err := Open(fakeSys(t, "", nil))
	if err == nil {
		t.Skip("this machine is a VMware VM with a backdoor")
	}
	assert.ErrorIs(t, err, ErrNoChannel)
}
