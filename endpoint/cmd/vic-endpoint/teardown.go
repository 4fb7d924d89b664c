//go:build linux

package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/netip"

	"github.com/spf13/pflag"
	"github.com/vishvananda/netlink"

	"github.com/docker-vic/docker-vic/endpoint/link"
	"github.com/docker-vic/docker-vic/endpoint/nat"
)

// teardownModelAddr stands in for the public address: removing the chains renders no rule.
var teardownModelAddr = netip.AddrFrom4([4]byte{0, 0, 0, 1})

// runTeardownCommand removes every rule chain and link the endpoint owns. It refuses while an
// endpoint runs on the same state directory (it would program them again at once). The
// state database is kept: an endpoint started later programs everything again; delete the
// state directory to forget it.
func runTeardownCommand(ctx context.Context, args []string, stderr io.Writer) error {
	fs := pflag.NewFlagSet("vic-endpoint teardown", pflag.ContinueOnError)
	fs.SetOutput(stderr)
	stateDir := fs.String("state-dir", defaultStateDir, "state directory of the endpoint to tear down")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q: teardown takes --state-dir only", fs.Arg(0))
	}
	db, err := openState(*stateDir)
	if err != nil {
		return err
	}
	defer db.Close()

	var errs []error
	firewall, err := nat.NewApplier(teardownModelAddr, nil, nil)
	if err != nil {
		return err
	}
	if err := firewall.Teardown(ctx); err != nil {
		errs = append(errs, err)
	}
	nl, err := netlink.NewHandle()
	if err != nil {
		return errors.Join(append(errs, fmt.Errorf("opening a netlink handle: %w", err))...)
	}
	defer nl.Close()
	links := link.New(nl)
	owned, err := links.Owned()
	if err != nil {
		errs = append(errs, err)
	}
	for _, name := range owned {
		if err := links.Delete(name); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}
