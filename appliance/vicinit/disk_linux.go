package vicinit

import (
	"context"
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"
)

// DataDir is where the data disk is mounted: the Docker API's key (tls/), dockerd's data root
// (docker/), containerd's (containerd/) and vic-endpoint's state (vic/). Without a disk it is a
// tmpfs, and nothing survives a reboot.
const DataDir = "/var/lib/vic-data"

// dataLabel names the file system vic-init makes on the data disk.
const dataLabel = "vic-data"

// mountData mounts the first whole disk that is not the CD at DataDir, making an ext4 file
// system on it when it has none (the first boot). disk is "" when there is no disk: DataDir is
// then a tmpfs.
func mountData(ctx context.Context, p *Procs, log *Log) (disk string, err error) {
	os.MkdirAll(DataDir, 0o755)
	disk = findDataDisk()
	if disk == "" {
		log.Printf("no data disk: the key, the images and the containers live in memory until the next boot")
		return "", unix.Mount("tmpfs", DataDir, "tmpfs", 0, "mode=0755")
	}
	if !isExt4(disk) {
		if hasAnyFS(disk) {
			return "", fmt.Errorf("data disk %s holds a file system or partitions that are not ext4: not formatting it", disk)
		}
		log.Printf("formatting the data disk %s (ext4, first boot)", disk)
		if err := p.Run(ctx, "mkfs.ext4", "-q", "-F", "-L", dataLabel, "-E", "nodiscard,lazy_itable_init=1,lazy_journal_init=1", disk); err != nil {
			return "", fmt.Errorf("formatting the data disk %s: %w", disk, err)
		}
	}
	if err := unix.Mount(disk, DataDir, "ext4", unix.MS_NOATIME, ""); err != nil {
		return "", fmt.Errorf("mounting the data disk %s: %w", disk, err)
	}
	return disk, nil
}

// findDataDisk returns the device of the first disk (sd*, vd*, xvd*, nvme*n*) without
// partitions, or "".
func findDataDisk() string {
	entries, _ := os.ReadDir("/sys/block")
	for _, e := range entries {
		n := e.Name()
		if !(strings.HasPrefix(n, "sd") || strings.HasPrefix(n, "vd") || strings.HasPrefix(n, "xvd") || strings.HasPrefix(n, "nvme")) {
			continue
		}
		if parts, _ := filepath.Glob(filepath.Join("/sys/block", n, n+"*")); len(parts) > 0 {
			continue // partitioned: someone else's disk
		}
		if ro, _ := os.ReadFile(filepath.Join("/sys/block", n, "ro")); strings.TrimSpace(string(ro)) == "1" {
			continue
		}
		return "/dev/" + n
	}
	return ""
}

// isExt4 reports whether dev holds an ext2/3/4 superblock (magic 0xEF53 at 1080).
func isExt4(dev string) bool {
	b := readAt(dev, 1024, 1024)
	return len(b) == 1024 && binary.LittleEndian.Uint16(b[56:58]) == 0xEF53
}

// hasAnyFS reports whether dev's first MiB holds anything but zeros: a file system or a
// partition table vic-init does not know, which it will not overwrite.
func hasAnyFS(dev string) bool {
	for _, c := range readAt(dev, 0, 1<<20) {
		if c != 0 {
			return true
		}
	}
	return false
}

func readAt(dev string, off int64, n int) []byte {
	f, err := os.Open(dev)
	if err != nil {
		return nil
	}
	defer f.Close()
	b := make([]byte, n)
	m, _ := f.ReadAt(b, off)
	return b[:m]
}

// nextBoot counts this boot in DataDir and returns its number, 1 at the first.
func nextBoot() int {
	path := filepath.Join(DataDir, "boot-count")
	n := 0
	if b, err := os.ReadFile(path); err == nil {
		fmt.Sscan(string(b), &n)
	}
	n++
	writeFile(path, []byte(fmt.Sprintln(n)), 0o644)
	return n
}
