package dhcp

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"slices"
	"sync"
	"time"
)

// Config says how a Client reaches the port groups.
type Config struct {
	// Uplink names the endpoint's interface on a port group. Required.
	Uplink func(portGroup string) (string, error)
	// Logger receives what happens to leases in the background: renewals, losses and
	// recoveries. Nil discards it.
	Logger *slog.Logger
}

// UplinkMap is a Config.Uplink for a fixed map from port group to interface name.
func UplinkMap(m map[string]string) func(string) (string, error) {
	return func(pg string) (string, error) {
		if name, ok := m[pg]; ok {
			return name, nil
		}
		return "", fmt.Errorf("the endpoint has no uplink to port group %q", pg)
	}
}

// Client leases addresses for containers' MAC addresses and keeps them renewed until they are
// released. It implements the vic IPAM driver's LeaseSource. Its methods are safe for
// concurrent use.
type Client struct {
	uplink func(string) (string, error)
	log    *slog.Logger
	// open and waits are replaced by tests: open enters the test's namespace.
	open  func(ifname string) (net.PacketConn, error)
	waits []time.Duration

	root   context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
	locks  keyLocks

	mu      sync.Mutex
	closed  bool
	entries map[key]*entry
}

// New makes a Client. It sends nothing until asked for a lease.
func New(cfg Config) (*Client, error) {
	if cfg.Uplink == nil {
		return nil, errors.New("a DHCP client needs Config.Uplink to find the port groups")
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	root, cancel := context.WithCancel(context.Background())
	return &Client{
		uplink:  cfg.Uplink,
		log:     log,
		open:    openPacket,
		waits:   []time.Duration{time.Second, 2 * time.Second, 4 * time.Second},
		root:    root,
		cancel:  cancel,
		entries: map[key]*entry{},
	}, nil
}

type key struct {
	pg  string
	mac string
}

func keyOf(pg string, mac net.HardwareAddr) key { return key{pg, mac.String()} }

// entry is a lease held for one MAC on one port group, and the goroutine that renews it.
type entry struct {
	mu        sync.Mutex
	lease     Lease
	serverMAC net.HardwareAddr

	stop context.CancelFunc
	done chan struct{}
}

// get returns a copy of the lease, which callers may keep and change.
func (e *entry) get() (Lease, net.HardwareAddr) {
	e.mu.Lock()
	defer e.mu.Unlock()
	l := e.lease
	l.MAC = slices.Clone(l.MAC)
	l.DNS = slices.Clone(l.DNS)
	return l, e.serverMAC
}

// checkMAC refuses what cannot go in chaddr as an Ethernet address.
func checkMAC(pg string, mac net.HardwareAddr) error {
	if len(mac) != 6 {
		return fmt.Errorf("a DHCP lease on port group %q needs a 6-byte Ethernet MAC address, not %q", pg, mac)
	}
	return nil
}

func (e *entry) set(l Lease, serverMAC net.HardwareAddr) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.lease, e.serverMAC = l, serverMAC
}

// Acquire leases an address for MAC mac from the DHCP server of port group pg and keeps it
// renewed until Release. A MAC that already holds a lease on pg gets that lease's address.
func (c *Client) Acquire(ctx context.Context, pg string, mac net.HardwareAddr) (netip.Prefix, error) {
	if err := checkMAC(pg, mac); err != nil {
		return netip.Prefix{}, err
	}
	k := keyOf(pg, mac)
	unlock, err := c.locks.lock(ctx, k)
	if err != nil {
		return netip.Prefix{}, err
	}
	defer unlock()
	if l, ok := c.Lease(pg, mac); ok {
		return l.Prefix, nil
	}
	if err := c.usable(); err != nil {
		return netip.Prefix{}, err
	}
	l, serverMAC, err := c.obtain(ctx, pg, mac, netip.Addr{})
	if err != nil {
		return netip.Prefix{}, err
	}
	if err := c.track(k, l, serverMAC); err != nil {
		return netip.Prefix{}, err
	}
	c.log.Info("leased an address", attrs(l)...)
	return l.Prefix, nil
}

