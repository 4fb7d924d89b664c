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

func TestApplianceBootsAndServesDockerOverTLS(t *testing.T) {
	iso := os.Getenv("VIC_APPLIANCE_ISO")
	if iso == "" {
		t.Skip("set VIC_APPLIANCE_ISO to the appliance ISO (make appliance-smoke)")
	}
	if _, err := os.Stat(iso); err != nil {
		t.Fatalf("VIC_APPLIANCE_ISO: %v (a relative path starts in appliance/smoke)", err)
	}
	iso, _ = filepath.Abs(iso)
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
	disk := filepath.Join(dir, "data.img")
	assert.NilError(t, os.WriteFile(disk, nil, 0o600))
	assert.NilError(t, os.Truncate(disk, 2<<30))

	serial := filepath.Join(dir, "serial.log")
	sock := filepath.Join(dir, "guestinfo.sock")
	mon := filepath.Join(dir, "monitor.sock")
	start := time.Now()
	// The devices of a vSphere VM, as the testbed's harness (appliance/qemu) gives them: the CD
	// on IDE, the disk on PVSCSI, a vmxnet3 card.
	qemu := exec.Command("ip", "netns", "exec", ns.Name, "qemu-system-x86_64",
		"-machine", "pc", "-accel", "tcg,tb-size=256", "-m", "1024", "-smp", "1",
		"-nodefaults", "-no-user-config", "-display", "none", "-vga", "none",
		"-serial", "file:"+serial, "-monitor", "unix:"+mon+",server=on,wait=off",
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
	exited := make(chan struct{}) // closed when qemu ends
	go func() { qemu.Wait(); close(exited) }()
	t.Cleanup(func() {
		qemu.Process.Kill()
		<-exited
		if t.Failed() {
			b, _ := os.ReadFile(serial)
			t.Logf("serial console:\n%s", b)
		}
	})

	// The wire: connect before the guest opens its port.
	conn := dialRetry(t, ctx, sock)
	go guestinfo.ServeWire(ctx, conn, host) //nolint:errcheck // ends with qemu
	waitLink(t, ns, tapName)
	ns.LinkUp(t, tapName, hostAddr)

	initAt := waitSerial(t, ctx, serial, "stage 1: vic-init", start)
	t.Logf("power-on to vic-init: %.1fs", initAt.Seconds())
	st, err := host.WaitStatus(ctx, func(s guestinfo.Status) bool { return s.Phase == guestinfo.PhaseReady })
	assert.NilError(t, err, "the appliance never reported ready")
	readyAt := time.Since(start)
	t.Logf("power-on to ready: %.1fs (Docker %s, endpoint %q)", readyAt.Seconds(), st.Docker, st.Endpoint)
	assert.Equal(t, st.Boot, 1)
	assert.Equal(t, st.Addresses["client"], guestAddr)

	// What a user observes, from the client network: docker info over TLS with the CA's client
	// certificate, and a refusal of another CA's.
	certs := writeClientCerts(t, dir, "good", ca)
	out, err := dockerInNS(ctx, ns, certs, "info", "--format", "{{.ServerVersion}} {{.Name}}")
	assert.NilError(t, err, out)
	assert.Equal(t, strings.TrimSpace(out), st.Docker+" vch-smoke")
	t.Logf("power-on to docker info over TLS: %.1fs", time.Since(start).Seconds())

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

	// qemu's system_powerdown presses the ACPI power button: a clean power-off.
	pressed := time.Now()
	assert.NilError(t, monitor(mon, "system_powerdown"))
	select {
	case <-exited:
		t.Logf("powered off %.1fs after system_powerdown", time.Since(pressed).Seconds())
	case <-time.After(90 * time.Second):
		t.Error("the appliance did not power off within 90 s of system_powerdown")
	}
	b, _ := os.ReadFile(serial)
	assert.Assert(t, strings.Contains(string(b), "vic-init") && strings.Contains(string(b), "bye"), "no clean shutdown on the console")
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
	host := "tcp://" + netip.MustParsePrefix(guestAddr).Addr().String() + ":2376"
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
