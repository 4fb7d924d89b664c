package ipamdriver

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"reflect"
	"sync"
	"testing"

	"github.com/docker/go-plugins-helpers/ipam"
)

// fakeLeases plays the DHCP server of a port group: it hands out 203.0.113.10, .11, ... in
// /24, or the address in offer when set.
type fakeLeases struct {
	mu       sync.Mutex
	next     int
	offer    netip.Prefix
	fail     error
	held     map[string]netip.Addr // MAC -> address
	released []string
}

func newFakeLeases() *fakeLeases { return &fakeLeases{next: 10, held: map[string]netip.Addr{}} }

func (f *fakeLeases) Acquire(ctx context.Context, pg string, mac net.HardwareAddr) (netip.Prefix, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.fail != nil {
		return netip.Prefix{}, f.fail
	}
	p := f.offer
	if !p.IsValid() {
		p = netip.MustParsePrefix(fmt.Sprintf("203.0.113.%d/24", f.next))
		f.next++
	}
	f.held[mac.String()] = p.Addr()
	return p, nil
}

func (f *fakeLeases) Release(ctx context.Context, pg string, mac net.HardwareAddr, a netip.Addr) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.held, mac.String())
	f.released = append(f.released, pg+" "+mac.String()+" "+a.String())
	return nil
}

func macOpts(mac string) map[string]string { return map[string]string{OptionMACAddress: mac} }

func TestDHCPNetworkLeasesThroughTheLeaseSource(t *testing.T) {
	src := newFakeLeases()
	d := newDriver(t, testConfig(), nil, src)
	id := requestPool(t, d, ipam.RequestPoolRequest{Options: map[string]string{OptionPortGroup: "cn-dhcp"}}).PoolID
	for _, asked := range []string{"", "0.0.0.0"} {
		if got := requestAddress(t, d, id, asked, gatewayOpts); got != "0.0.0.0/0" {
			t.Fatalf("gateway %q of a DHCP network = %s, want 0.0.0.0/0 (it comes with each lease)", asked, got)
		}
	}
	if got := requestAddress(t, d, id, "", macOpts("02:42:cb:00:71:0a")); got != "203.0.113.10/24" {
		t.Fatalf("RequestAddress = %s, want the lease 203.0.113.10/24", got)
	}
	if got := requestAddress(t, d, id, "", macOpts("02:42:cb:00:71:0b")); got != "203.0.113.11/24" {
		t.Fatalf("RequestAddress = %s, want the lease 203.0.113.11/24", got)
	}
	leases, _ := d.Leases(context.Background(), id)
	if len(leases) != 2 || leases[0].MAC != "02:42:cb:00:71:0a" || leases[0].Bits != 24 {
		t.Fatalf("leases = %+v, want both with MAC and prefix length", leases)
	}

	ctx := context.Background()
	if err := d.ReleaseAddress(ctx, &ipam.ReleaseAddressRequest{PoolID: id, Address: "203.0.113.10"}); err != nil {
		t.Fatal(err)
	}
	if err := d.ReleaseAddress(ctx, &ipam.ReleaseAddressRequest{PoolID: id, Address: "0.0.0.0"}); err != nil {
		t.Fatal(err)
	}
	if err := d.ReleasePool(ctx, &ipam.ReleasePoolRequest{PoolID: id}); err != nil {
		t.Fatal(err)
	}
	want := []string{"cn-dhcp 02:42:cb:00:71:0a 203.0.113.10", "cn-dhcp 02:42:cb:00:71:0b 203.0.113.11"}
	if !reflect.DeepEqual(src.released, want) || len(src.held) != 0 {
		t.Fatalf("released %v (still held %v), want %v", src.released, src.held, want)
	}
}

