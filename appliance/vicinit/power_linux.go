package vicinit

import (
	"encoding/binary"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// shutdownRequests sends the reboot(2) command of the first shutdown request: power off on
// SIGTERM or the ACPI power button (qemu's system_powerdown, vSphere's shut down when it
// cannot reach VMware Tools), restart on SIGINT (ctrl-alt-del).
func (in *Init) shutdownRequests() <-chan int {
	out := make(chan int, 2)
	sig := make(chan os.Signal, 2)
	signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
	go func() {
		s := <-sig
		in.log.Printf("%s: shutting down", s)
		if s == syscall.SIGINT {
			out <- unix.LINUX_REBOOT_CMD_RESTART
		} else {
			out <- unix.LINUX_REBOOT_CMD_POWER_OFF
		}
	}()
	go in.powerButton(out)
	return out
}

// powerButton waits for a press of the ACPI power button, read from its input device.
func (in *Init) powerButton(out chan<- int) {
	var dev string
	for i := 0; i < 60 && dev == ""; i++ { // evdev and the button driver load at coldplug
		names, _ := filepath.Glob("/sys/class/input/event*/device/name")
		for _, n := range names {
			if b, _ := os.ReadFile(n); strings.TrimSpace(string(b)) == "Power Button" {
				dev = "/dev/input/" + filepath.Base(filepath.Dir(filepath.Dir(n)))
			}
		}
		if dev == "" {
			time.Sleep(time.Second)
		}
	}
	if dev == "" {
		in.log.Printf("no ACPI power button: shut the appliance down with SIGTERM to PID 1")
		return
	}
	f, err := os.Open(dev)
	if err != nil {
		in.log.Printf("opening the power button %s: %v", dev, err)
		return
	}
	defer f.Close()
	// struct input_event on 64-bit: a timeval (16 bytes), type, code (2 bytes each), value (4).
	const evKey, keyPower = 1, 116
	ev := make([]byte, 24)
	for {
		if _, err := f.Read(ev); err != nil {
			in.log.Printf("reading the power button: %v", err)
			return
		}
		typ, code, val := binary.LittleEndian.Uint16(ev[16:]), binary.LittleEndian.Uint16(ev[18:]), int32(binary.LittleEndian.Uint32(ev[20:]))
		if typ == evKey && code == keyPower && val == 1 {
			in.log.Printf("power button pressed: shutting down")
			out <- unix.LINUX_REBOOT_CMD_POWER_OFF
			return
		}
	}
}

// shutdown stops the services, then powers off or restarts.
func (in *Init) shutdown(svc *services) {
	if svc != nil {
		svc.stop()
	}
	unix.Sync()
	if err := unix.Unmount(DataDir, 0); err != nil {
		unix.Mount("", DataDir, "", unix.MS_REMOUNT|unix.MS_RDONLY, "")
	}
	unix.Sync()
	in.log.Printf("bye")
	unix.Reboot(in.shutdownCmd)
	select {}
}
