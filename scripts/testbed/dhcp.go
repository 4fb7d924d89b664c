//go:build linux

package main

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// udhcpdConf is busybox udhcpd's configuration for the DHCP server of container network c:
// it hands out dhcpPool on the machine's eth0, with the machine itself as router and DNS
// server, and keeps its leases and pid in the testbed's directory.
func (tb *testbed) udhcpdConf(c containerNet) string {
	s := slug(c.Alias)
	ip := c.Machine.Addr().String()
	mask := net.IP(net.CIDRMask(c.Machine.Bits(), 32)).String()
	return fmt.Sprintf(`start %s
end %s
interface eth0
lease_file %s
pidfile %s
opt subnet %s
opt router %s
opt dns %s
opt lease 600
`, dhcpPool[0], dhcpPool[1], tb.path("udhcpd-"+s+".leases"), tb.path("udhcpd-"+s+".pid"), mask, ip, ip)
}

// startDHCPServer starts busybox udhcpd in the machine namespace of container network c; it
// daemonizes itself.
func (tb *testbed) startDHCPServer(ctx context.Context, c containerNet) error {
	s := slug(c.Alias)
	conf := tb.path("udhcpd-" + s + ".conf")
	if err := writePrivate(conf, []byte(tb.udhcpdConf(c))); err != nil {
		return err
	}
	if err := writePrivate(tb.path("udhcpd-"+s+".leases"), nil); err != nil {
		return err
	}
	logFile, err := createPrivate(tb.path("udhcpd-"+s+".log"), false)
	if err != nil {
		return err
	}
	defer logFile.Close()
	ns := netNS(c.Alias)
	cmd := exec.CommandContext(ctx, "ip", "netns", "exec", ns, "busybox", "udhcpd", conf)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("busybox udhcpd did not start in namespace %q: %w: %s", ns, err, firstLine(readString(logFile.Name())))
	}
	tb.logf("DHCP server on %s (%s) hands out %s-%s", ns, c.Machine.Addr(), dhcpPool[0], dhcpPool[1])
	return nil
}

// stopDHCPServers stops the testbed's udhcpd processes, also those of an earlier run whose
// directory is gone: every `busybox udhcpd DIR/udhcpd-*`.
func (tb *testbed) stopDHCPServers() {
	for _, pid := range udhcpdPIDs(tb.dir) {
		stopPID(pid, unix.SIGTERM)
	}
}

// udhcpdPIDs finds the processes whose command line is `busybox udhcpd DIR/udhcpd-...`.
func udhcpdPIDs(dir string) []int {
	entries, _ := os.ReadDir("/proc")
	var pids []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil {
			continue
		}
		if isUdhcpdOf(dir, strings.Split(string(bytes.TrimRight(b, "\x00")), "\x00")) {
			pids = append(pids, pid)
		}
	}
	return pids
}

func isUdhcpdOf(dir string, argv []string) bool {
	return len(argv) >= 3 && filepath.Base(argv[0]) == "busybox" && argv[1] == "udhcpd" &&
		strings.HasPrefix(argv[2], filepath.Join(dir, "udhcpd-"))
}
