package main

import (
	"context"
	"fmt"
	"net/url"

	"github.com/vmware/govmomi"

	"github.com/docker-vic/docker-vic/vsphere/sim"
)

// addPortgroups creates the named distributed port groups with forged transmits and
// promiscuous mode allowed and MAC learning on, as docker-vic wants for container networks.
func addPortgroups(ctx context.Context, u *url.URL, names []string) error {
	if len(names) == 0 {
		return nil
	}
	c, err := govmomi.NewClient(ctx, u, true) // our own server, just started in this process
	if err != nil {
		return fmt.Errorf("connecting to the simulator: %w", err)
	}
	defer c.Logout(context.WithoutCancel(ctx))
	return sim.AddPortGroups(ctx, c.Client, sim.Permissive(), names...)
}
