//go:build linux

package daemon

import (
	"context"
	"errors"
	"fmt"
	"net/netip"

	"github.com/vishvananda/netlink"

	"github.com/docker-vic/docker-vic/endpoint/link"
	"github.com/docker-vic/docker-vic/endpoint/nat"
	"github.com/docker-vic/docker-vic/endpoint/statedb"
)

// teardownModelAddr stands in for the public address: removing the chains renders no rule.
var teardownModelAddr = netip.AddrFrom4([4]byte{0, 0, 0, 1})

// Teardown removes every rule chain and link the daemon owns. It refuses while a daemon runs on
// stateDir (it would program them again at once). The state database is kept, unread (it may
// be damaged): a daemon started later programs everything again; delete the state directory
// to forget it.
func Teardown(ctx context.Context, stateDir string) error {
	unlock, err := statedb.Lock(stateDir)
	if err != nil {
		return err
	}
	defer unlock()

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
