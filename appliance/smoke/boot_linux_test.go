package smoke

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"gotest.tools/v3/assert"

	"github.com/docker-vic/docker-vic/api/guestinfo"
	"github.com/docker-vic/docker-vic/appliance/internal/fakehost"
	"github.com/docker-vic/docker-vic/config"
	"github.com/docker-vic/docker-vic/endpoint/testns"
)

// The test's addresses: the namespace is the public, client and management network at once.
const (
	hostAddr  = "198.51.100.1/24"
	guestAddr = "198.51.100.2/24"
	guestMAC  = "00:50:56:aa:00:01"
	tapName   = "vic-smk0"
)

// applianceISO returns the ISO the test boots, or skips without one.
func applianceISO(t *testing.T) string {
	iso := os.Getenv("VIC_APPLIANCE_ISO")
	if iso == "" {
		t.Skip("set VIC_APPLIANCE_ISO to the appliance ISO (make appliance-smoke)")
	}
	if _, err := os.Stat(iso); err != nil {
		t.Fatalf("VIC_APPLIANCE_ISO: %v (a relative path starts in appliance/smoke)", err)
	}
	iso, _ = filepath.Abs(iso)
	return iso
}

func TestApplianceBootsAndServesDockerOverTLS(t *testing.T) {
	iso := applianceISO(t)
	ns := testns.New(t, "vicsmk")
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()

	// The CLI's side: the configuration, the cards, a CA that signs the request at once.
	cfg := config.New("vch-smoke")
	cfg.Server.URL = "https://198.51.100.1/sdk" // nothing answers: vic-endpoint waits for vSphere
	cfg.Placement.Datacenter = "DC0"
	cfg.Public = config.RoleNetwork{PortGroup: "VM Network", IP: netip.MustParsePrefix(guestAddr),
		Gateway: config.Gateway{IP: netip.MustParsePrefix(hostAddr).Addr()}}
	cfg.DNS = []netip.Addr{netip.MustParsePrefix(hostAddr).Addr()}
	cfg.ApplyDefaults()
	keys, err := cfg.Encode()
	assert.NilError(t, err)
	keys[guestinfo.KeyNICs] = guestinfo.EncodeNICs([]guestinfo.NIC{{MAC: guestMAC, PortGroup: "VM Network"}})
	ca, err := fakehost.NewCA("vch-smoke CA")
	assert.NilError(t, err)
	creds := guestinfo.Credentials{User: "ops@vsphere.local", Password: "smoke-s3cret"}
	host := fakehost.New(ca, creds, keys)

	// The data disk: empty, so the first boot formats it.
	disk := emptyDisk(t, dir)

	// First boot: the disk is formatted, the key made, the request signed.
	vm := bootVM(t, ctx, ns, iso, disk, dir, host, 1)
	st := vm.waitReady(t, ctx, host, 1)
	assert.Equal(t, st.Addresses["client"], guestAddr)

	// What a user observes, from the client network: docker info over TLS with the CA's client
	// certificate, and a refusal of another CA's.
	certs := writeClientCerts(t, dir, "good", ca)
	out, err := dockerInNS(ctx, ns, certs, "info", "--format", "{{.ServerVersion}} {{.Name}}")
	assert.NilError(t, err, out)
	assert.Equal(t, strings.TrimSpace(out), st.Docker+" vch-smoke")
	t.Logf("power-on to docker info over TLS: %.1fs", time.Since(vm.start).Seconds())

	other, err := fakehost.NewCA("another CA")
	assert.NilError(t, err)
	bad := writeClientCerts(t, dir, "bad", other)
	bad.ca = certs.ca // trust the server, present a client certificate it must refuse
	out, err = dockerInNS(ctx, ns, bad, "info")
	assert.Assert(t, err != nil, "a client certificate of another CA was accepted: %s", out)
	assert.Assert(t, strings.Contains(out, "certificate") || strings.Contains(out, "tls"), out)

	// Neither the private key nor the password ever reached guestinfo.
	for k, v := range host.Keys() {
		assert.Assert(t, !strings.Contains(v, "PRIVATE KEY") && !strings.Contains(v, creds.Password), "guestinfo key %s holds a secret", k)
	}
	csr := host.Keys()[guestinfo.KeyCSR]
	vm.powerOff(t)

	// Second boot from the same disk: the key and its certificate are kept, Docker answers again.
	vm = bootVM(t, ctx, ns, iso, disk, dir, host, 2)
	vm.waitReady(t, ctx, host, 2)
	assert.Equal(t, host.Keys()[guestinfo.KeyCSR], csr, "the second boot made a new request")
	out, err = dockerInNS(ctx, ns, certs, "info", "--format", "{{.Name}}")
	assert.NilError(t, err, out)
	vm.powerOff(t)
}

