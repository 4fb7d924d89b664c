//go:build linux

package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"strings"
	"time"

	"github.com/vishvananda/netlink"

	"github.com/docker-vic/docker-vic/api/vchdoc"
)

// prepare readies an `up` of either mode, with the lock held: it waits for an earlier owner,
// clears what an earlier run left, checks that the host's ranges and package sources leave
// room for the testbed's subnets, builds the binaries and makes the testbed's directory. It
// returns a netlink handle of the host's namespace.
func (tb *testbed) prepare(ctx context.Context, subnets []netip.Prefix) (*netlink.Handle, error) {
	if err := tb.waitForOwner(ctx); err != nil {
		return nil, err
	}
	tb.logf("clearing what an earlier run left")
	if err := tb.down(ctx); err != nil {
		return nil, err
	}
	host, err := netlink.NewHandle()
	if err != nil {
		return nil, fmt.Errorf("opening a netlink handle: %w", err)
	}
	err = checkHostRanges(host)
	if err == nil {
		err = checkPackageSources(ctx, subnets)
	}
	if err == nil {
		err = tb.build(ctx)
	}
	if err == nil {
		err = tb.makeDir()
	}
	if err != nil {
		host.Close()
		return nil, err
	}
	return host, nil
}

// up brings the testbed up step by step and prints the export lines. A failed `up` leaves
// nothing behind (unless VIC_TESTBED_KEEP is set) but says what happened.
func (tb *testbed) up(ctx context.Context) (err error) {
	if err := needRoot(); err != nil {
		return err
	}
	if err := tb.lock(ctx); err != nil {
		return err
	}
	defer tb.unlock()
	if err := checkDocker(ctx); err != nil {
		return err
	}
	host, err := tb.prepare(ctx, hostSubnets())
	if err != nil {
		return err
	}
	defer host.Close()
	defer func() {
		if err != nil {
			tb.upFailed()
		}
	}()

	vs, err := tb.startVcsim(netip.MustParseAddr("127.0.0.1"), "", 2)
	if err != nil {
		return err
	}
	tb.logf("vcsim serves %s", vs.bare())
	if err := tb.installPlugin(); err != nil {
		return err
	}
	tb.logf("creating VCH %s", vchName)
	if err := tb.createVCH(ctx, vs); err != nil {
		return err
	}
	nics, err := tb.inspectNICs(ctx, vs)
	if err != nil {
		return err
	}
	w := newWires(host, prefix)
	defer w.close()
	if err := tb.wireNICs(w, nics); err != nil {
		return err
	}
	if err := tb.wireMachines(ctx, w); err != nil {
		return err
	}
	if err := writePrivate(tb.path(credentialsFile), credentials(vs)); err != nil {
		return err
	}
	if err := tb.startEndpoint(ctx, vs); err != nil {
		return err
	}
	if err := tb.writeEnv(vs); err != nil {
		return err
	}
	return tb.printEnv()
}

// checkDocker makes sure a Docker engine answers: the testbed serves its plugin socket.
func checkDocker(ctx context.Context) error {
	if _, err := exec.LookPath("docker"); err != nil {
		return errors.New("docker is not installed: run scripts/setup.sh")
	}
	ctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	if err := exec.CommandContext(ctx, "docker", "version", "--format", "{{.Server.Version}}").Run(); err != nil {
		return errors.New("no Docker engine answers: run scripts/setup.sh")
	}
	return nil
}

// build runs `make build` in the repository, after the lock: a waiting `up` must not replace
// the binaries another testbed runs.
func (tb *testbed) build(ctx context.Context) error {
	if _, err := os.Stat(tb.root + "/Makefile"); err != nil {
		return nil
	}
	tb.logf("building")
	cmd := exec.CommandContext(ctx, "make", "-s", "--no-print-directory", "-C", tb.root, "build")
	cmd.Stdout, cmd.Stderr = tb.stderr, tb.stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("make build: %w", err)
	}
	if _, err := os.Stat(tb.bin + "/vic-endpoint"); err != nil {
		return errors.New("bin/vic-endpoint was not built (endpoint/cmd/vic-endpoint is missing)")
	}
	return nil
}

// wireNICs gives each endpoint VM NIC a host link with the NIC's MAC on its port group's wire.
func (tb *testbed) wireNICs(w *wires, nics []vchdoc.NIC) error {
	public := false
	for _, n := range nics {
		mac, err := net.ParseMAC(n.MAC)
		if err != nil {
			return fmt.Errorf("NIC on port group %q has MAC %q: %w", n.PortGroup, n.MAC, err)
		}
		name, addr := hostLink(n.Roles, n.Aliases), nicAddr(n.Roles)
		if err := w.plugHost(name, mac, n.PortGroup, addr); err != nil {
			return err
		}
		what := fmt.Sprint(n.Roles)
		if len(n.Aliases) > 0 {
			what += " " + strings.Join(n.Aliases, ",")
		}
		line := fmt.Sprintf("NIC %s on %s (%s) is host link %s", n.MAC, n.PortGroup, what, name)
		if addr.IsValid() {
			line += " " + addr.String()
		}
		tb.logf("%s", line)
		public = public || n.PortGroup == publicPG
	}
	if !public {
		return fmt.Errorf("the endpoint VM of %q has no NIC on %q", vchName, publicPG)
	}
	return nil
}

// wireMachines puts the machines on their wires and starts the DHCP servers of DHCP networks.
func (tb *testbed) wireMachines(ctx context.Context, w *wires) error {
	for _, m := range machines() {
		for _, l := range m.Legs {
			if err := w.plugMachine(m.NS, l.Iface, l.PortGroup, l.Addr); err != nil {
				return err
			}
		}
	}
	for _, c := range containerNets {
		if c.dhcp() {
			if err := tb.startDHCPServer(ctx, c); err != nil {
				return err
			}
		}
	}
	return nil
}

// upFailed shows the endpoint's last words and removes what `up` made, unless told to keep it.
func (tb *testbed) upFailed() {
	if log := tb.path("endpoint.log"); readString(log) != "" {
		tb.logf("endpoint log (last lines):")
		fmt.Fprintln(tb.stderr, tail(log, 20))
	}
	if tb.keep {
		tb.logf("up failed; VIC_TESTBED_KEEP is set, so everything stays for a look (scripts/testbed.sh down removes it)")
		return
	}
	tb.logf("up failed; removing what it made")
	// Even after an interrupt: the cleanup must still run its commands.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	if err := tb.down(ctx); err != nil {
		tb.logf("removing what up made: %v", err)
	}
}
