package dhcp

import (
	"context"
	"errors"
	"net"
	"time"
)

// Pauses between attempts to lease an address again after a lease was lost.
const (
	retryFirst = time.Second
	retryMax   = time.Minute
)

// maintain keeps the lease of e alive until ctx ends: at T1 it asks its server to extend it
// (renewing), at T2 it asks any server (rebinding), and once the lease has expired or a
// server refused it, it leases an address from scratch, asking for the same one.
func (c *Client) maintain(ctx context.Context, e *entry) {
	for {
		l, _ := e.get()
		if l.Duration == Forever {
			<-ctx.Done()
			return
		}
		var (
			next      Lease
			serverMAC net.HardwareAddr
			err       error
		)
		if l.Duration > 0 {
			if !sleepUntil(ctx, l.Obtained.Add(l.Renew)) {
				return
			}
			next, serverMAC, err = c.extendUntil(ctx, l, l.Obtained.Add(l.Rebind))
			if err != nil && !errors.Is(err, ErrRefused) && ctx.Err() == nil {
				c.log.Warn("could not renew a lease; rebinding", append(attrs(l), "error", err)...)
				next, serverMAC, err = c.extendUntil(ctx, l, l.Expires())
			}
			if ctx.Err() != nil {
				return
			}
			if err == nil {
				c.log.Debug("renewed a lease", attrs(next)...)
				e.set(next, serverMAC)
				continue
			}
			c.log.Warn("lost a lease; leasing an address again", append(attrs(l), "error", err)...)
		}
		next, serverMAC, ok := c.reacquire(ctx, l)
		if !ok {
			return
		}
		if next.Prefix.Addr() != l.Prefix.Addr() {
			c.log.Warn("the DHCP server leased another address than the one held", append(attrs(next), "held", l.Prefix.Addr())...)
		} else {
			c.log.Info("leased an address again", attrs(next)...)
		}
		e.set(next, serverMAC)
	}
}

// extendUntil asks for lease l again and again until a server answers or until is reached.
func (c *Client) extendUntil(ctx context.Context, l Lease, until time.Time) (Lease, net.HardwareAddr, error) {
	ctx, cancel := context.WithDeadline(ctx, until)
	defer cancel()
	for {
		next, serverMAC, err := c.extend(ctx, l, false)
		if err == nil || errors.Is(err, ErrRefused) || ctx.Err() != nil {
			return next, serverMAC, err
		}
		if !sleepUntil(ctx, time.Now().Add(retryFirst)) {
			return Lease{}, nil, err
		}
	}
}

// reacquire leases an address for the MAC of lost lease l from scratch, pausing longer after
// each failure, until it succeeds or ctx ends.
func (c *Client) reacquire(ctx context.Context, l Lease) (Lease, net.HardwareAddr, bool) {
	pause := retryFirst
	for {
		next, serverMAC, err := c.obtain(ctx, l.PortGroup, l.MAC, l.Prefix.Addr())
		if err == nil {
			return next, serverMAC, true
		}
		if ctx.Err() != nil {
			return Lease{}, nil, false
		}
		c.log.Debug("leasing an address again failed", append(attrs(l), "error", err)...)
		if !sleepUntil(ctx, time.Now().Add(pause)) {
			return Lease{}, nil, false
		}
		pause = min(2*pause, retryMax)
	}
}

// sleepUntil waits until t and reports whether ctx is still alive.
func sleepUntil(ctx context.Context, t time.Time) bool {
	timer := time.NewTimer(time.Until(t))
	defer timer.Stop()
	select {
	case <-timer.C:
		return true
	case <-ctx.Done():
		return false
	}
}
