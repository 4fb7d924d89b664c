package vicinit

import (
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"
)

// mountBase mounts what the root's programs expect and systemd would mount: /proc, /sys, /dev
// (moved in by stage 1, mounted here otherwise), /dev/pts, /dev/shm, /run, /tmp and the cgroup2
// hierarchy.
func mountBase() error {
	for _, m := range []struct {
		src, dst, fs, opts string
		flags              uintptr
	}{
		{"proc", "/proc", "proc", "", unix.MS_NOSUID | unix.MS_NODEV | unix.MS_NOEXEC},
		{"sysfs", "/sys", "sysfs", "", unix.MS_NOSUID | unix.MS_NODEV | unix.MS_NOEXEC},
		{"devtmpfs", "/dev", "devtmpfs", "mode=0755", unix.MS_NOSUID},
		{"devpts", "/dev/pts", "devpts", "gid=5,mode=620,ptmxmode=666", unix.MS_NOSUID | unix.MS_NOEXEC},
		{"tmpfs", "/dev/shm", "tmpfs", "mode=1777", unix.MS_NOSUID | unix.MS_NODEV},
		{"tmpfs", "/run", "tmpfs", "mode=0755", unix.MS_NOSUID | unix.MS_NODEV},
		{"tmpfs", "/tmp", "tmpfs", "mode=1777", unix.MS_NOSUID | unix.MS_NODEV},
		{"cgroup2", "/sys/fs/cgroup", "cgroup2", "nsdelegate", unix.MS_NOSUID | unix.MS_NODEV | unix.MS_NOEXEC},
	} {
		if mounted(m.dst) {
			continue
		}
		os.MkdirAll(m.dst, 0o755)
		if err := unix.Mount(m.src, m.dst, m.fs, m.flags, m.opts); err != nil {
			return &os.PathError{Op: "mount", Path: m.dst, Err: err}
		}
	}
	os.Symlink("/proc/self/fd", "/dev/fd")
	os.Symlink("/run", "/var/run")
	return nil
}

// mounted reports whether path is a mount point, from /proc/self/mounts (or false before /proc).
func mounted(path string) bool {
	b, err := os.ReadFile("/proc/self/mounts")
	if err != nil {
		return false
	}
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) > 1 && f[1] == path {
			return true
		}
	}
	return false
}

// coldplug loads the drivers of the devices present, as udev would at boot: modprobe for each
// device's modalias not asked for yet (but the CPU's), in one run. It returns how many it asked for: a loaded
// driver can show new devices (a PCI bus its virtio devices), so callers run it again until
// it asks for none. modprobe's failures are not errors: most aliases have no module.
func coldplug(ctx context.Context, p *Procs, asked map[string]bool) int {
	var aliases []string
	filepath.WalkDir("/sys/devices", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || d.Name() != "modalias" {
			return nil
		}
		if b, err := os.ReadFile(path); err == nil {
			// The CPU's features ask for kvm and crypto accelerators: the appliance runs no
			// VMs, and loading kvm alone costs a second under emulation.
			if a := strings.TrimSpace(string(b)); a != "" && !asked[a] && !strings.HasPrefix(a, "cpu:") {
				asked[a] = true
				aliases = append(aliases, a)
			}
		}
		return nil
	})
	if len(aliases) > 0 {
		// -b honours blacklists, -q says nothing of aliases without a module.
		p.Run(ctx, "modprobe", append([]string{"-a", "-b", "-q"}, aliases...)...)
	}
	return len(aliases)
}
