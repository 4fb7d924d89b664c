package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"
)

// swarmPort is where a swarm's managers listen for nodes and for each other.
const swarmPort = 2377

// swarmCallTimeout bounds one call of the swarm's formation: a join waits for the manager.
const swarmCallTimeout = 90 * time.Second

// swarmNode is what formSwarm reads of GET /nodes.
type swarmNode struct {
	ID          string
	Version     struct{ Index uint64 }
	Spec        map[string]any // sent back whole when a node's role changes
	Description struct{ Hostname string }
	Status      struct {
		State string
		Addr  string
	}
	// ManagerStatus is set once a manager has joined the swarm's managers.
	ManagerStatus *struct{ Reachability string }
}

// role is the node's role in its spec: manager or worker.
func (n swarmNode) role() string { s, _ := n.Spec["Role"].(string); return s }

// swarmManagers is how many of a VCH's n endpoints are the swarm's managers, endpoints 1 to m:
// three from three endpoints on, so that the swarm keeps its quorum when one fails; else one,
// since two managers lose it when either does.
func swarmManagers(n int) int {
	if n >= 3 {
		return 3
	}
	return 1
}

// formSwarm makes the endpoints of a VCH, whose Docker APIs answer at apis in endpoint order,
// one Docker swarm, and waits until every endpoint is a ready node. Endpoint 1 initializes the
// swarm; the others join it; then endpoints 1 to swarmManagers are its managers and the others
// its workers. Each advertises its Docker API's address: the client network joins the
// endpoints. An endpoint already in the swarm keeps its place; one in another swarm is
// refused, and nothing is changed on it.
func formSwarm(ctx context.Context, d *deps, tlsm *tlsMaterial, names []string, apis []netip.Addr, say func(string)) error {
	clients := make([]*dockerAPI, len(apis))
	for i, a := range apis {
		c, err := newDockerAPI(d.dialDocker, a, tlsm, swarmCallTimeout)
		if err != nil {
			return err
		}
		defer c.close()
		clients[i] = c
	}
	manager := clients[0]
	info, err := manager.info(ctx)
	if err != nil {
		return fmt.Errorf("reading the swarm state of endpoint VM %q: %w", names[0], err)
	}
	switch {
	case info.Swarm.LocalNodeState == "inactive":
		req := map[string]any{"ListenAddr": listenAll(), "AdvertiseAddr": swarmAddr(apis[0])}
		if err := manager.call(ctx, http.MethodPost, "/swarm/init", req, nil); err != nil {
			return fmt.Errorf("endpoint VM %q did not start the swarm: %w", names[0], err)
		}
		say(fmt.Sprintf("swarm started on endpoint 1 (%s), its manager", swarmAddr(apis[0])))
	case !info.Swarm.ControlAvailable:
		return fmt.Errorf("endpoint VM %q is in a swarm (%s) but is not its manager: make it leave the swarm (docker swarm leave --force) and run the command again", names[0], info.Swarm.LocalNodeState)
	}
	var sw struct{ JoinTokens struct{ Worker string } }
	if err := manager.call(ctx, http.MethodGet, "/swarm", nil, &sw); err != nil {
		return fmt.Errorf("reading the swarm of endpoint VM %q: %w", names[0], err)
	}
	nodes, err := listNodes(ctx, manager)
	if err != nil {
		return err
	}
	ids := make([]string, len(clients))
	if info, err = manager.info(ctx); err != nil {
		return fmt.Errorf("reading the swarm state of endpoint VM %q: %w", names[0], err)
	}
	ids[0] = info.Swarm.NodeID
	for i, c := range clients[1:] {
		i++
		info, err := c.info(ctx)
		if err != nil {
			return fmt.Errorf("reading the swarm state of endpoint VM %q: %w", names[i], err)
		}
		switch {
		case info.Swarm.LocalNodeState == "inactive":
			req := map[string]any{"ListenAddr": listenAll(), "AdvertiseAddr": swarmAddr(apis[i]),
				"RemoteAddrs": []string{swarmAddr(apis[0])}, "JoinToken": sw.JoinTokens.Worker}
			if err := c.call(ctx, http.MethodPost, "/swarm/join", req, nil); err != nil {
				return fmt.Errorf("endpoint VM %q did not join the swarm of endpoint 1: %w", names[i], err)
			}
			say(fmt.Sprintf("endpoint %d joined the swarm", i+1))
			if info, err = c.info(ctx); err != nil {
				return fmt.Errorf("reading the swarm state of endpoint VM %q: %w", names[i], err)
			}
		case info.Swarm.LocalNodeState != "active":
			return fmt.Errorf("endpoint VM %q is in swarm state %q, neither out of a swarm nor in one: make it leave (docker swarm leave --force) and run the command again", names[i], info.Swarm.LocalNodeState)
		case !slices.ContainsFunc(nodes, func(n swarmNode) bool { return n.ID == info.Swarm.NodeID }):
			return fmt.Errorf("endpoint VM %q is in another swarm than endpoint 1's: make it leave that swarm (docker swarm leave --force) and run the command again", names[i])
		}
		ids[i] = info.Swarm.NodeID
	}
	if err := waitNodes(ctx, manager, ids, say); err != nil {
		return err
	}
	return settleRoles(ctx, manager, ids, swarmManagers(len(apis)), say)
}

