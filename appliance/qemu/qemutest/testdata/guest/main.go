// Command guest is the test VM's /init: it loads the modules listed in /modules/order, speaks
// the guestinfo channel, gives its NIC the address of vic.addr= on the kernel command line and
// powers off when the power button is pressed, or when its configuration says "poweroff". Every step is one line on the console that
// qemu_linux_test.go looks for.
package main

import (
	"context"
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/docker-vic/docker-vic/api/guestinfo"
)

var console *os.File

func say(format string, args ...any) { fmt.Fprintf(console, "guest: "+format+"\r\n", args...) }

func main() {
	_ = unix.Mount("devtmpfs", "/dev", "devtmpfs", 0, "")
	_ = unix.Mount("proc", "/proc", "proc", 0, "")
	_ = unix.Mount("sysfs", "/sys", "sysfs", 0, "")
	var err error
	if console, err = os.OpenFile("/dev/console", os.O_WRONLY, 0); err != nil {
		console = os.Stdout
	}
	say("init runs")
	loadModules()
	go powerButton()
	network()
	config := channel()
	say("done")
	if strings.Contains(config, "poweroff") {
		say("the configuration says: powering off")
		powerOff()
	}
	select {}
}

func loadModules() {
	order, _ := os.ReadFile("/modules/order")
	for _, name := range strings.Fields(string(order)) {
		f, err := os.Open("/modules/" + name + ".ko")
		if err == nil {
			err = unix.FinitModule(int(f.Fd()), "", 0)
			f.Close()
		}
		if err != nil && err != unix.EEXIST {
			say("loading %s: %v", name, err)
		}
	}
}

// channel finds the port fw_cfg names, then sets the status, reads the configuration, tries a
// key the CLI owns, and does it again after reopening the port. It returns the configuration.
func channel() (config string) {
	raw := "/sys/firmware/qemu_fw_cfg/by_name/" + guestinfo.FwCfgPort + "/raw"
	port, err := waitRead(raw)
	if err != nil {
		say("no fw_cfg entry: %v", err)
		return ""
	}
	dev, err := portDevice(strings.TrimSpace(port))
	if err != nil {
		say("%v", err)
		return ""
	}
	ctx := context.Background()
	for round := 1; round <= 2; round++ {
		f, err := os.OpenFile(dev, os.O_RDWR, 0)
		if err != nil {
			say("opening %s: %v", dev, err)
			return config
		}
		ch := guestinfo.NewWireChannel(f)
		st := guestinfo.Status{Phase: guestinfo.PhaseBooting, Boot: round, Message: "test guest"}
		if err := ch.Set(ctx, guestinfo.KeyStatus, st.Encode()); err != nil {
			say("set status: %v", err)
		}
		v, err := ch.Get(ctx, guestinfo.KeyConfig)
		say("round %d config %q %v", round, v, err)
		config = v
		// Past WireChannel's own check, straight on the wire.
		fmt.Fprintf(f, "set %s QUJD\n", guestinfo.KeyCert)
		buf := make([]byte, 200)
		n, _ := f.Read(buf)
		say("round %d cert answer %q", round, strings.TrimSpace(string(buf[:n])))
		f.Close()
	}
	return config
}

// portDevice is /dev/vportNpM of the virtio-serial port name: no udev makes the
// /dev/virtio-ports links.
func portDevice(name string) (string, error) {
	for range 100 {
		dirs, _ := filepath.Glob("/sys/class/virtio-ports/*")
		for _, d := range dirs {
			if b, _ := os.ReadFile(d + "/name"); strings.TrimSpace(string(b)) == name {
				return "/dev/" + filepath.Base(d), nil
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	return "", fmt.Errorf("no virtio port named %q", name)
}

func waitRead(path string) (string, error) {
	var err error
	for range 100 {
		var b []byte
		if b, err = os.ReadFile(path); err == nil {
			return string(b), nil
		}
		time.Sleep(100 * time.Millisecond)
	}
	return "", err
}

// network gives the first ethernet link the address vic.addr= names and brings it up.
func network() {
	cmdline, _ := os.ReadFile("/proc/cmdline")
	var addr string
	for _, f := range strings.Fields(string(cmdline)) {
		if v, ok := strings.CutPrefix(f, "vic.addr="); ok {
			addr = v
		}
	}
	a, err := netlink.ParseAddr(addr)
	if err != nil {
		say("no vic.addr: %v", err)
		return
	}
	for range 100 {
		links, _ := netlink.LinkList()
		for _, l := range links {
			if l.Type() != "device" || l.Attrs().Name == "lo" {
				continue
			}
			if err := netlink.AddrAdd(l, a); err != nil {
				say("address: %v", err)
			}
			if err := netlink.LinkSetUp(l); err != nil {
				say("link up: %v", err)
			}
			say("link %s %s has %s", l.Attrs().Name, l.Attrs().HardwareAddr, addr)
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	say("no ethernet link")
}

// powerButton powers off when an input device reports KEY_POWER.
func powerButton() {
	var devs []string
	for range 100 {
		if devs, _ = filepath.Glob("/dev/input/event*"); len(devs) > 0 {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	pressed := make(chan struct{}, 1)
	for _, d := range devs {
		go func() {
			f, err := os.Open(d)
			if err != nil {
				return
			}
			ev := make([]byte, 24) // struct input_event on 64-bit
			for {
				if _, err := f.Read(ev); err != nil {
					return
				}
				typ, code := binary.LittleEndian.Uint16(ev[16:]), binary.LittleEndian.Uint16(ev[18:])
				if typ == 1 && code == 116 { // EV_KEY, KEY_POWER
					pressed <- struct{}{}
				}
			}
		}()
	}
	<-pressed
	say("power button: powering off")
	powerOff()
}

func powerOff() {
	unix.Sync()
	_ = unix.Reboot(unix.LINUX_REBOOT_CMD_POWER_OFF)
}
