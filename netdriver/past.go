package netdriver

import (
	"context"
	"errors"
	"fmt"

	"github.com/docker-vic/docker-vic/endpoint/link"
)

// A swarm node's engine keeps neither its swarm networks nor their endpoints across a restart
// (swarm mode has no live restore): it creates again the networks its new tasks need, with new
// endpoints, and never deletes the old ones. After a power-off or a crash, nothing told the
// driver that those containers died, and the old endpoints would hold their published host
// ports for ever: the new task of a service publishing the same port would be refused. So the
// plugin of a swarm node that starts with its engine calls EngineStarts, and EngineAnswers once
// the engine answers; between the two, what the driver held before is the engine's past.

// Forgotten counts what EngineStarts or EngineAnswers forgot.
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
	return d.forgetPast(ctx)
}

// EngineAnswers forgets what EngineStarts left because a container still used it, and no
// longer does: the engine, before it answers, has killed the containers a crash of its own left
// running. A past network the engine created again is its own since. The past ends here.
func (d *Driver) EngineAnswers(ctx context.Context) (Forgotten, error) {
	if err := d.acquire(ctx); err != nil {
		return Forgotten{}, err
	}
	defer d.release()
	if d.past == nil {
		return Forgotten{}, nil
	}
	defer func() { d.past = nil }()
	return d.forgetPast(ctx)
}

// forgetPast forgets the past endpoints no container uses and the past networks without
// endpoints, removing their links and rules. The caller holds the lock.
func (d *Driver) forgetPast(ctx context.Context) (Forgotten, error) {
	var f Forgotten
	var errs []error
	in := d.inUse()
	for _, e := range d.endpoints {
		if !d.past[e.ID] {
			continue
		}
		used, err := in(e)
		if err != nil {
			return f, err
		}
		if !used {
			d.log.Info("forgetting an endpoint of the engine's past: its container is gone", "endpoint", link.ShortID(e.ID), "ports", len(e.Ports))
			d.dropEndpoint(e)
			f.Endpoints++
		}
	}
	used := map[string]bool{}
	for _, e := range d.endpoints {
		used[e.NetworkID] = true
	}
	for _, n := range d.networks {
		if !d.past[n.ID] || used[n.ID] {
			continue
		}
		d.log.Info("forgetting a network of the engine's past: it has no endpoint left, and the engine creates it again when a task needs it", "network", link.ShortID(n.ID))
		if err := d.removeNetwork(ctx, n); err != nil {
			errs = append(errs, err)
			continue
		}
		f.Networks++
	}
	if f != (Forgotten{}) {
		if err := d.firewall.Apply(ctx, d.natState()); err != nil {
			errs = append(errs, fmt.Errorf("removing the rules of the past endpoints: %w", err))
		}
	}
	return f, errors.Join(errs...)
}
