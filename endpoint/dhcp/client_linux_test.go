package dhcp

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"gotest.tools/v3/assert"
	is "gotest.tools/v3/assert/cmp"
)

var (
	macB = net.HardwareAddr{0x02, 0x42, 0xcb, 0x00, 0x71, 0x0b}
	macC = net.HardwareAddr{0x02, 0x42, 0xcb, 0x00, 0x71, 0x0c}
	macD = net.HardwareAddr{0x02, 0x42, 0xcb, 0x00, 0x71, 0x0d}
)

var (
	poolFirst = netip.MustParseAddr("203.0.113.150")
	poolLast  = netip.MustParseAddr("203.0.113.160")
)

func inPool(p netip.Prefix) bool {
	return p.Bits() == 26 && p.Addr().Compare(poolFirst) >= 0 && p.Addr().Compare(poolLast) <= 0
}

// TestClientLeaseLifecycle follows leases through a real DHCP server: leased, renewed past
// their lifetime, adopted by a restarted client, released.
func TestClientLeaseLifecycle(t *testing.T) {
	t.Parallel()
	top := t
	tb := newTestbed(t)
	tb.startServer(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c := tb.client(t)

	a, err := c.Acquire(ctx, testPortGroup, macA)
	assert.NilError(t, err)
	assert.Check(t, inPool(a), "leased %s", a)
	la, ok := c.Lease(testPortGroup, macA)
	assert.Assert(t, ok)
	assert.Check(t, is.Equal(la.Prefix, a))
	assert.Check(t, is.Equal(la.Router, netip.MustParseAddr("203.0.113.129")))
	assert.Check(t, is.Equal(fmtAddrs(la.DNS), "[203.0.113.2]"))
	assert.Check(t, is.Equal(la.Server, netip.MustParseAddr("203.0.113.130")))
	assert.Check(t, is.Equal(la.Duration, 10*time.Second))

	b, err := c.Acquire(ctx, testPortGroup, macB)
	assert.NilError(t, err)
	assert.Check(t, inPool(b), "leased %s", b)
	assert.Check(t, a.Addr() != b.Addr(), "two MACs got the same address %s", a)

	t.Run("SameMACSameAddress", func(t *testing.T) {
		again, err := c.Acquire(ctx, testPortGroup, macA)
		assert.NilError(t, err)
		assert.Check(t, is.Equal(again, a))

		// A client that does not hold the lease asks the server from scratch.
		other := tb.client(t)
		fresh, err := other.Acquire(ctx, testPortGroup, macA)
		assert.NilError(t, err)
		assert.Check(t, is.Equal(fresh, a))
		assert.NilError(t, other.Close())
	})

	t.Run("RenewedPastLifetime", func(t *testing.T) {
		first, _ := c.Lease(testPortGroup, macA)
		time.Sleep(time.Until(la.Obtained.Add(13 * time.Second)))
		now, ok := c.Lease(testPortGroup, macA)
		assert.Assert(t, ok)
		assert.Check(t, now.Obtained.After(first.Obtained.Add(5*time.Second)), "lease obtained %s, last renewed %s", first.Obtained, now.Obtained)
		assert.Check(t, now.Expires().After(time.Now()), "lease expired at %s", now.Expires())
		assert.Check(t, is.Equal(now.Prefix, a))
		for _, mac := range []net.HardwareAddr{macA, macB} {
			l := tb.waitServerLease(t, mac, func(l serverLease, found bool) bool { return found })
			assert.Check(t, l.remaining > 0, "the server let the lease of %s expire", mac)
		}
	})

	t.Run("AdoptedAfterRestart", func(t *testing.T) {
		assert.NilError(t, c.Close())
		c = tb.client(top)
		l, err := c.Adopt(ctx, testPortGroup, macA, a)
		assert.NilError(t, err)
		assert.Check(t, is.Equal(l.Prefix, a))
		assert.Check(t, is.Equal(l.Router, netip.MustParseAddr("203.0.113.129")))
		assert.Check(t, l.Expires().After(time.Now().Add(8*time.Second)))

		// The server never leased this address to macD: it refuses, and the client leases anew.
		unknown := netip.MustParsePrefix("203.0.113.170/26")
		l, err = c.Adopt(ctx, testPortGroup, macD, unknown)
		assert.NilError(t, err)
		assert.Check(t, inPool(l.Prefix), "re-leased %s", l.Prefix)
	})

	t.Run("Released", func(t *testing.T) {
		assert.NilError(t, c.Release(ctx, testPortGroup, macA, a.Addr()))
		_, held := c.Lease(testPortGroup, macA)
		assert.Check(t, !held)
		tb.waitServerLease(t, macA, func(l serverLease, found bool) bool { return !found || l.remaining == 0 })
		// Releasing twice, or a lease never held, succeeds.
		assert.NilError(t, c.Release(ctx, testPortGroup, macA, a.Addr()))
		assert.NilError(t, c.Release(ctx, testPortGroup, macC, netip.Addr{}))
	})

	t.Run("Closed", func(t *testing.T) {
		assert.Check(t, is.Len(c.Leases(), 1)) // macD's
		assert.NilError(t, c.Close())
		assert.Check(t, is.Len(c.Leases(), 0))
		_, err := c.Acquire(ctx, testPortGroup, macC)
		assert.Check(t, errors.Is(err, ErrClosed))
		assert.NilError(t, c.Close())
	})
}

// TestClientLeaseLost stops the server for longer than a lease: the client renews, rebinds,
// loses the lease, and leases the same address again once a server answers.
func TestClientLeaseLost(t *testing.T) {
	t.Parallel()
	tb := newTestbed(t)
	stop := tb.startServer(t)
	c := tb.client(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	a, err := c.Acquire(ctx, testPortGroup, macA)
	assert.NilError(t, err)
	first, _ := c.Lease(testPortGroup, macA)
	stop()
	time.Sleep(time.Until(first.Expires().Add(500 * time.Millisecond)))
	lost, _ := c.Lease(testPortGroup, macA)
	assert.Check(t, lost.Expires().Before(time.Now()), "the lease was extended with no server")

	tb.startServer(t)
	deadline := time.Now().Add(8 * time.Second)
	for {
		l, ok := c.Lease(testPortGroup, macA)
		assert.Assert(t, ok)
		if l.Expires().After(time.Now()) {
			assert.Check(t, is.Equal(l.Prefix, a))
			assert.Check(t, is.Equal(l.Router, netip.MustParseAddr("203.0.113.129")))
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the lease of %s was not leased again: %+v", a, l)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// TestClientNoServer checks that a port group without a DHCP server fails within the
// caller's deadline, with an error naming the port group and the MAC.
func TestClientNoServer(t *testing.T) {
	t.Parallel()
	tb := newTestbed(t)
	c := tb.client(t)

	t.Run("ContextDeadline", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		start := time.Now()
		_, err := c.Acquire(ctx, testPortGroup, macC)
		assert.Check(t, time.Since(start) < 2500*time.Millisecond, "took %s", time.Since(start))
		assert.Check(t, errors.Is(err, ErrNoServer))
		assert.Check(t, errors.Is(err, context.DeadlineExceeded))
		assert.Check(t, is.ErrorContains(err, `no DHCP server answered on port group "pg-dhcp" for MAC 02:42:cb:00:71:0c: `))
	})

	t.Run("Retries", func(t *testing.T) {
		c.waits = []time.Duration{100 * time.Millisecond, 200 * time.Millisecond, 400 * time.Millisecond}
		_, err := c.Acquire(context.Background(), testPortGroup, macC)
		assert.Check(t, is.Error(err, `no DHCP server answered on port group "pg-dhcp" for MAC 02:42:cb:00:71:0c: waiting for a DHCPOFFER: no reply to 3 tries in 700ms`))
		_, held := c.Lease(testPortGroup, macC)
		assert.Check(t, !held)
	})

	t.Run("AdoptKeepsTheLease", func(t *testing.T) {
		held := netip.MustParsePrefix("203.0.113.151/26")
		_, err := c.Adopt(context.Background(), testPortGroup, macD, held)
		assert.Check(t, errors.Is(err, ErrNoServer))
		l, ok := c.Lease(testPortGroup, macD)
		assert.Check(t, ok)
		assert.Check(t, is.Equal(l.Prefix, held))
	})

	t.Run("UnknownPortGroup", func(t *testing.T) {
		_, err := c.Acquire(context.Background(), "pg-other", macC)
		assert.Check(t, is.ErrorContains(err, `the endpoint has no uplink to port group "pg-other"`))
	})
}

func fmtAddrs(as []netip.Addr) string {
	s := make([]string, len(as))
	for i, a := range as {
		s[i] = a.String()
	}
	return "[" + strings.Join(s, " ") + "]"
}
