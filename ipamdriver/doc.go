// Package ipamdriver is the libnetwork remote IPAM driver named "vic": it hands Docker the
// subnets of bridge networks (carved from the VCH's bridge range, or given with --subnet), the
// pools of container networks (from the VCH configuration), and the addresses inside them.
//
// The allocation rules are pure functions (allocator.go); every decision is recorded through a
// Store in one transaction per request, so a restart of the endpoint never hands out an address
// twice. BoltStore keeps the state in a bbolt database shared with the network driver, MemStore
// keeps it in memory for tests. When that state is lost, Rebuild makes the pools and leases
// again from what Docker shows of its networks (rebuild.go). In a swarm, the pools of the
// swarm's space hold what the allocator of the swarm's leader asked for (swarm.go). Driver's
// methods take and return go-plugins-helpers' ipam types; the plugin socket routes requests to
// them.
package ipamdriver
