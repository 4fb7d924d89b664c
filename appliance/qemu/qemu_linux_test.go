package qemu

import (
	"context"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vishvananda/netlink"

	"github.com/docker-vic/docker-vic/api/guestinfo"
	"github.com/docker-vic/docker-vic/appliance/qemu/qemutest"
	"github.com/docker-vic/docker-vic/endpoint/testns"
)

// waitConsole waits until the console file holds want and returns how long it took.
func waitConsole(t *testing.T, vm *VM, path, want string, timeout time.Duration) time.Duration {
	t.Helper()
	start := time.Now()
	for time.Since(start) < timeout {
		b, _ := os.ReadFile(path)
		if strings.Contains(string(b), want) {
			return time.Since(start)
		}
		if !vm.Running() {
			t.Fatalf("the VM stopped before its console showed %q: %v\n%s", want, vm.Wait(), b)
		}
		time.Sleep(100 * time.Millisecond)
	}
	b, _ := os.ReadFile(path)
	t.Fatalf("the console did not show %q within %s:\n%s", want, timeout, b)
	return 0
}

func TestVMBootsAnswersGuestinfoAndNetworkAndPowersOff(t *testing.T) {
	kernel, modules := qemutest.Require(t)
	initrd := qemutest.Initrd(t, modules)
	wire := testns.New(t, "vicqemu")
	wire.Bridge(t, "br0", "198.51.100.1/24")

	dir := t.TempDir()
	console := filepath.Join(dir, "console.log")
	mac, _ := net.ParseMAC("00:50:56:aa:bb:01")
	store := qemutest.NewMapStore(map[string]string{guestinfo.KeyConfig: `{"name":"vch-test"}`})
	start := time.Now()
	vm, err := Start(context.Background(), Spec{
		Name: "vic-test-guest", Kernel: kernel, Initrd: initrd,
		Append:   "console=ttyS0 quiet panic=-1 vic.addr=198.51.100.50/24",
		MemoryMB: 256, Console: console, RunDir: dir, Store: store,
		NICs: []NIC{{MAC: mac, Namespace: wire.Path(), Bridge: "br0"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { vm.Stop(time.Second) })
	toInit := waitConsole(t, vm, console, "guest: init runs", 3*time.Minute)
	waitConsole(t, vm, console, "guest: done", 3*time.Minute)
	t.Logf("accelerator %s: init after %s, guest done after %s", vm.Accel(), toInit.Round(time.Millisecond), time.Since(start).Round(time.Millisecond))

	log, _ := os.ReadFile(console)
	st, err := guestinfo.DecodeStatus(store.Value(guestinfo.KeyStatus))
	if err != nil || st.Boot != 2 || st.Message != "test guest" {
		t.Errorf("the store holds status %+v, %v; want the guest's second set (after reopening the port)", st, err)
	}
	for _, round := range []string{"1", "2"} {
		for _, want := range []string{
			`config "{\"name\":\"vch-test\"}" <nil>`,
			`cert answer "err readonly`,
		} {
			if line := "round " + round + " " + want; !strings.Contains(string(log), line) {
				t.Errorf("the console lacks %q:\n%s", line, log)
			}
		}
	}
	if store.Value(guestinfo.KeyCert) != "" {
		t.Errorf("the guest set the CLI's key %s", guestinfo.KeyCert)
	}

	out, err := exec.Command("ip", "netns", "exec", wire.Name, "busybox", "ping", "-c", "1", "-W", "5", "198.51.100.50").CombinedOutput()
	if err != nil {
		t.Fatalf("pinging the guest from its wire: %v\n%s\nconsole:\n%s", err, out, log)
	}
	neighs, err := wire.Link.NeighList(0, netlink.FAMILY_V4)
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, n := range neighs {
		if n.IP.Equal(net.ParseIP("198.51.100.50")) {
			found = true
			if n.HardwareAddr.String() != mac.String() {
				t.Errorf("the guest answers from %s, want %s", n.HardwareAddr, mac)
			}
		}
	}
	if !found {
		t.Error("the wire has no neighbour entry for the guest")
	}

	if !vm.Stop(time.Minute) {
		t.Errorf("the guest did not power off at the power button; console:\n%s", log)
	}
	if err := vm.Wait(); err != nil {
		t.Errorf("qemu ended with %v", err)
	}
	if log, _ := os.ReadFile(console); !strings.Contains(string(log), "power button: powering off") {
		t.Errorf("the console does not show the power-off:\n%s", log)
	}
}

func TestStartRefusesABadSpec(t *testing.T) {
	for _, tc := range []struct {
		name string
		spec Spec
		want string
	}{
		{"no boot", Spec{Name: "a", Console: "c", RunDir: "/r"}, "needs an ISO or a kernel"},
		{"no bridge", Spec{Name: "a", ISO: "x.iso", Console: "c", RunDir: "/r",
			NICs: []NIC{{MAC: net.HardwareAddr{0, 0x50, 0x56, 1, 2, 3}, Namespace: "/run/netns/x"}}}, "needs a namespace and a bridge"},
		{"bad disk", Spec{Name: "a", ISO: "x.iso", Console: "c", RunDir: "/r",
			Disks: []Disk{{Path: "d", Format: "vmdk"}}}, "not qcow2 or raw"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := Start(context.Background(), tc.spec); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Start = %v, want an error saying %q", err, tc.want)
			}
		})
	}
}