// settleRoles makes the nodes of endpoints 1 to m, ids in endpoint order, the swarm's managers
// and the others its workers, promoting and demoting through the manager. When a role change
// fails, the nodes it promoted are demoted again: two managers, halfway from one to three,
// would lose the swarm's quorum when either fails.
func settleRoles(ctx context.Context, manager *dockerAPI, ids []string, m int, say func(string)) error {
	nodes, err := listNodes(ctx, manager)
	if err != nil {
		return err
	}
	var promoted []string // node IDs
	var promotedAt []int  // their endpoints' numbers
	for i, id := range ids {
		want := "worker"
		if i < m {
			want = "manager"
		}
		j := slices.IndexFunc(nodes, func(n swarmNode) bool { return n.ID == id })
		if j < 0 || nodes[j].role() == want {
			continue
		}
		if err := setRole(ctx, manager, nodes[j], want); err != nil {
			err = fmt.Errorf("making endpoint %d a %s of the swarm: %w", i+1, want, err)
			if len(promoted) > 0 {
				if uerr := demote(ctx, manager, promoted); uerr != nil {
					return fmt.Errorf("%w; demoting again the endpoints promoted before failed too: %w", err, uerr)
				}
				again := "a worker again"
				if len(promotedAt) > 1 {
					again = "workers again"
				}
				say(fmt.Sprintf("%s, promoted before the failure: %s", endpointList(promotedAt), again))
			}
			return err
		}
		if want == "manager" {
			promoted, promotedAt = append(promoted, id), append(promotedAt, i+1)
		}
		say(fmt.Sprintf("endpoint %d is a %s of the swarm", i+1, want))
	}
	return waitRoles(ctx, manager, ids, m, say)
}

// endpointList names endpoints by number: "endpoint 2", "endpoints 2, 3".
func endpointList(nums []int) string {
	words := make([]string, len(nums))
	for i, n := range nums {
		words[i] = strconv.Itoa(n)
	}
	if len(nums) == 1 {
		return "endpoint " + words[0]
	}
	return "endpoints " + strings.Join(words, ", ")
}

// setRole changes node n's role in its spec, its other settings kept.
func setRole(ctx context.Context, manager *dockerAPI, n swarmNode, role string) error {
	return updateSpec(ctx, manager, n, map[string]any{"Role": role})
}

// updateSpec sets the fields set of node n's spec, its other settings kept, at the version the
// node was read at: a node changed since is refused, not overwritten.
func updateSpec(ctx context.Context, manager *dockerAPI, n swarmNode, set map[string]any) error {
	for k, v := range set {
		n.Spec[k] = v
	}
	path := fmt.Sprintf("/nodes/%s/update?version=%d", n.ID, n.Version.Index)
	return manager.call(ctx, http.MethodPost, path, n.Spec, nil)
}

// demote makes the nodes ids workers again, read afresh for their versions.
func demote(ctx context.Context, manager *dockerAPI, ids []string) error {
	nodes, err := listNodes(ctx, manager)
	if err != nil {
		return err
	}
	var errs []error
	for _, n := range nodes {
		if slices.Contains(ids, n.ID) && n.role() == "manager" {
			errs = append(errs, setRole(ctx, manager, n, "worker"))
		}
	}
	return errors.Join(errs...)
}

// waitRoles waits until the nodes of endpoints 1 to m, ids in endpoint order, are reachable
// managers and the others are not managers: a node changes role after its spec does.
func waitRoles(ctx context.Context, manager *dockerAPI, ids []string, m int, say func(string)) error {
	for {
		nodes, err := listNodes(ctx, manager)
		settled := err == nil
		for i, id := range ids {
			j := slices.IndexFunc(nodes, func(n swarmNode) bool { return n.ID == id })
			if j < 0 {
				continue
			}
			reachable := nodes[j].ManagerStatus != nil && nodes[j].ManagerStatus.Reachability == "reachable"
			if (i < m) != reachable || (i >= m && nodes[j].ManagerStatus != nil) {
				settled = false
			}
		}
		if settled {
			if m > 1 {
				say(fmt.Sprintf("swarm managers: endpoints 1 to %d, reachable", m))
			}
			return nil
		}
		if !sleepCtx(ctx, time.Second) {
			if err == nil {
				err = ctx.Err()
			}
			return fmt.Errorf("the swarm's managers did not settle on endpoints 1 to %d: %w", m, err)
		}
	}
}

// waitNodes waits until the nodes of the endpoints, ids, are ready in the swarm of manager;
// other nodes of the swarm (a node left behind, another engine joined by hand) do not count.
func waitNodes(ctx context.Context, manager *dockerAPI, ids []string, say func(string)) error {
	for {
		nodes, err := listNodes(ctx, manager)
		ready := 0
		for _, n := range nodes {
			if n.Status.State == "ready" && slices.Contains(ids, n.ID) {
				ready++
			}
		}
		if err == nil && ready == len(ids) {
			say(fmt.Sprintf("swarm ready: %d nodes", ready))
			return nil
		}
		if !sleepCtx(ctx, time.Second) {
			if err == nil {
				err = fmt.Errorf("%d of the %d endpoints are ready nodes", ready, len(ids))
			}
			return fmt.Errorf("the swarm of the endpoints did not get ready: %w", err)
		}
	}
}

// listNodes reads the swarm's nodes from its manager.
func listNodes(ctx context.Context, manager *dockerAPI) ([]swarmNode, error) {
	var nodes []swarmNode
	if err := manager.call(ctx, http.MethodGet, "/nodes", nil, &nodes); err != nil {
		return nil, fmt.Errorf("listing the swarm's nodes: %w", err)
	}
	return nodes, nil
}

// swarmAddr is the swarm address of the endpoint whose Docker API answers at api.
func swarmAddr(api netip.Addr) string { return net.JoinHostPort(api.String(), strconv.Itoa(swarmPort)) }

// listenAll is where an endpoint's swarm listens: every address, as dockerd's default.
func listenAll() string { return net.JoinHostPort("0.0.0.0", strconv.Itoa(swarmPort)) }
