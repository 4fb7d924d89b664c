package dockerwatch

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"sync"

	"github.com/containerd/errdefs"
	"github.com/docker/go-plugins-helpers/ipam"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/network"
	"github.com/moby/moby/client"

	"github.com/docker-vic/docker-vic/ipamdriver"
)

// fakeDocker is an in-memory Docker for the network calls: names are unique, the name filter
// matches parts of names and the driver filter whole drivers (as Docker's do), and a subnet
// that overlaps another network's is refused (as Docker's default IPAM does). A network of the
// vic IPAM driver gets its pool from ipam when set, and gives it back when removed. While down,
// every call fails as when Docker's socket does not answer.
type fakeDocker struct {
	mu   sync.Mutex
	nets []network.Inspect
	seq  int
	down *client.Client // set: the calls go to a socket nobody serves
	// ipam, when set, is the vic IPAM driver; pools holds the PoolID of each network of it.
	ipam  *ipamdriver.Driver
	pools map[string]string
	// containers are what ContainerList lists.
	containers []container.Summary
}

func newFakeDocker() *fakeDocker { return &fakeDocker{} }

// setDown makes Docker stop answering (down) or answer again.
func (f *fakeDocker) setDown(down bool) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if !down {
		f.down = nil
		return nil
	}
	c, err := client.New(client.WithHost("unix:///nonexistent/vic-fake-docker.sock"))
	f.down = c
	return err
}

func (f *fakeDocker) Ping(ctx context.Context, o client.PingOptions) (client.PingResult, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.down != nil {
		return f.down.Ping(ctx, o)
	}
	return client.PingResult{}, nil
}

func (f *fakeDocker) NetworkList(ctx context.Context, o client.NetworkListOptions) (client.NetworkListResult, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.down != nil {
		return f.down.NetworkList(ctx, o)
	}
	var res client.NetworkListResult
	for _, n := range f.nets {
		if matches(o.Filters["driver"], func(v string) bool { return n.Driver == v }) &&
			matches(o.Filters["name"], func(v string) bool { return strings.Contains(n.Name, v) }) {
			res.Items = append(res.Items, network.Summary{Network: n.Network})
		}
	}
	return res, nil
}

// matches reports whether one of values passes, or there are none.
func matches(values map[string]bool, pass func(string) bool) bool {
	for v := range values {
		if pass(v) {
			return true
		}
	}
	return len(values) == 0
}

func (f *fakeDocker) NetworkCreate(ctx context.Context, name string, o client.NetworkCreateOptions) (client.NetworkCreateResult, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.down != nil {
		return f.down.NetworkCreate(ctx, name, o)
	}
	var n network.Inspect
	n.Name, n.Driver, n.Options, n.Labels = name, o.Driver, o.Options, o.Labels
	n.Scope, n.Attachable = o.Scope, o.Attachable
	if o.IPAM != nil {
		n.IPAM = *o.IPAM
		n.IPAM.Config = slices.Clone(o.IPAM.Config)
	}
	for _, other := range f.nets {
		if other.Name == name {
			return client.NetworkCreateResult{}, errdefs.ErrConflict.WithMessage(fmt.Sprintf("network with name %s already exists", name))
		}
		if other.IPAM.Driver == ipamdriver.DriverName || n.IPAM.Driver == ipamdriver.DriverName {
			continue // the vic IPAM driver refuses overlaps itself
		}
		for _, a := range other.IPAM.Config {
			for _, b := range n.IPAM.Config {
				if a.Subnet.Overlaps(b.Subnet) {
					return client.NetworkCreateResult{}, errdefs.ErrInvalidArgument.WithMessage("Pool overlaps with other one on this address space")
				}
			}
		}
	}
	f.seq++
	sum := sha256.Sum256(fmt.Appendf(nil, "network %d", f.seq))
	n.ID = hex.EncodeToString(sum[:])
	if f.ipam != nil && n.IPAM.Driver == ipamdriver.DriverName {
		if err := f.requestPool(ctx, &n); err != nil {
			return client.NetworkCreateResult{}, err
		}
	}
	f.nets = append(f.nets, n)
	return client.NetworkCreateResult{ID: n.ID}, nil
}

// requestPool asks the vic IPAM driver for n's pool, as Docker does when it creates n.
func (f *fakeDocker) requestPool(ctx context.Context, n *network.Inspect) error {
	req := &ipam.RequestPoolRequest{AddressSpace: ipamdriver.LocalAddressSpace, Options: n.IPAM.Options}
	if len(n.IPAM.Config) > 0 {
		req.Pool = n.IPAM.Config[0].Subnet.String()
	}
	res, err := f.ipam.RequestPool(ctx, req)
	if err != nil {
		return errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("IpamDriver.RequestPool: %v", err))
	}
	if len(n.IPAM.Config) == 0 {
		n.IPAM.Config = []network.IPAMConfig{{Subnet: netip.MustParsePrefix(res.Pool)}}
	}
	if f.pools == nil {
		f.pools = map[string]string{}
	}
	f.pools[n.ID] = res.PoolID
	return nil
}

// ContainerList lists the containers, those on a network only with the network filter (its ID
// or name), as Docker does.
func (f *fakeDocker) ContainerList(ctx context.Context, o client.ContainerListOptions) (client.ContainerListResult, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.down != nil {
		return f.down.ContainerList(ctx, o)
	}
	var res client.ContainerListResult
	for _, c := range f.containers {
		if (o.All || c.State == "running") && matches(o.Filters["network"], func(v string) bool { return onNetwork(c, v) }) {
			res.Items = append(res.Items, c)
		}
	}
	return res, nil
}

// onNetwork reports whether container c is on the network of ID or name v.
func onNetwork(c container.Summary, v string) bool {
	if c.NetworkSettings == nil {
		return false
	}
	for name, es := range c.NetworkSettings.Networks {
		if name == v || (es != nil && es.NetworkID == v) {
			return true
		}
	}
	return false
}

func (f *fakeDocker) NetworkInspect(_ context.Context, id string, _ client.NetworkInspectOptions) (client.NetworkInspectResult, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, n := range f.nets {
		if n.ID == id || n.Name == id {
			return client.NetworkInspectResult{Network: n}, nil
		}
	}
	return client.NetworkInspectResult{}, errdefs.ErrNotFound.WithMessage("network " + id + " not found")
}

func (f *fakeDocker) NetworkRemove(_ context.Context, id string, _ client.NetworkRemoveOptions) (client.NetworkRemoveResult, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for i, n := range f.nets {
		if n.ID != id && n.Name != id {
			continue
		}
		for _, c := range f.containers {
			if c.State == "running" && onNetwork(c, n.ID) {
				return client.NetworkRemoveResult{}, errdefs.ErrConflict.WithMessage(fmt.Sprintf("error while removing network: network %s id %s has active endpoints", n.Name, n.ID))
			}
		}
		if pool, ok := f.pools[n.ID]; ok && f.ipam != nil {
			if err := f.ipam.ReleasePool(context.Background(), &ipam.ReleasePoolRequest{PoolID: pool}); err != nil {
				return client.NetworkRemoveResult{}, err
			}
		}
		f.nets = append(f.nets[:i], f.nets[i+1:]...)
		return client.NetworkRemoveResult{}, nil
	}
	return client.NetworkRemoveResult{}, errdefs.ErrNotFound.WithMessage("network " + id + " not found")
}
