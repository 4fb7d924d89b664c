package vicinit

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// The stage-1 layout: the initramfs holds vic-init as /init and, under /lib/modules, the
// modules that reach the CD with the order file listing them in load order; the CD holds
// vic/root.squashfs, vic/vic-init and vic/vic-endpoint.
const (
	stage1Modules = "/lib/modules"
	cdMount       = "/run/vic/cd"
	squashMount   = "/run/vic/squash"
	overlayMount  = "/run/vic/overlay"
	newRoot       = "/newroot" // on the initramfs: /run moves into it
	// VicDir is where the root finds the CD's vic directory (vic-init, vic-endpoint).
	VicDir     = "/opt/vic"
	squashPath = "vic/root.squashfs"
)

// Stage1 runs as /init of the initramfs: it loads the modules that reach the CD, finds the CD
// that holds the root, mounts its squashfs under an overlay whose upper layer is a tmpfs, and
// switches root to it with vic-init's stage 2 as the new PID 1. It returns only on failure.
func Stage1(log *Log) error {
	for _, m := range []struct{ src, dst, fs string }{{"proc", "/proc", "proc"}, {"sysfs", "/sys", "sysfs"}, {"devtmpfs", "/dev", "devtmpfs"}, {"tmpfs", "/run", "tmpfs"}} {
		os.MkdirAll(m.dst, 0o755)
		if err := unix.Mount(m.src, m.dst, m.fs, unix.MS_NOSUID, ""); err != nil && !errors.Is(err, unix.EBUSY) {
			return fmt.Errorf("mounting %s: %w", m.dst, err)
		}
	}
	if err := loadStage1Modules(log); err != nil {
		return err
	}
	cd, err := findCD(log, 30*time.Second)
	if err != nil {
		return err
	}
	log.Printf("stage 1: the root is on %s", cd)
	for _, d := range []string{squashMount, overlayMount, newRoot} {
		os.MkdirAll(d, 0o755)
	}
	loop, err := attachLoop(filepath.Join(cdMount, squashPath))
	if err != nil {
		return err
	}
	if err := unix.Mount(loop, squashMount, "squashfs", unix.MS_RDONLY, ""); err != nil {
		return fmt.Errorf("mounting the root squashfs: %w", err)
	}
	if err := unix.Mount("tmpfs", overlayMount, "tmpfs", 0, "mode=0755"); err != nil {
		return fmt.Errorf("mounting the overlay's tmpfs: %w", err)
	}
	os.MkdirAll(overlayMount+"/upper", 0o755)
	os.MkdirAll(overlayMount+"/work", 0o755)
	opts := fmt.Sprintf("lowerdir=%s,upperdir=%s/upper,workdir=%s/work", squashMount, overlayMount, overlayMount)
	if err := unix.Mount("overlay", newRoot, "overlay", 0, opts); err != nil {
		return fmt.Errorf("mounting the overlay root: %w", err)
	}
	// The CD's vic directory, the layers and /run/vic move along into the new root.
	os.MkdirAll(newRoot+VicDir, 0o755)
	if err := unix.Mount(filepath.Join(cdMount, "vic"), newRoot+VicDir, "", unix.MS_BIND, ""); err != nil {
		return fmt.Errorf("binding the CD's vic directory: %w", err)
	}
	for _, d := range []string{"/proc", "/sys", "/dev", "/run"} {
		os.MkdirAll(newRoot+d, 0o755)
	}
	for _, d := range []string{"/proc", "/sys", "/dev"} {
		if err := unix.Mount(d, newRoot+d, "", unix.MS_MOVE, ""); err != nil {
			return fmt.Errorf("moving %s into the new root: %w", d, err)
		}
	}
	// /run holds the mounts of the CD and the layers: it moves last, and with it they stay
	// reachable under the new root's /run/vic.
	if err := unix.Mount("/run", newRoot+"/run", "", unix.MS_MOVE, ""); err != nil {
		return fmt.Errorf("moving /run into the new root: %w", err)
	}
	return switchRoot(newRoot, VicDir+"/vic-init")
}

// switchRoot empties the initramfs, makes dir the root and executes init there as PID 1.
func switchRoot(dir, init string) error {
	if err := os.Chdir(dir); err != nil {
		return err
	}
	removeInitramfs()
	if err := unix.Mount(".", "/", "", unix.MS_MOVE, ""); err != nil {
		return fmt.Errorf("moving the new root to /: %w", err)
	}
	if err := unix.Chroot("."); err != nil {
		return fmt.Errorf("chroot into the new root: %w", err)
	}
	if err := os.Chdir("/"); err != nil {
		return err
	}
	return unix.Exec(init, []string{init}, os.Environ())
}

// removeInitramfs frees the initramfs's memory: its files, not the mounts under it.
func removeInitramfs() {
	var root unix.Stat_t
	if unix.Stat("/", &root) != nil {
		return
	}
	entries, _ := os.ReadDir("/")
	for _, e := range entries {
		p := "/" + e.Name()
		var st unix.Stat_t
		if unix.Lstat(p, &st) != nil || st.Dev != root.Dev {
			continue // the new root
		}
		os.RemoveAll(p)
	}
}

// loadStage1Modules loads the initramfs's modules in the order file's order. A module already
// loaded or built in is fine.
func loadStage1Modules(log *Log) error {
	f, err := os.Open(filepath.Join(stage1Modules, "order"))
	if err != nil {
		return fmt.Errorf("reading the initramfs's module list: %w", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		path := strings.TrimSpace(sc.Text())
		if path == "" {
			continue
		}
		if err := loadModule(filepath.Join(stage1Modules, path)); err != nil {
			log.Printf("stage 1: loading %s: %v", path, err)
		}
	}
	return sc.Err()
}

// loadModule loads one module file with finit_module.
func loadModule(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	flags := 0
	if strings.HasSuffix(path, ".xz") || strings.HasSuffix(path, ".zst") {
		flags = unix.MODULE_INIT_COMPRESSED_FILE
	}
	if err := unix.FinitModule(int(f.Fd()), "", flags); err != nil && !errors.Is(err, unix.EEXIST) {
		return err
	}
	return nil
}

// findCD mounts each CD drive in turn until one holds the root squashfs, waiting up to
// timeout for the drives to appear.
func findCD(log *Log, timeout time.Duration) (string, error) {
	os.MkdirAll(cdMount, 0o755)
	deadline := time.Now().Add(timeout)
	for {
		drives, _ := filepath.Glob("/sys/block/sr*")
		for _, d := range drives {
			dev := "/dev/" + filepath.Base(d)
			if err := unix.Mount(dev, cdMount, "iso9660", unix.MS_RDONLY, ""); err != nil {
				continue
			}
			if _, err := os.Stat(filepath.Join(cdMount, squashPath)); err == nil {
				return dev, nil
			}
			unix.Unmount(cdMount, 0)
		}
		if time.Now().After(deadline) {
			return "", fmt.Errorf("no CD drive holds %s after %s (drives: %v)", squashPath, timeout, drives)
		}
		time.Sleep(200 * time.Millisecond)
	}
}