func TestDHCPNetworkFailuresLeaveNothing(t *testing.T) {
	tests := []struct {
		name    string
		setup   func(f *fakeLeases)
		opts    map[string]string
		kind    error
		message string
	}{
		{"no MAC address", nil, nil, ErrInvalid, `a DHCP lease on container network "cn-dhcp" needs the endpoint's MAC address, and Docker sent none`},
		{"the DHCP server fails", func(f *fakeLeases) { f.fail = errors.New("no offer within 5s") }, macOpts("02:42:cb:00:71:0c"), nil,
			`leasing an address for MAC 02:42:cb:00:71:0c from the DHCP server of container network "cn-dhcp": no offer within 5s`},
		{"the DHCP server offers a leased address", func(f *fakeLeases) { f.offer = netip.MustParsePrefix("203.0.113.10/24") }, macOpts("02:42:cb:00:71:0c"), ErrConflict,
			`the DHCP server of container network "cn-dhcp" offered 203.0.113.10, which is already leased to MAC 02:42:cb:00:71:0a`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := newFakeLeases()
			d := newDriver(t, testConfig(), nil, src)
			id := requestPool(t, d, ipam.RequestPoolRequest{Options: map[string]string{OptionPortGroup: "cn-dhcp"}}).PoolID
			requestAddress(t, d, id, "", macOpts("02:42:cb:00:71:0a"))
			if tt.setup != nil {
				tt.setup(src)
			}
			_, err := d.RequestAddress(context.Background(), &ipam.RequestAddressRequest{PoolID: id, Options: tt.opts})
			if tt.kind != nil {
				wantError(t, err, tt.kind, tt.message)
			} else if err == nil || err.Error() != tt.message {
				t.Fatalf("error %v, want %q", err, tt.message)
			}
			if leases, _ := d.Leases(context.Background(), id); len(leases) != 1 {
				t.Fatalf("leases = %+v, want only the first one", leases)
			}
			if _, held := src.held["02:42:cb:00:71:0c"]; held {
				t.Fatalf("the failed request kept its DHCP lease")
			}
		})
	}
}

// In a swarm, the manager allocates a DHCP network's task addresses in the swarm's space without
// a MAC: its pool answers "no address yet" and keeps nothing; each node then leases for the
// task's MAC in its own space, and its answer is the container's address.
func TestDHCPNetworkInASwarmLeasesOnTheNode(t *testing.T) {
	src := newFakeLeases()
	d := newDriver(t, testConfig(), nil, src)
	cn := map[string]string{OptionPortGroup: "cn-dhcp"}
	swarm := requestPool(t, d, ipam.RequestPoolRequest{AddressSpace: GlobalAddressSpace, Options: cn})
	if got := requestAddress(t, d, swarm.PoolID, "", gatewayOpts); got != "0.0.0.0/0" {
		t.Fatalf("the swarm's gateway of a DHCP network = %s, want 0.0.0.0/0", got)
	}
	serial := map[string]string{"com.docker.network.ipam.serial": "true"}
	for range 2 {
		if got := requestAddress(t, d, swarm.PoolID, "", serial); got != "0.0.0.0/0" {
			t.Fatalf("the swarm's task address on a DHCP network = %s, want 0.0.0.0/0 (no address until a node leases one)", got)
		}
	}
	// The swarm's allocator asks again for what it recorded, after a restart.
	if got := requestAddress(t, d, swarm.PoolID, "0.0.0.0", serial); got != "0.0.0.0/0" {
		t.Fatalf("the swarm's task address asked again = %s, want 0.0.0.0/0", got)
	}
	if leases, _ := d.Leases(context.Background(), swarm.PoolID); len(leases) != 0 || len(src.held) != 0 {
		t.Fatalf("the swarm's pool holds %+v and the DHCP server %v: the manager must lease nothing", leases, src.held)
	}

	node := requestPool(t, d, ipam.RequestPoolRequest{AddressSpace: LocalAddressSpace, Pool: swarm.Pool, Options: cn})
	requestAddress(t, d, node.PoolID, "0.0.0.0", gatewayOpts)
	if got := requestAddress(t, d, node.PoolID, "0.0.0.0", macOpts("02:42:cb:00:71:0a")); got != "203.0.113.10/24" {
		t.Fatalf("the node's RequestAddress of the manager's 0.0.0.0 = %s, want its lease 203.0.113.10/24", got)
	}
	_, err := d.RequestAddress(context.Background(), &ipam.RequestAddressRequest{PoolID: node.PoolID, Address: "0.0.0.0"})
	wantError(t, err, ErrInvalid, `a DHCP lease on container network "cn-dhcp" needs the endpoint's MAC address, and Docker sent none`)

	ctx := context.Background()
	if err := d.ReleaseAddress(ctx, &ipam.ReleaseAddressRequest{PoolID: swarm.PoolID, Address: "0.0.0.0"}); err != nil {
		t.Fatal(err)
	}
	if err := d.ReleasePool(ctx, &ipam.ReleasePoolRequest{PoolID: swarm.PoolID}); err != nil {
		t.Fatal(err)
	}
	if _, held := src.held["02:42:cb:00:71:0a"]; !held {
		t.Fatalf("releasing the swarm's pool gave back the node's lease")
	}
	if err := d.ReleasePool(ctx, &ipam.ReleasePoolRequest{PoolID: node.PoolID}); err != nil {
		t.Fatal(err)
	}
	if len(src.held) != 0 {
		t.Fatalf("still held after the node's pool went: %v", src.held)
	}
}
