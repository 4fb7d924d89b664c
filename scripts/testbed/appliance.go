//go:build linux

package main

import (
	"context"
	"crypto/rand"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/docker-vic/docker-vic/appliance/harness"
	"github.com/docker-vic/docker-vic/appliance/qemu"
	"github.com/docker-vic/docker-vic/endpoint/testns"
	vs "github.com/docker-vic/docker-vic/vsphere"
)

// The appliance mode, `up --appliance`: vSphere VMs that boot. vcsim serves on the management
// wire as a vCenter would, every port group has its wire, the machines sit on them as in the
// host mode, and the harness (`vic-testbed harness`, in the background) boots under qemu every
// vcsim VM that powers on with an ISO on its CD-ROM. No VCH is made: `docker vic create` with
// the appliance makes one whose endpoint VM boots and wires itself.
const (
	harnessCommand = "harness"
	vcenterLink    = prefix + "vcenter"
	// harnessStop bounds a guest's clean power-off before the harness kills its qemu.
	harnessStop = 10 * time.Second
)

// applianceHosts are the hosts of vcsim's cluster in the appliance mode: a VCH of two
// endpoints that configure scales to three has them on hosts of their own.
const applianceHosts = 3

// vcenterAddr is where vcsim serves: the host's address on the management wire, beside the
// endpoint's (mgmtAddr) and the client side's.
var vcenterAddr = netip.MustParsePrefix("203.0.113.97/27")

// upAppliance brings the appliance mode up and prints its export lines.
func (tb *testbed) upAppliance(ctx context.Context) (err error) {
	if err := needRoot(); err != nil {
		return err
	}
	if _, err := exec.LookPath(qemu.Binary); err != nil {
		return fmt.Errorf("%s is not installed: run scripts/setup.sh", qemu.Binary)
	}
	if err := tb.lock(ctx); err != nil {
		return err
	}
	defer tb.unlock()
	host, err := tb.prepare(ctx, []netip.Prefix{vcenterAddr.Masked()})
	if err != nil {
		return err
	}
	defer host.Close()
	defer func() {
		if err != nil {
			tb.upFailed()
		}
	}()
	w := newWires(host, prefix)
	defer w.close()
	if err := w.plugHost(vcenterLink, nil, mgmtPG, vcenterAddr); err != nil {
		return err
	}
	// A password of its own, that the end-to-end run can look for where it must not be.
	vsph, err := tb.startVcsim(vcenterAddr.Addr(), "vic-"+rand.Text(), applianceHosts)
	if err != nil {
		return err
	}
	tb.logf("vcsim serves %s on the wire of %s", vsph.bare(), mgmtPG)
	if err := tb.installPlugin(); err != nil {
		return err
	}
	if err := tb.wireMachines(ctx, w); err != nil {
		return err
	}
	for _, pg := range portGroups {
		if _, err := w.wire(pg); err != nil {
			return err
		}
	}
	if err := tb.startHarness(); err != nil {
		return err
	}
	tb.logf("the harness boots VMs that power on with an ISO (log: %s)", tb.path("harness.log"))
	if err := writePrivate(tb.path(envFile), []byte(renderExports(tb.applianceExports(vsph)))); err != nil {
		return err
	}
	return tb.printEnv()
}

// applianceExports are the export lines of the appliance mode: the host mode's, without the
// host's endpoint and its container-network links (the endpoint VM has those NICs), with the
// addresses `docker vic create` gives the endpoint VM.
func (tb *testbed) applianceExports(vsph vsphere) []export {
	var ex []export
	for _, e := range tb.exports(vsph) {
		if e.Name != "VIC_ENDPOINT_LOG" && !strings.HasSuffix(e.Name, "_LINK") {
			ex = append(ex, e)
		}
	}
	return append(ex,
		export{"VIC_TESTBED_MODE", "appliance"},
		export{"VIC_VCENTER_IP", vcenterAddr.Addr().String()},
		export{"VIC_PUBLIC_CIDR", publicAddr.String()},
		export{"VIC_PUBLIC_GATEWAY", publicGW.String()},
		export{"VIC_CLIENT_CIDR", clientAddr.String()},
		export{"VIC_MANAGEMENT_CIDR", mgmtAddr.String()},
		export{"VIC_HARNESS_LOG", tb.path("harness.log")},
	)
}

