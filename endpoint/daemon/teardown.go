//go:build linux

package daemon

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"time"

	"github.com/vishvananda/netlink"

	"github.com/docker-vic/docker-vic/endpoint/link"
	"github.com/docker-vic/docker-vic/endpoint/nat"
	"github.com/docker-vic/docker-vic/endpoint/span"
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
	// The span filter goes last: no span link is left open meanwhile.
	if err := span.New("").Teardown(); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// teardownTimeout bounds the teardown of a daemon stopping idle: its context has ended.
const teardownTimeout = 30 * time.Second

// teardownIdle tears down what a daemon that stopped idle owned (Options.TeardownWhenIdle).
func teardownIdle(ctx context.Context, stateDir string, log *slog.Logger) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), teardownTimeout)
	defer cancel()
	if err := Teardown(ctx, stateDir); err != nil {
		return fmt.Errorf("removing the rules and links of the idle daemon: %w", err)
	}
	log.Info("vic-endpoint stopped serving no network: removed its rules and links, nothing of it is left in the kernel")
	return nil
}

// idle reports whether the drivers hold no network, endpoint or address pool. A failed reading
// is not idle: the rules and links stay. Neither is a state still being rebuilt (the gate not
// open yet): its drivers hold nothing only because the rebuild has not filled them, while the
// kernel carries the running containers.
func (d *drivers) idle(ctx context.Context, g *gate) bool {
	select {
	case <-g.Opened():
	default:
		return false
	}
	ctx = context.WithoutCancel(ctx)
	nets, eps, err := d.nd.Snapshot(ctx)
	if err != nil || len(nets) > 0 || len(eps) > 0 {
		return false
	}
	pools, err := d.ipd.Pools(ctx)
	return err == nil && len(pools) == 0
}