// emptyDisk makes a 2 GB data disk in dir, empty: the first boot formats it.
func emptyDisk(t *testing.T, dir string) string {
	disk := filepath.Join(dir, "data.img")
	assert.NilError(t, os.WriteFile(disk, nil, 0o600))
	assert.NilError(t, os.Truncate(disk, 2<<30))
	return disk
}

// vm is one boot of the appliance under qemu.
type vm struct {
	serial, monitor string
	start           time.Time
	exited          chan struct{} // closed when qemu ends
}

// bootVM powers the appliance on with the devices of a vSphere VM, as the testbed's harness
// (appliance/qemu) gives them: the CD on IDE, the disk on PVSCSI, a vmxnet3 card on a tap in
// ns; its guestinfo port is served from host.
func bootVM(t *testing.T, ctx context.Context, ns *testns.NS, iso, disk, dir string, host *fakehost.Host, n int) *vm {
	v := &vm{serial: filepath.Join(dir, fmt.Sprintf("serial-%d.log", n)), monitor: filepath.Join(dir, fmt.Sprintf("mon-%d.sock", n)),
		exited: make(chan struct{})}
	sock := filepath.Join(dir, fmt.Sprintf("gi-%d.sock", n))
	v.start = time.Now()
	qemu := exec.Command("ip", "netns", "exec", ns.Name, "qemu-system-x86_64",
		"-machine", "pc", "-accel", "tcg,tb-size=256", "-cpu", "qemu64,+rdrand", "-m", "1024", "-smp", "1",
		"-nodefaults", "-no-user-config", "-display", "none", "-vga", "none",
		"-serial", "file:"+v.serial, "-monitor", "unix:"+v.monitor+",server=on,wait=off",
		"-drive", "file="+iso+",media=cdrom,if=ide,index=1,readonly=on,format=raw", "-boot", "order=d",
		"-device", "pvscsi,id=scsi0",
		"-drive", "file="+disk+",if=none,id=disk0,format=raw", "-device", "scsi-hd,drive=disk0,bus=scsi0.0,scsi-id=0",
		"-netdev", "tap,id=n0,ifname="+tapName+",script=no,downscript=no",
		"-device", "vmxnet3,netdev=n0,mac="+guestMAC,
		"-device", "virtio-serial-pci,id=vser0",
		"-chardev", "socket,id=gi,path="+sock+",server=on,wait=off",
		"-device", "virtserialport,bus=vser0.0,chardev=gi,name="+guestinfo.Port,
		"-fw_cfg", "name="+guestinfo.FwCfgPort+",string="+guestinfo.Port,
	)
	qemu.Stdout, qemu.Stderr = os.Stderr, os.Stderr
	qemu.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL} // a killed test leaves no VM
	assert.NilError(t, qemu.Start())
	go func() { qemu.Wait(); close(v.exited) }()
	t.Cleanup(func() {
		qemu.Process.Kill()
		<-v.exited
		if t.Failed() {
			b, _ := os.ReadFile(v.serial)
			t.Logf("serial console of boot %d:\n%s", n, b)
		}
	})
	// The wire: connect before the guest opens its port.
	conn := dialRetry(t, ctx, sock)
	go guestinfo.ServeWire(ctx, conn, host) //nolint:errcheck // ends with qemu
	waitLink(t, ns, tapName)
	ns.LinkUp(t, tapName, hostAddr)
	return v
}

// waitReady waits for boot number n to report ready, and logs how long it took.
func (v *vm) waitReady(t *testing.T, ctx context.Context, host *fakehost.Host, n int) guestinfo.Status {
	initAt := waitSerial(t, ctx, v.serial, "stage 1: vic-init", v.start)
	st, err := host.WaitStatus(ctx, func(s guestinfo.Status) bool { return s.Phase == guestinfo.PhaseReady && s.Boot == n })
	assert.NilError(t, err, "boot %d never reported ready", n)
	t.Logf("boot %d: power-on to vic-init %.1fs, to ready %.1fs (Docker %s, endpoint %q)",
		n, initAt.Seconds(), time.Since(v.start).Seconds(), st.Docker, st.Endpoint)
	return st
}

