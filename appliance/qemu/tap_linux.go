package qemu

import (
	"fmt"
	"os"
	"runtime"
	"unsafe"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// openTap makes the tap of n inside its namespace, enslaves it to the bridge, brings it up and
// returns its descriptor for qemu. The tap goes away when the last descriptor closes: when
// qemu exits and openTap's caller closed its own.
func openTap(n NIC) (*os.File, error) {
	target, err := netns.GetFromPath(n.Namespace)
	if err != nil {
		return nil, fmt.Errorf("opening network namespace %q: %w", n.Namespace, err)
	}
	defer target.Close()
	name := n.tapName()
	var fd int
	err = inNamespace(target, func() error {
		fd, err = createTap(name)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("creating tap %q in %q: %w", name, n.Namespace, err)
	}
	tap := os.NewFile(uintptr(fd), "/dev/net/tun:"+name)
	if err := plugTap(target, name, n.Bridge); err != nil {
		tap.Close()
		return nil, fmt.Errorf("tap %q in %q: %w", name, n.Namespace, err)
	}
	return tap, nil
}

// inNamespace runs f on a locked thread moved into ns. The thread is thrown away afterwards
// when it cannot go back, so that no other goroutine runs in ns by mistake.
func inNamespace(ns netns.NsHandle, f func() error) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		orig, err := netns.Get()
		if err != nil {
			errc <- err
			return
		}
		defer orig.Close()
		if err := netns.Set(ns); err != nil {
			errc <- err
			return
		}
		errc <- f()
		if netns.Set(orig) == nil {
			runtime.UnlockOSThread()
		}
	}()
	return <-errc
}

// createTap opens /dev/net/tun as a tap named name (no packet information header) in the
// calling thread's namespace.
func createTap(name string) (int, error) {
	fd, err := unix.Open("/dev/net/tun", unix.O_RDWR|unix.O_CLOEXEC, 0)
	if err != nil {
		return -1, err
	}
	var req struct {
		name  [unix.IFNAMSIZ]byte
		flags uint16
		_     [22]byte
	}
	copy(req.name[:], name)
	req.flags = unix.IFF_TAP | unix.IFF_NO_PI
	if _, _, errno := unix.Syscall(unix.SYS_IOCTL, uintptr(fd), unix.TUNSETIFF, uintptr(unsafe.Pointer(&req))); errno != 0 {
		unix.Close(fd)
		return -1, errno
	}
	return fd, nil
}

// plugTap enslaves tap name to bridge in ns and brings it up.
func plugTap(ns netns.NsHandle, name, bridge string) error {
	h, err := netlink.NewHandleAt(ns)
	if err != nil {
		return err
	}
	defer h.Close()
	tap, err := h.LinkByName(name)
	if err != nil {
		return err
	}
	br, err := h.LinkByName(bridge)
	if err != nil {
		return fmt.Errorf("looking up bridge %q: %w", bridge, err)
	}
	if err := h.LinkSetMaster(tap, br); err != nil {
		return fmt.Errorf("enslaving it to %q: %w", bridge, err)
	}
	return h.LinkSetUp(tap)
}
