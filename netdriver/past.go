package netdriver

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/docker-vic/docker-vic/endpoint/link"
)

// A swarm node's engine keeps neither its swarm networks nor their endpoints across a restart
// (swarm mode has no live restore): it creates again the networks its new tasks need, with new
// endpoints, and never deletes the old ones. After a power-off or a crash, nothing told the
// driver that those containers died, and the old endpoints would hold their published host
// ports for ever: the new task of a service publishing the same port would be refused. So the
// plugin of a swarm node that starts with its engine calls EngineStarts, and EngineAnswers once
// the engine answers; between the two, what the driver held before is the engine's past, and
// a request that publishes ports or creates a network first forgets the past no container uses.

// Forgotten counts what the driver forgot of the engine's past.
type Forgotten struct{ Endpoints, Networks int }

// EngineStarts records every network and endpoint the driver holds as the engine's past, then
// forgets the past endpoints no container uses (inUse: after a power-off, all of them) and the
// past networks left without endpoints. The engine asks again for the networks its tasks need.
func (d *Driver) EngineStarts(ctx context.Context) (Forgotten, error) {
	if err := d.acquire(ctx); err != nil {
		return Forgotten{}, err
	}
	defer d.release()
	d.past = map[string]bool{}
	for id := range d.networks {
		d.past[id] = true
	}
	for id := range d.endpoints {
		d.past[id] = true
	}
	return d.forgetPast(ctx, d.inUse(), "")
}

// EngineAnswers ends the engine's past, once the engine answers: running holds the endpoints of
// the containers it runs (from its own word, not the kernel's: a container its crash left
// running, which it killed at its start, may keep its links a moment longer). Every other past
// endpoint is forgotten, and every past network left without endpoints. When it fails, the past
// stays, for a later call.
func (d *Driver) EngineAnswers(ctx context.Context, running map[string]bool) (Forgotten, error) {
	if err := d.acquire(ctx); err != nil {
		return Forgotten{}, err
	}
	defer d.release()
	if d.past == nil {
		return Forgotten{}, nil
	}
	f, err := d.forgetPast(ctx, func(e *Endpoint) (bool, error) { return running[e.ID], nil }, "")
	if err == nil {
		d.past = nil
	}
	return f, err
}

// settlePast forgets, before a request that could clash with it (a published host port, a
// subnet), the engine's past that no container uses, sparing network spare. It only logs: the
// request then fails on the clash, if any is left.
func (d *Driver) settlePast(ctx context.Context, spare string) {
	if len(d.past) == 0 {
		return
	}
	f, err := d.forgetPast(ctx, d.inUse(), spare)
	if err != nil {
		d.log.Warn("forgetting the engine's past before a request failed in part", "error", err)
	}
	if f != (Forgotten{}) {
		d.log.Info("forgot, before a request, endpoints and networks of the engine's past no container uses",
			"endpoints", f.Endpoints, "networks", f.Networks)
	}
}

// forgetPast forgets the past endpoints that used reports unused and the past networks without
// endpoints but spare, removing their links and rules. The caller holds the lock.
func (d *Driver) forgetPast(ctx context.Context, used func(*Endpoint) (bool, error), spare string) (Forgotten, error) {
	var f Forgotten
	var errs []error
	var dead []*Endpoint
	for _, e := range d.endpoints {
		if !d.past[e.ID] {
			continue
		}
		u, err := used(e)
		if err != nil {
			errs = append(errs, err)
			dead = nil // unknown: every endpoint stays
			break
		}
		if !u {
			dead = append(dead, e)
		}
	}
	for _, e := range dead {
		d.log.Info("forgetting an endpoint of the engine's past: its container is gone", "endpoint", link.ShortID(e.ID), "ports", len(e.Ports))
		d.dropEndpoint(e)
		delete(d.past, e.ID)
		f.Endpoints++
	}
	withEndpoints := map[string]bool{}
	for _, e := range d.endpoints {
		withEndpoints[e.NetworkID] = true
	}
	var empty []*Network
	for _, n := range d.networks {
		if d.past[n.ID] && !withEndpoints[n.ID] && n.ID != spare {
			empty = append(empty, n)
		}
	}
	slices.SortFunc(empty, func(a, b *Network) int { return strings.Compare(a.ID, b.ID) })
	for _, n := range empty {
		d.log.Info("forgetting a network of the engine's past: it has no endpoint left, and the engine creates it again when a task needs it", "network", link.ShortID(n.ID))
		if err := d.removeNetwork(ctx, n); err != nil {
			errs = append(errs, err)
			continue
		}
		delete(d.past, n.ID)
		f.Networks++
	}
	if f != (Forgotten{}) {
		if err := d.firewall.Apply(ctx, d.natState()); err != nil {
			errs = append(errs, fmt.Errorf("removing the rules of the engine's past: %w", err))
		}
	}
	return f, errors.Join(errs...)
}