// powerOff presses the ACPI power button with qemu's system_powerdown and waits for a clean
// power-off.
func (v *vm) powerOff(t *testing.T) {
	pressed := time.Now()
	assert.NilError(t, monitor(v.monitor, "system_powerdown"))
	select {
	case <-v.exited:
		t.Logf("powered off %.1fs after system_powerdown", time.Since(pressed).Seconds())
	case <-time.After(90 * time.Second):
		t.Fatal("the appliance did not power off within 90 s of system_powerdown")
	}
	b, _ := os.ReadFile(v.serial)
	assert.Assert(t, strings.Contains(string(b), "] bye"), "no clean shutdown on the console")
	t.Logf("vic-init's own lines on the console:\n%s", progress(string(b)))
}

// progress keeps vic-init's own lines of the console and the daemons' start-up milestones.
func progress(console string) string {
	var out []string
	for _, l := range strings.Split(console, "\n") {
		daemon := strings.Contains(l, "] containerd: ") || strings.Contains(l, "] dockerd: ") || strings.Contains(l, "] vic-endpoint: ")
		milestone := strings.Contains(l, "successfully booted") || strings.Contains(l, "Loading containers") || strings.Contains(l, "API listen")
		if strings.HasPrefix(l, "vic-init [") && (!daemon || milestone) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

func dialRetry(t *testing.T, ctx context.Context, sock string) net.Conn {
	for {
		c, err := net.Dial("unix", sock)
		if err == nil {
			return c
		}
		select {
		case <-ctx.Done():
			t.Fatalf("connecting to qemu's guestinfo socket: %v", err)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func waitLink(t *testing.T, ns *testns.NS, name string) {
	for i := 0; i < 200; i++ {
		if _, err := ns.Link.LinkByName(name); err == nil {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("qemu made no tap %s", name)
}

// waitSerial waits for text on the serial console and returns when it came, since start.
func waitSerial(t *testing.T, ctx context.Context, path, text string, start time.Time) time.Duration {
	for {
		b, _ := os.ReadFile(path)
		if strings.Contains(string(b), text) {
			return time.Since(start)
		}
		select {
		case <-ctx.Done():
			t.Fatalf("the serial console never said %q", text)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

type clientCerts struct{ ca, cert, key string }

func writeClientCerts(t *testing.T, dir, name string, ca *fakehost.CA) clientCerts {
	certPEM, keyPEM, _, err := ca.ClientCert("smoke " + name)
	assert.NilError(t, err)
	c := clientCerts{ca: filepath.Join(dir, name+"-ca.pem"), cert: filepath.Join(dir, name+"-cert.pem"), key: filepath.Join(dir, name+"-key.pem")}
	assert.NilError(t, os.WriteFile(c.ca, []byte(ca.PEM), 0o644))
	assert.NilError(t, os.WriteFile(c.cert, []byte(certPEM), 0o644))
	assert.NilError(t, os.WriteFile(c.key, []byte(keyPEM), 0o600))
	return c
}

// dockerInNS runs the docker CLI inside the namespace against the appliance.
func dockerInNS(ctx context.Context, ns *testns.NS, c clientCerts, args ...string) (string, error) {
	return dockerAt(ctx, ns, netip.MustParsePrefix(guestAddr).Addr(), c, args...)
}

// dockerAt runs the docker CLI inside the namespace against the appliance's Docker API at addr.
func dockerAt(ctx context.Context, ns *testns.NS, addr netip.Addr, c clientCerts, args ...string) (string, error) {
	host := "tcp://" + addr.String() + ":2376"
	full := append([]string{"netns", "exec", ns.Name, "docker", "-H", host, "--tlsverify",
		"--tlscacert", c.ca, "--tlscert", c.cert, "--tlskey", c.key}, args...)
	cctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(cctx, "ip", full...)
	cmd.Env = append(os.Environ(), "DOCKER_CONFIG="+filepath.Dir(c.ca)) // no contexts of the machine's user
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// monitor sends one command to qemu's human monitor.
func monitor(sock, command string) error {
	c, err := net.Dial("unix", sock)
	if err != nil {
		return fmt.Errorf("qemu monitor: %w", err)
	}
	defer c.Close()
	_, err = fmt.Fprintf(c, "%s\n", command)
	time.Sleep(500 * time.Millisecond)
	return err
}
