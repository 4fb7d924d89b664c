package vicinit

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"time"

	"github.com/insomniacslk/dhcp/dhcpv4"
	"github.com/insomniacslk/dhcp/dhcpv4/nclient4"
	"github.com/vishvananda/netlink"
)

// Applied is what the network step leaves: each role's address and the DNS servers found.
type Applied struct {
	// Addrs are the first address of each link, by link name (its first role).
	Addrs map[string]netip.Prefix
	// DNS are the servers DHCP offered, for a configuration that names none.
	DNS []netip.Addr
}

// cardTypes are the netlink types of the links that may be the VM's cards: a NIC's driver
// gives its link no kind of its own. The tests add veth.
var cardTypes = map[string]bool{"device": true}

// waitLinks waits until a link carries each plan's MAC, saying every 10 s which it waits for.
// It returns the links by plan index.
func waitLinks(ctx context.Context, nl *netlink.Handle, plans []LinkPlan, log *Log) ([]netlink.Link, error) {
	said := time.Now()
	for {
		all, err := nl.LinkList()
		if err != nil {
			return nil, fmt.Errorf("listing the links: %w", err)
		}
		found := make([]netlink.Link, len(plans))
		var missing []string
		for i, p := range plans {
			for _, l := range all {
				if l.Attrs().HardwareAddr.String() == p.MAC.String() && cardTypes[l.Type()] {
					found[i] = l
				}
			}
			if found[i] == nil {
				missing = append(missing, fmt.Sprintf("%s (%s)", p.MAC, p.PortGroup))
			}
		}
		if len(missing) == 0 {
			return found, nil
		}
		if time.Since(said) >= 10*time.Second {
			log.Printf("waiting for the cards %s", strings.Join(missing, ", "))
			said = time.Now()
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("no card carries MAC %s: %w", strings.Join(missing, ", "), ctx.Err())
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// applyNetwork names the links by role, brings them up with their addresses (static, or a DHCP
// lease kept renewed until ctx ends), and adds the routes.
func applyNetwork(ctx context.Context, plans []LinkPlan, log *Log) (Applied, error) {
	nl, err := netlink.NewHandle()
	if err != nil {
		return Applied{}, err
	}
	defer nl.Close()
	if lo, err := nl.LinkByName("lo"); err == nil {
		nl.LinkSetUp(lo)
	}
	wctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	links, err := waitLinks(wctx, nl, plans, log)
	cancel()
	if err != nil {
		return Applied{}, err
	}
	out := Applied{Addrs: map[string]netip.Prefix{}}
	for i, p := range plans {
		l := links[i]
		if l.Attrs().Name != p.Name {
			nl.LinkSetDown(l)
			if err := nl.LinkSetName(l, p.Name); err != nil {
				return out, fmt.Errorf("naming the card %s %q: %w", p.MAC, p.Name, err)
			}
		}
		if err := nl.LinkSetUp(l); err != nil {
			return out, fmt.Errorf("bringing %s up: %w", p.Name, err)
		}
		for _, a := range p.Addrs {
			if err := nl.AddrReplace(l, &netlink.Addr{IPNet: ipNet(a)}); err != nil {
				return out, fmt.Errorf("adding %s to %s: %w", a, p.Name, err)
			}
			if _, ok := out.Addrs[p.Name]; !ok {
				out.Addrs[p.Name] = a
			}
		}
		if p.DHCP {
			lease, err := dhcpLease(ctx, nl, l, p, log)
			if err != nil {
				return out, err
			}
			if _, ok := out.Addrs[p.Name]; !ok {
				out.Addrs[p.Name] = lease.addr
			}
			out.DNS = append(out.DNS, lease.dns...)
		}
		if p.DefaultRoute.IsValid() {
			if err := addRoute(nl, l, netip.MustParsePrefix("0.0.0.0/0"), p.DefaultRoute); err != nil {
				return out, err
			}
		}
		for _, r := range p.Routes {
			if err := addRoute(nl, l, r.Dst, r.Via); err != nil {
				return out, err
			}
		}
	}
	return out, nil
}

func addRoute(nl *netlink.Handle, l netlink.Link, dst netip.Prefix, via netip.Addr) error {
	r := &netlink.Route{LinkIndex: l.Attrs().Index, Dst: ipNet(dst), Gw: net.IP(via.AsSlice())}
	if err := nl.RouteReplace(r); err != nil {
		return fmt.Errorf("adding the route to %s via %s on %s: %w", dst, via, l.Attrs().Name, err)
	}
	return nil
}

func ipNet(p netip.Prefix) *net.IPNet {
	return &net.IPNet{IP: net.IP(p.Addr().AsSlice()), Mask: net.CIDRMask(p.Bits(), p.Addr().BitLen())}
}

// lease is what vic-init takes from a DHCP lease.
type lease struct {
	addr netip.Prefix
	dns  []netip.Addr
}

// dhcpLease asks the port group's DHCP server for an address, applies it (with the router as
// the default route when the card is public) and renews it in the background until ctx ends.
func dhcpLease(ctx context.Context, nl *netlink.Handle, l netlink.Link, p LinkPlan, log *Log) (lease, error) {
	c, err := nclient4.New(p.Name, nclient4.WithTimeout(5*time.Second), nclient4.WithRetry(3))
	if err != nil {
		return lease{}, fmt.Errorf("DHCP on %s: %w", p.Name, err)
	}
	var got *nclient4.Lease
	for attempt := 1; ; attempt++ {
		rctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		got, err = c.Request(rctx)
		cancel()
		if err == nil {
			break
		}
		if ctx.Err() != nil {
			c.Close()
			return lease{}, ctx.Err()
		}
		log.Printf("DHCP on %s (port group %q), attempt %d: %v", p.Name, p.PortGroup, attempt, err)
	}
	out, err := applyLease(nl, l, p, got.ACK)
	if err != nil {
		c.Close()
		return lease{}, err
	}
	log.Printf("DHCP on %s: %s for %s", p.Name, out.addr, got.ACK.IPAddressLeaseTime(time.Hour))
	go renew(ctx, c, l, p, got, log)
	return out, nil
}

func applyLease(nl *netlink.Handle, l netlink.Link, p LinkPlan, ack *dhcpv4.DHCPv4) (lease, error) {
	ip, ok := netip.AddrFromSlice(ack.YourIPAddr.To4())
	if !ok {
		return lease{}, errors.New("the DHCP server offered no IPv4 address")
	}
	bits := 24
	if m := ack.SubnetMask(); m != nil {
		bits, _ = m.Size()
	}
	out := lease{addr: netip.PrefixFrom(ip, bits)}
	addr := &netlink.Addr{IPNet: ipNet(out.addr), ValidLft: int(ack.IPAddressLeaseTime(time.Hour).Seconds()), PreferedLft: int(ack.IPAddressLeaseTime(time.Hour).Seconds())}
	if err := nl.AddrReplace(l, addr); err != nil {
		return out, fmt.Errorf("adding the leased %s to %s: %w", out.addr, p.Name, err)
	}
	for _, d := range ack.DNS() {
		if a, ok := netip.AddrFromSlice(d.To4()); ok {
			out.dns = append(out.dns, a)
		}
	}
	if routers := ack.Router(); len(routers) > 0 && !p.DefaultRoute.IsValid() && p.Roles[0] == "public" {
		gw, _ := netip.AddrFromSlice(routers[0].To4())
		if err := addRoute(nl, l, netip.MustParsePrefix("0.0.0.0/0"), gw); err != nil {
			return out, err
		}
	}
	return out, nil
}

// renewRetry is the wait before asking again after a renewal and a new request both failed.
const renewRetry = time.Minute

// renew renews the lease at half its time until ctx ends; a failed renewal asks again, and
// when that fails too, again after renewRetry.
func renew(ctx context.Context, c *nclient4.Client, l netlink.Link, p LinkPlan, cur *nclient4.Lease, log *Log) {
	defer c.Close()
	nl, err := netlink.NewHandle()
	if err != nil {
		log.Printf("renewing the DHCP lease on %s: %v", p.Name, err)
		return
	}
	defer nl.Close()
	wait := cur.ACK.IPAddressLeaseTime(time.Hour) / 2
	for {
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
		next, err := c.Renew(ctx, cur)
		if err != nil {
			log.Printf("renewing the DHCP lease on %s: %v", p.Name, err)
			if next, err = c.Request(ctx); err != nil {
				// Ask again soon: the address must not outlive its lease unrenewed.
				log.Printf("asking for a new DHCP lease on %s: %v", p.Name, err)
				wait = min(renewRetry, wait)
				continue
			}
		}
		wait = next.ACK.IPAddressLeaseTime(time.Hour) / 2
		if _, err := applyLease(nl, l, p, next.ACK); err != nil {
			log.Printf("%v", err)
		}
		cur = next
	}
}