// startHarness starts `vic-testbed harness` in the background and waits until it follows the
// VMs.
func (tb *testbed) startHarness() error {
	exe, err := os.Executable()
	if err != nil {
		return err
	}
	logPath := tb.path("harness.log")
	logFile, err := createPrivate(logPath, true)
	if err != nil {
		return err
	}
	defer logFile.Close()
	cmd := exec.Command(exe, harnessCommand)
	cmd.Env = append(os.Environ(), "VIC_TESTBED_DIR="+tb.dir)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	exited, err := startDetached(cmd)
	if err != nil {
		return err
	}
	if err := os.WriteFile(tb.path("harness.pid"), []byte(strconv.Itoa(cmd.Process.Pid)+"\n"), 0o644); err != nil {
		_ = cmd.Process.Kill()
		return fmt.Errorf("writing the harness's pid file: %w", err)
	}
	for range 200 {
		if strings.Contains(readString(logPath), harnessReady) {
			return nil
		}
		select {
		case <-exited:
			return fmt.Errorf("the harness stopped:\n%s", tail(logPath, 10))
		case <-time.After(100 * time.Millisecond):
		}
	}
	return fmt.Errorf("the harness did not follow the VMs within 20 s:\n%s", tail(logPath, 10))
}

// harnessReady is the harness's log line once it follows the VMs.
const harnessReady = "following the VMs"

// runHarness is `vic-testbed harness`: it logs in to the testbed's vcsim and boots its VMs
// until SIGTERM, logging to stderr.
func (tb *testbed) runHarness(ctx context.Context) error {
	line, _, _ := strings.Cut(readString(tb.path("vcsim.out")), "\n")
	vsph, err := parseVcsimLine(line)
	if err != nil {
		return err
	}
	pass, _ := vsph.target.User.Password()
	target, err := vs.Options{Target: vsph.bare(), User: vsph.target.User.Username(), Password: pass,
		Thumbprint: vsph.thumbprint}.Resolve(func(string) string { return "" })
	if err != nil {
		return err
	}
	session, err := vs.Connect(ctx, target)
	if err != nil {
		return err
	}
	defer session.Logout(context.WithoutCancel(ctx)) //nolint:errcheck // vcsim goes with the testbed
	host, err := netlink.NewHandle()
	if err != nil {
		return fmt.Errorf("opening a netlink handle: %w", err)
	}
	defer host.Close()
	w := newWires(host, prefix)
	defer w.close()
	var mu sync.Mutex
	h := harness.New(harness.Options{
		Client: session.Client, Dir: tb.path("vms"), StopTimeout: harnessStop,
		Wire: func(pg string) (string, string, error) {
			mu.Lock()
			defer mu.Unlock()
			ns, err := w.wire(pg)
			if err != nil {
				return "", "", err
			}
			return testns.Path(ns.Name), wireBridge, nil
		},
		Log: slog.New(slog.NewTextHandler(tb.stderr, nil)),
	})
	return h.Run(ctx)
}

// stopHarness stops the harness, then any qemu it left (a harness killed before it could).
func (tb *testbed) stopHarness() {
	if pid := tb.pidOf("harness", "vic-testbed"); pid != 0 {
		stopPID(pid, unix.SIGTERM)
	}
	pidFiles, _ := filepath.Glob(tb.path("vms/*/qemu.pid"))
	for _, f := range pidFiles {
		name := strings.TrimSuffix(strings.TrimPrefix(f, tb.dir+"/"), ".pid")
		if pid := tb.pidOf(name, "qemu-system-x86"); pid != 0 {
			stopPID(pid, unix.SIGKILL)
		}
	}
}

// makeDir makes the testbed's root-only directory and records its owner.
func (tb *testbed) makeDir() error {
	if err := os.MkdirAll(tb.dir, 0o700); err != nil {
		return fmt.Errorf("making the testbed's directory %q: %w", tb.dir, err)
	}
	if err := os.Chmod(tb.dir, 0o700); err != nil {
		return fmt.Errorf("making the testbed's directory %q root-only: %w", tb.dir, err)
	}
	if err := os.WriteFile(tb.path("owner"), []byte(strconv.Itoa(tb.owner)+"\n"), 0o644); err != nil {
		return fmt.Errorf("recording the testbed's owner: %w", err)
	}
	return nil
}
