package vicinit

import (
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// attachLoop attaches file, read-only, to a free loop device and returns the device.
func attachLoop(file string) (string, error) {
	ctl, err := os.OpenFile("/dev/loop-control", os.O_RDWR, 0)
	if err != nil {
		return "", fmt.Errorf("opening the loop control: %w", err)
	}
	defer ctl.Close()
	n, err := unix.IoctlRetInt(int(ctl.Fd()), unix.LOOP_CTL_GET_FREE)
	if err != nil {
		return "", fmt.Errorf("finding a free loop device: %w", err)
	}
	dev := fmt.Sprintf("/dev/loop%d", n)
	lo, err := os.OpenFile(dev, os.O_RDWR, 0)
	if err != nil {
		return "", fmt.Errorf("opening %s: %w", dev, err)
	}
	defer lo.Close()
	f, err := os.Open(file)
	if err != nil {
		return "", err
	}
	defer f.Close()
	cfg := unix.LoopConfig{Fd: uint32(f.Fd())}
	cfg.Info.Flags = unix.LO_FLAGS_READ_ONLY // not autoclear: it would detach when this function closes the device
	if err := unix.IoctlLoopConfigure(int(lo.Fd()), &cfg); err != nil {
		// Kernels before 5.8 lack LOOP_CONFIGURE.
		if err := unix.IoctlSetInt(int(lo.Fd()), unix.LOOP_SET_FD, int(f.Fd())); err != nil {
			return "", fmt.Errorf("attaching %s to %s: %w", file, dev, err)
		}
	}
	return dev, nil
}
