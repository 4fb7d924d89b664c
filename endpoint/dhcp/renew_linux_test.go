package dhcp

import (
	"context"
	"errors"
	"net/netip"
	"testing"
	"time"

	"github.com/insomniacslk/dhcp/dhcpv4"
	"golang.org/x/sys/unix"
	"gotest.tools/v3/assert"
	is "gotest.tools/v3/assert/cmp"
)

// TestClientRenewalUnicast renews a lease with a server that answers renewals by unicast to
// the container's MAC, while the container's macvlan interface hangs on the uplink and takes
// such frames in its rx handler: the client must still see the DHCPACKs and keep the lease
// without ever falling back to a DHCPDISCOVER.
func TestClientRenewalUnicast(t *testing.T) {
	t.Parallel()
	tb := newTestbed(t)
	tb.addContainerMacvlan(t, macA)
	srv := tb.startResponder(t)
	c := tb.client(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()

	a, err := c.Acquire(ctx, testPortGroup, macA)
	assert.NilError(t, err)
	assert.Check(t, is.Equal(a, netip.PrefixFrom(responderLease, 26)))
	first, _ := c.Lease(testPortGroup, macA)

	// The lease lasts 4 s and is renewed every second: wait past its first lifetime.
	time.Sleep(time.Until(first.Expires().Add(time.Second)))
	now, ok := c.Lease(testPortGroup, macA)
	assert.Assert(t, ok)
	assert.Check(t, now.Expires().After(time.Now()), "lease expired at %s", now.Expires())
	assert.Check(t, now.Obtained.After(first.Obtained.Add(3*time.Second)), "lease obtained %s, last renewed %s", first.Obtained, now.Obtained)
	assert.Check(t, srv.count("unicast ack") >= 3, "the server unicast %d DHCPACKs", srv.count("unicast ack"))
	assert.Check(t, is.Equal(srv.count("discover"), 1), "the client lost its lease and leased again")

	assert.NilError(t, c.Release(ctx, testPortGroup, macA, a.Addr()))
	assert.Check(t, waitFor(2*time.Second, func() bool { return srv.count("release") == 1 }), "the server got no DHCPRELEASE")
}

// TestClientReleaseDuringRenewal releases a lease while its renewal waits for an answer that
// does not come: the DHCPRELEASE reaches the server after the last DHCPREQUEST, and nothing
// is sent for the MAC after it.
func TestClientReleaseDuringRenewal(t *testing.T) {
	t.Parallel()
	tb := newTestbed(t)
	srv := tb.startResponder(t)
	c := tb.client(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()

	a, err := c.Acquire(ctx, testPortGroup, macA)
	assert.NilError(t, err)
	l, _ := c.Lease(testPortGroup, macA)
	srv.ignoreRenewals.Store(true)
	time.Sleep(time.Until(l.Obtained.Add(l.Renew + 300*time.Millisecond)))

	short, cancelShort := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancelShort()
	start := time.Now()
	assert.NilError(t, c.Release(short, testPortGroup, macA, a.Addr()))
	assert.Check(t, time.Since(start) < stopWait, "Release took %s", time.Since(start))
	assert.Check(t, waitFor(2*time.Second, func() bool { return srv.count("release") == 1 }), "the server got no DHCPRELEASE")
	time.Sleep(time.Second)
	// Leasing, the unanswered renewal, the release, and no retry of the renewal after it.
	assert.Check(t, is.DeepEqual(srv.received(), []dhcpv4.MessageType{dhcpv4.MessageTypeDiscover, dhcpv4.MessageTypeRequest,
		dhcpv4.MessageTypeRequest, dhcpv4.MessageTypeRelease}))
}

// TestClientUplinkFailures checks that failures that are not a silent port group are not
// reported as one, and that Adopt keeps no lease for them.
func TestClientUplinkFailures(t *testing.T) {
	t.Parallel()
	tb := newTestbed(t)
	c := tb.client(t)

	t.Run("Cancelled", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		time.AfterFunc(300*time.Millisecond, cancel)
		_, err := c.Acquire(ctx, testPortGroup, macC)
		assert.Check(t, !errors.Is(err, ErrNoServer), "%v", err)
		assert.Check(t, errors.Is(err, context.Canceled))
		assert.Check(t, is.ErrorContains(err, `waiting for a DHCPOFFER on uplink "uplink" for MAC 02:42:cb:00:71:0c: `))
	})

	up, err := tb.endpoint.Link.LinkByName("uplink")
	must(t, err, "finding the uplink")
	must(t, tb.endpoint.Link.LinkSetDown(up), "bringing the uplink down")

	t.Run("AcquireUplinkDown", func(t *testing.T) {
		_, err := c.Acquire(context.Background(), testPortGroup, macC)
		assert.Check(t, !errors.Is(err, ErrNoServer), "%v", err)
		assert.Check(t, errors.Is(err, unix.ENETDOWN), "%v", err)
		assert.Check(t, is.ErrorContains(err, `sending a DHCPDISCOVER on uplink "uplink" for MAC 02:42:cb:00:71:0c: `))
	})

	t.Run("AdoptUplinkDown", func(t *testing.T) {
		held := netip.MustParsePrefix("203.0.113.151/26")
		_, err := c.Adopt(context.Background(), testPortGroup, macD, held)
		assert.Check(t, !errors.Is(err, ErrNoServer), "%v", err)
		assert.Check(t, is.ErrorContains(err, `adopting 203.0.113.151 for MAC 02:42:cb:00:71:0d on port group "pg-dhcp": sending a DHCPREQUEST on uplink "uplink" for MAC 02:42:cb:00:71:0d: `))
		_, kept := c.Lease(testPortGroup, macD)
		assert.Check(t, !kept, "Adopt kept a lease it could not ask for")
	})
}