// Adopt takes over, after an endpoint restart, the lease of prefix for MAC mac on port group
// pg and keeps it renewed until Release. It asks the server to confirm the address; when the
// server refuses it, Adopt leases an address from scratch, asking for the same one, and
// returns what it got, which may differ. When no server answers in time (the Client's tries,
// or ctx's deadline), the lease is kept and renewal goes on in the background, and the error
// matches ErrNoServer. Any other failure, such as an uplink that cannot send, keeps nothing.
func (c *Client) Adopt(ctx context.Context, pg string, mac net.HardwareAddr, prefix netip.Prefix) (Lease, error) {
	if err := checkMAC(pg, mac); err != nil {
		return Lease{}, err
	}
	k := keyOf(pg, mac)
	unlock, err := c.locks.lock(ctx, k)
	if err != nil {
		return Lease{}, err
	}
	defer unlock()
	if l, ok := c.Lease(pg, mac); ok {
		if l.Prefix.Addr() != prefix.Addr() {
			return Lease{}, fmt.Errorf("adopting %s for MAC %s on port group %q: the MAC already holds %s", prefix.Addr(), mac, pg, l.Prefix.Addr())
		}
		return l, nil
	}
	if err := c.usable(); err != nil {
		return Lease{}, err
	}
	held := Lease{PortGroup: pg, MAC: mac, Prefix: prefix, Obtained: time.Now()}
	l, serverMAC, err := c.extend(ctx, held, true)
	if errors.Is(err, ErrRefused) {
		l, serverMAC, err = c.obtain(ctx, pg, mac, prefix.Addr())
	}
	if errors.Is(err, ErrNoServer) {
		// Duration 0: the renewing goroutine starts by leasing it again.
		if terr := c.track(k, held, nil); terr != nil {
			return Lease{}, terr
		}
		return held, fmt.Errorf("adopting %s, kept for renewal in the background: %w", prefix.Addr(), err)
	}
	if err != nil {
		return Lease{}, fmt.Errorf("adopting %s for MAC %s on port group %q: %w", prefix.Addr(), mac, pg, err)
	}
	if err := c.track(k, l, serverMAC); err != nil {
		return Lease{}, err
	}
	c.log.Info("adopted a lease", append(attrs(l), "held", prefix.Addr())...)
	return l, nil
}

// Release stops renewing the lease of MAC mac on port group pg and gives it back to its
// server. Releasing a lease the Client does not hold sends a best-effort release for addr and
// succeeds. The lease the Client holds for the MAC is released even when addr differs.
func (c *Client) Release(ctx context.Context, pg string, mac net.HardwareAddr, addr netip.Addr) error {
	k := keyOf(pg, mac)
	unlock, err := c.locks.lock(ctx, k)
	if err != nil {
		return err
	}
	defer unlock()
	c.mu.Lock()
	e := c.entries[k]
	delete(c.entries, k)
	c.mu.Unlock()
	if e == nil {
		if addr.Is4() && !addr.IsUnspecified() {
			if err := c.release(Lease{PortGroup: pg, MAC: mac, Prefix: netip.PrefixFrom(addr, 32)}, nil); err != nil {
				c.log.Debug("releasing a lease the client does not hold", "port_group", pg, "mac", mac.String(), "address", addr, "error", err)
			}
		}
		return nil
	}
	e.stop()
	c.awaitStop(e, pg, mac)
	l, serverMAC := e.get()
	if err := c.release(l, serverMAC); err != nil {
		return err
	}
	c.log.Info("released a lease", attrs(l)...)
	return nil
}

// stopWait bounds how long Release waits for a lease's renewing goroutine to end.
const stopWait = 2 * time.Second

// awaitStop waits, up to stopWait, for the renewing goroutine of e, which was told to stop,
// to end: a DHCPRELEASE sent while its DHCPREQUEST is still in flight could be overtaken by the
// server's DHCPACK, leaving the lease bound on the server. The wait ignores the caller's
// context: the goroutine ends within moments of the stop, as its exchange sees the cancel.
func (c *Client) awaitStop(e *entry, pg string, mac net.HardwareAddr) {
	timer := time.NewTimer(stopWait)
	defer timer.Stop()
	select {
	case <-e.done:
	case <-timer.C:
		c.log.Warn("releasing a lease whose renewal did not stop in time", "port_group", pg, "mac", mac.String(), "waited", stopWait)
	}
}

// Lease returns the lease held for MAC mac on port group pg. A lease that could not be
// renewed stays until Release, with an Expires in the past, while the Client tries to lease
// an address again.
func (c *Client) Lease(pg string, mac net.HardwareAddr) (Lease, bool) {
	c.mu.Lock()
	e := c.entries[keyOf(pg, mac)]
	c.mu.Unlock()
	if e == nil {
		return Lease{}, false
	}
	l, _ := e.get()
	return l, true
}

// Leases returns every lease the Client holds.
func (c *Client) Leases() []Lease {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]Lease, 0, len(c.entries))
	for _, e := range c.entries {
		l, _ := e.get()
		out = append(out, l)
	}
	return out
}

// Close stops renewing every lease and waits for the renewing goroutines to end. It does not
// release the leases: a restarted endpoint adopts them again. Close can be called twice.
func (c *Client) Close() error {
	c.mu.Lock()
	c.closed = true
	c.entries = map[key]*entry{}
	c.mu.Unlock()
	c.cancel()
	c.wg.Wait()
	return nil
}

func (c *Client) usable() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return ErrClosed
	}
	return nil
}

// track records lease l and starts renewing it.
func (c *Client) track(k key, l Lease, serverMAC net.HardwareAddr) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return ErrClosed
	}
	ctx, stop := context.WithCancel(c.root)
	e := &entry{lease: l, serverMAC: serverMAC, stop: stop, done: make(chan struct{})}
	c.entries[k] = e
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		defer close(e.done)
		defer stop()
		c.maintain(ctx, e)
	}()
	return nil
}

func attrs(l Lease) []any {
	a := []any{"port_group", l.PortGroup, "mac", l.MAC.String(), "address", l.Prefix.String()}
	if l.Duration != Forever && l.Duration != 0 {
		a = append(a, "expires", l.Expires().Format(time.RFC3339))
	}
	return a
}
