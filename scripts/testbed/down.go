//go:build linux

package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/docker-vic/docker-vic/endpoint/link"
	"github.com/docker-vic/docker-vic/endpoint/testns"
)

// downCommand is `down [--force]`: it refuses to take a testbed away from a live owner
// unless forced.
func (tb *testbed) downCommand(ctx context.Context, force bool) error {
	if err := needRoot(); err != nil {
		return err
	}
	if err := tb.lock(ctx); err != nil {
		return err
	}
	defer tb.unlock()
	if pid, live := tb.liveOwner(); live && !force {
		return fmt.Errorf("the testbed belongs to pid %d (%s): 'scripts/testbed.sh down --force' takes it anyway", pid, commandLine(pid))
	}
	return tb.down(ctx)
}

// down removes everything the testbed made, of this run or an earlier one: the endpoint and
// what it left, the harness and its VMs, the DHCP servers, every vtb- namespace and link, vcsim and the directory.
// Missing pieces are fine, so it can run twice.
func (tb *testbed) down(ctx context.Context) error {
	tb.stopEndpoint(ctx)
	tb.stopHarness()
	tb.stopDHCPServers()
	var errs []error
	namespaces, err := testns.Names(prefix)
	errs = append(errs, err)
	for _, name := range namespaces {
		errs = append(errs, testns.Delete(name))
	}
	links, err := removeLinks(prefix)
	errs = append(errs, err)
	if pid := tb.pidOf("vcsim", "vcsim"); pid != 0 {
		stopPID(pid, unix.SIGTERM)
	}
	if err := os.RemoveAll(tb.dir); err != nil {
		errs = append(errs, fmt.Errorf("removing the testbed's directory: %w", err))
	}
	if removed := append(namespaces, links...); len(removed) > 0 {
		tb.logf("removed namespaces and links: %s", strings.Join(removed, " "))
	}
	if err := errors.Join(errs...); err != nil {
		return err
	}
	tb.logf("down")
	return nil
}

// removeLinks deletes the host's links named with p and returns their names.
func removeLinks(p string) ([]string, error) {
	h, err := netlink.NewHandle()
	if err != nil {
		return nil, fmt.Errorf("opening a netlink handle: %w", err)
	}
	defer h.Close()
	all, err := h.LinkList()
	if err != nil {
		return nil, fmt.Errorf("listing the host's links: %w", err)
	}
	var names []string
	var errs []error
	links := link.New(h)
	for _, l := range all {
		if name := l.Attrs().Name; strings.HasPrefix(name, p) {
			names = append(names, name)
			// A veth goes by itself when its peer's namespace goes; that race is no error.
			if err := links.Delete(name); err != nil {
				if _, gone := h.LinkByName(name); gone == nil {
					errs = append(errs, err)
				}
			}
		}
	}
	return names, errors.Join(errs...)
}
