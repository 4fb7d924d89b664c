// Package qemutest boots a tiny test guest under appliance/qemu: Debian's cloud kernel (which
// scripts/setup.sh unpacks into VIC_TEST_KERNEL_DIR) and an initramfs whose /init is
// testdata/guest, a static Go program that prints each step on the console, speaks the
// guestinfo channel, addresses its NIC from vic.addr= and powers off at the power button, or by
// itself when its guestinfo configuration holds "poweroff".
package qemutest

import (
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sync"
	"testing"

	"github.com/docker-vic/docker-vic/endpoint/testns"
)

// binary is qemu's command (appliance/qemu.Binary).
const binary = "qemu-system-x86_64"

// testKernelDir holds the unpacked Debian cloud kernel package (scripts/setup.sh fetches it).
func testKernelDir() string {
	if d := os.Getenv("VIC_TEST_KERNEL_DIR"); d != "" {
		return d
	}
	return "/var/cache/docker-vic/cloud-kernel"
}

// guestModules are the modules the test guest loads, in an order that meets their
// dependencies: the virtio-serial port, fw_cfg, the vmxnet3 NIC and the power button.
var guestModules = []string{
	"drivers/virtio/virtio_ring", "drivers/virtio/virtio", "drivers/virtio/virtio_pci_modern_dev",
	"drivers/virtio/virtio_pci_legacy_dev", "drivers/virtio/virtio_pci", "drivers/char/virtio_console",
	"drivers/net/vmxnet3/vmxnet3", "drivers/firmware/qemu_fw_cfg", "drivers/input/evdev", "drivers/acpi/button",
}

// Require skips t (fails it under VIC_REQUIRE_PRIVILEGED=1) without root, qemu or the
// cloud kernel, and returns the kernel's path and its modules' directory.
func Require(t *testing.T) (kernel, modules string) {
	t.Helper()
	testns.RequirePrivileged(t)
	if _, err := exec.LookPath(binary); err != nil {
		missingTool(t, binary)
	}
	kernels, _ := filepath.Glob(filepath.Join(testKernelDir(), "boot", "vmlinuz-*"))
	mods, _ := filepath.Glob(filepath.Join(testKernelDir(), "lib", "modules", "*", "kernel"))
	if len(kernels) == 0 || len(mods) == 0 {
		missingTool(t, "the cloud kernel in "+testKernelDir())
	}
	return kernels[0], mods[0]
}

// missingTool skips t for lack of what, or fails it under VIC_REQUIRE_PRIVILEGED=1.
func missingTool(t *testing.T, what string) {
	t.Helper()
	if os.Getenv("VIC_REQUIRE_PRIVILEGED") == "1" {
		t.Fatalf("%s is missing and VIC_REQUIRE_PRIVILEGED=1 forbids skipping: run scripts/setup.sh", what)
	}
	t.Skipf("%s is missing: run scripts/setup.sh", what)
}

// Initrd builds testdata/guest as /init of a gzip'd cpio with the guest's modules from the
// directory Require returned.
func Initrd(t *testing.T, modules string) string {
	t.Helper()
	dir := t.TempDir()
	bin := filepath.Join(dir, "init")
	_, self, _, _ := runtime.Caller(0)
	build := exec.Command("go", "build", "-o", bin, "./testdata/guest")
	build.Dir = filepath.Dir(self)
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building the test guest: %v\n%s", err, out)
	}
	var files []cpioFile
	for _, d := range []string{"dev", "proc", "sys", "modules"} {
		files = append(files, cpioFile{name: d, mode: 0o40755})
	}
	files = append(files, cpioFile{name: "init", mode: 0o100755, data: readFile(t, bin)})
	var order bytes.Buffer
	for _, m := range guestModules {
		name := filepath.Base(m)
		files = append(files, cpioFile{name: "modules/" + name + ".ko", mode: 0o100644, data: readFile(t, filepath.Join(modules, m+".ko"))})
		fmt.Fprintln(&order, name)
	}
	files = append(files, cpioFile{name: "modules/order", mode: 0o100644, data: order.Bytes()})
	var out bytes.Buffer
	zw := gzip.NewWriter(&out)
	writeCpio(zw, files)
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "initrd.gz")
	if err := os.WriteFile(path, out.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func readFile(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

type cpioFile struct {
	name string
	mode uint32
	data []byte
}

// writeCpio writes files as a newc archive, the initramfs format.
func writeCpio(w *gzip.Writer, files []cpioFile) {
	pad := func(n int) { w.Write(make([]byte, (4-n%4)%4)) }
	entry := func(ino int, f cpioFile) {
		hdr := fmt.Sprintf("070701%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X",
			ino, f.mode, 0, 0, 1, 0, len(f.data), 0, 0, 0, 0, len(f.name)+1, 0)
		w.Write([]byte(hdr + f.name + "\x00"))
		pad(len(hdr) + len(f.name) + 1)
		w.Write(f.data)
		pad(len(f.data))
	}
	for i, f := range files {
		entry(i+1, f)
	}
	entry(0, cpioFile{name: "TRAILER!!!"})
}

// MapStore is a guestinfo.Store in memory.
type MapStore struct {
	mu sync.Mutex
	m  map[string]string
}

// NewMapStore holds the keys of m.
func NewMapStore(m map[string]string) *MapStore { return &MapStore{m: m} }

// Get implements guestinfo.Store.
func (s *MapStore) Get(_ context.Context, k string) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.m[k], nil
}

// Set implements guestinfo.Store.
func (s *MapStore) Set(_ context.Context, k, v string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.m[k] = v
	return nil
}

// Value is key's value.
func (s *MapStore) Value(k string) string {
	v, _ := s.Get(context.Background(), k)
	return v
}

// ISO builds a bootable ISO (isolinux, as the appliance's) that boots kernel with initrd and
// the command line cmdline; it skips t (fails it under VIC_REQUIRE_PRIVILEGED=1) without
// xorriso and isolinux.
func ISO(t *testing.T, kernel, initrd, cmdline string) string {
	t.Helper()
	const isolinux, ldlinux = "/usr/lib/ISOLINUX/isolinux.bin", "/usr/lib/syslinux/modules/bios/ldlinux.c32"
	for _, need := range []string{isolinux, ldlinux} {
		if _, err := os.Stat(need); err != nil {
			missingTool(t, need)
		}
	}
	xorriso, err := exec.LookPath("xorriso")
	if err != nil {
		missingTool(t, "xorriso")
	}
	dir := t.TempDir()
	root := filepath.Join(dir, "root")
	files := map[string][]byte{
		"isolinux/isolinux.bin": readFile(t, isolinux),
		"isolinux/ldlinux.c32":  readFile(t, ldlinux),
		"isolinux/isolinux.cfg": []byte("DEFAULT vic\nPROMPT 0\nTIMEOUT 0\nLABEL vic\n  KERNEL /boot/vmlinuz\n  INITRD /boot/initrd.gz\n  APPEND " + cmdline + "\n"),
		"boot/vmlinuz":          readFile(t, kernel),
		"boot/initrd.gz":        readFile(t, initrd),
	}
	for name, data := range files {
		path := filepath.Join(root, name)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	iso := filepath.Join(dir, "test.iso")
	out, err := exec.Command(xorriso, "-as", "mkisofs", "-quiet", "-o", iso, "-R", "-J",
		"-b", "isolinux/isolinux.bin", "-c", "isolinux/boot.cat",
		"-no-emul-boot", "-boot-load-size", "4", "-boot-info-table", root).CombinedOutput()
	if err != nil {
		t.Fatalf("building the test ISO: %v\n%s", err, out)
	}
	return iso
}
