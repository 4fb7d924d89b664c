package ipamdriver

import (
	"context"
	"net/netip"
	"sync"
	"testing"

	"github.com/docker/go-plugins-helpers/ipam"
)

func TestParallelRequestAddressGivesUniqueAddresses(t *testing.T) {
	storeKinds(t, func(t *testing.T, s Store) {
		d := newDriver(t, testConfig(), s, nil)
		id := requestPool(t, d, ipam.RequestPoolRequest{Pool: "172.20.0.0/24"}).PoolID
		gateway := requestAddress(t, d, id, "", gatewayOpts)

		const n = 50
		got := make([]string, n)
		errs := make([]error, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				resp, err := d.RequestAddress(context.Background(), &ipam.RequestAddressRequest{PoolID: id})
				if err == nil {
					got[i] = resp.Address
				}
				errs[i] = err
			}()
		}
		wg.Wait()

		seen := map[string]bool{gateway: true}
		subnet := netip.MustParsePrefix("172.20.0.0/24")
		for i, a := range got {
			if errs[i] != nil {
				t.Fatalf("request %d: %v", i, errs[i])
			}
			p := netip.MustParsePrefix(a)
			if seen[a] || !subnet.Contains(p.Addr()) || p.Bits() != 24 {
				t.Fatalf("request %d got %s: taken twice or outside %s", i, a, subnet)
			}
			seen[a] = true
		}
		leases, err := d.Leases(context.Background(), id)
		if err != nil || len(leases) != n+1 {
			t.Fatalf("the store holds %d leases (%v), want %d", len(leases), err, n+1)
		}
	})
}

func TestParallelRequestPoolGivesDistinctSubnets(t *testing.T) {
	storeKinds(t, func(t *testing.T, s Store) {
		d := newDriver(t, testConfig(), s, nil)
		const n = 16 // the whole default bridge range
		got := make([]string, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if resp, err := d.RequestPool(context.Background(), &ipam.RequestPoolRequest{}); err == nil {
					got[i] = resp.Pool
				}
			}()
		}
		wg.Wait()
		seen := map[string]bool{}
		for _, p := range got {
			if p == "" || seen[p] {
				t.Fatalf("pools %v: a request failed or a subnet was handed out twice", got)
			}
			seen[p] = true
		}
	})
}
