//go:build linux

package daemon

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"time"

	"github.com/docker-vic/docker-vic/endpoint/dhcp"
	"github.com/docker-vic/docker-vic/endpoint/liveconfig"
	"github.com/docker-vic/docker-vic/ipamdriver"
)

// newLeases is the DHCP client of the DHCP container networks: it leases addresses on the
// endpoint VM's NIC on each port group, for the containers' MACs.
func newLeases(live *liveconfig.Live, log *slog.Logger) (*dhcp.Client, error) {
	return dhcp.New(dhcp.Config{
		Uplink: func(pg string) (string, error) {
			_, up := live.Get()
			if u, ok := up.Containers[pg]; ok && u.Link.Name != "" {
				return u.Link.Name, nil
			}
			return "", fmt.Errorf("the endpoint has no interface on port group %q", pg)
		},
		Logger: log,
	})
}

// dhcpRouter answers the network driver with the router of a container's lease.
func dhcpRouter(leases *dhcp.Client) func(string, net.HardwareAddr) (netip.Addr, bool) {
	return func(pg string, mac net.HardwareAddr) (netip.Addr, bool) {
		l, ok := leases.Lease(pg, mac)
		return l.Router, ok
	}
}

// adoptTimeout bounds the adoption of one lease; one that takes longer is renewed in the
// background by the DHCP client.
const adoptTimeout = 30 * time.Second

// adoptLeases takes back, after a restart, the DHCP leases handed out before it, and renews
// them, all at once: the containers keep their addresses. A lease the server now refuses is
// reported; the container keeps its address until it restarts.
func adoptLeases(ctx context.Context, ipd *ipamdriver.Driver, leases *dhcp.Client, log *slog.Logger) {
	pools, err := ipd.Pools(ctx)
	if err != nil {
		log.Warn("cannot read the DHCP leases to renew", "error", err)
		return
	}
	var wg sync.WaitGroup
	defer wg.Wait()
	for _, p := range pools {
		if p.PortGroup == "" || p.Subnet.Bits() != 0 {
			continue // not a DHCP container network
		}
		held, err := ipd.Leases(ctx, p.ID)
		if err != nil {
			log.Warn("cannot read the DHCP leases to renew", "portgroup", p.PortGroup, "error", err)
			continue
		}
		for _, l := range held {
			mac, err := net.ParseMAC(l.MAC)
			if l.Gateway || err != nil {
				continue
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				adoptLease(ctx, leases, p.PortGroup, mac, netip.PrefixFrom(l.Address, l.Bits), log)
			}()
		}
	}
}

func adoptLease(ctx context.Context, leases *dhcp.Client, pg string, mac net.HardwareAddr, want netip.Prefix, log *slog.Logger) {
	ctx, cancel := context.WithTimeout(ctx, adoptTimeout)
	defer cancel()
	got, err := leases.Adopt(ctx, pg, mac, want)
	switch {
	case err != nil:
		log.Warn("cannot renew a DHCP lease yet: it is retried", "portgroup", pg, "mac", mac, "address", want, "error", err)
	case got.Prefix != want:
		log.Warn("the DHCP server gave a container another address: it keeps the old one until it restarts",
			"portgroup", pg, "mac", mac, "had", want, "got", got.Prefix)
	default:
		log.Info("renewing a DHCP lease held before the restart", "portgroup", pg, "mac", mac, "address", want)
	}
}
