package ipamdriver

import (
	"context"
	"errors"
	"net/netip"
	"reflect"
	"strings"
	"testing"

	"github.com/docker/go-plugins-helpers/ipam"

	"github.com/docker-vic/docker-vic/config"
	"github.com/docker-vic/docker-vic/endpoint/hostnets"
)

// testConfig is a VCH with the default bridge range (172.16.0.0/12 in /16s), a static container
// network with three addresses, and a DHCP one.
func testConfig() *config.Config {
	c := config.New("vch1")
	c.ContainerNetworks = []config.ContainerNetwork{
		{PortGroup: "cn-static", Alias: "static", Gateway: netip.MustParsePrefix("198.51.100.1/24"), Ranges: ranges("198.51.100.10-198.51.100.12")},
		{PortGroup: "cn-dhcp", Alias: "dhcp"},
	}
	c.ApplyDefaults()
	if err := c.Validate(); err != nil {
		panic(err)
	}
	return c
}

func newDriver(t *testing.T, cfg *config.Config, s Store, leases LeaseSource) *Driver {
	t.Helper()
	if s == nil {
		s = NewMemStore()
	}
	d, err := New(cfg, s, leases)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func requestPool(t *testing.T, d *Driver, req ipam.RequestPoolRequest) *ipam.RequestPoolResponse {
	t.Helper()
	resp, err := d.RequestPool(context.Background(), &req)
	if err != nil {
		t.Fatalf("RequestPool(%+v): %v", req, err)
	}
	return resp
}

func requestAddress(t *testing.T, d *Driver, poolID, addr string, opts map[string]string) string {
	t.Helper()
	resp, err := d.RequestAddress(context.Background(), &ipam.RequestAddressRequest{PoolID: poolID, Address: addr, Options: opts})
	if err != nil {
		t.Fatalf("RequestAddress(%s, %q): %v", poolID, addr, err)
	}
	return resp.Address
}

var gatewayOpts = map[string]string{OptionRequestAddressType: RequestAddressTypeGateway}

func poolIDs(t *testing.T, d *Driver) []string {
	t.Helper()
	pools, err := d.Pools(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, p := range pools {
		ids = append(ids, p.ID)
	}
	return ids
}

func wantError(t *testing.T, err error, kind error, message string) {
	t.Helper()
	if err == nil {
		t.Fatalf("no error, want a %v error containing %q", kind, message)
	}
	if !errors.Is(err, kind) || !strings.Contains(err.Error(), message) {
		t.Fatalf("error %q, want a %v error containing %q", err, kind, message)
	}
	if msg := err.Error(); strings.Contains(msg, "\n") || strings.HasSuffix(msg, ".") {
		t.Fatalf("error %q is not one sentence without a final period", msg)
	}
}

func TestCapabilitiesAskForMACAddresses(t *testing.T) {
	d := newDriver(t, testConfig(), nil, nil)
	caps, err := d.GetCapabilities(context.Background())
	if err != nil || !caps.RequiresMACAddress {
		t.Fatalf("GetCapabilities = %+v, %v; want RequiresMACAddress", caps, err)
	}
	spaces, err := d.GetDefaultAddressSpaces(context.Background())
	if err != nil || spaces.LocalDefaultAddressSpace == "" || spaces.GlobalDefaultAddressSpace == "" {
		t.Fatalf("GetDefaultAddressSpaces = %+v, %v", spaces, err)
	}
}

func TestRequestPoolDefaultGivesTheNextSubnetEachTime(t *testing.T) {
	d := newDriver(t, testConfig(), nil, nil)
	var got []string
	for range 3 {
		resp := requestPool(t, d, ipam.RequestPoolRequest{AddressSpace: LocalAddressSpace})
		got = append(got, resp.Pool+" "+resp.PoolID)
	}
	want := []string{
		"172.16.0.0/16 vic/172.16.0.0/16",
		"172.17.0.0/16 vic/172.17.0.0/16",
		"172.18.0.0/16 vic/172.18.0.0/16",
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("pools = %v, want %v", got, want)
	}
	// Docker releases the pools that overlapped a host route once it has a good one.
	if err := d.ReleasePool(context.Background(), &ipam.ReleasePoolRequest{PoolID: "vic/172.17.0.0/16"}); err != nil {
		t.Fatal(err)
	}
	if resp := requestPool(t, d, ipam.RequestPoolRequest{}); resp.Pool != "172.17.0.0/16" {
		t.Fatalf("after a release, RequestPool = %s, want the freed 172.17.0.0/16", resp.Pool)
	}
}

func TestRequestPoolDefaultSkipsTakenSubnets(t *testing.T) {
	d := newDriver(t, testConfig(), nil, nil)
	requestPool(t, d, ipam.RequestPoolRequest{Pool: "172.16.128.0/17"})
	if resp := requestPool(t, d, ipam.RequestPoolRequest{}); resp.Pool != "172.17.0.0/16" {
		t.Fatalf("RequestPool = %s, want 172.17.0.0/16 past --subnet 172.16.128.0/17", resp.Pool)
	}
}

func TestRequestPoolDefaultExhausted(t *testing.T) {
	cfg := testConfig()
	cfg.Bridge.Range = netip.MustParsePrefix("172.16.0.0/15")
	d := newDriver(t, cfg, nil, nil)
	requestPool(t, d, ipam.RequestPoolRequest{})
	requestPool(t, d, ipam.RequestPoolRequest{})
	_, err := d.RequestPool(context.Background(), &ipam.RequestPoolRequest{})
	wantError(t, err, ErrExhausted, "the bridge range 172.16.0.0/15 has no free /16 subnet left: remove unused networks, or pass --subnet")
	if ids := poolIDs(t, d); len(ids) != 2 {
		t.Fatalf("pools after exhaustion = %v, want the two handed out", ids)
	}
}

func TestRequestPoolRefusals(t *testing.T) {
	tests := []struct {
		name    string
		req     ipam.RequestPoolRequest
		kind    error
		message string
	}{
		{"IPv6", ipam.RequestPoolRequest{V6: true}, ErrNotSupported, "IPv6 is not supported by the vic IPAM driver"},
		{"unknown option", ipam.RequestPoolRequest{Options: map[string]string{"foo": "bar"}}, ErrInvalid, `unknown IPAM option "foo": the vic IPAM driver accepts only "com.docker.network.vic.portgroup"`},
		{"empty port group", ipam.RequestPoolRequest{Options: map[string]string{OptionPortGroup: ""}}, ErrInvalid, `IPAM option "com.docker.network.vic.portgroup" needs the name`},
		{"not a CIDR", ipam.RequestPoolRequest{Pool: "172.20.0.0"}, ErrInvalid, `subnet "172.20.0.0" is not a CIDR`},
		{"IPv6 subnet", ipam.RequestPoolRequest{Pool: "2001:db8::/64"}, ErrNotSupported, "subnet 2001:db8::/64 is IPv6"},
		{"not a network address", ipam.RequestPoolRequest{Pool: "172.20.0.1/16"}, ErrInvalid, "subnet 172.20.0.1/16 is not a network address: use 172.20.0.0/16"},
		{"too small", ipam.RequestPoolRequest{Pool: "203.0.113.0/31"}, ErrInvalid, "subnet 203.0.113.0/31 is too small"},
		{"overlaps a pool", ipam.RequestPoolRequest{Pool: "203.0.113.0/25"}, ErrConflict, "subnet 203.0.113.0/25 overlaps subnet 203.0.113.0/24 of another network: subnets of the vic IPAM driver cannot overlap"},
		{"overlaps a container network", ipam.RequestPoolRequest{Pool: "198.51.100.128/25"}, ErrConflict, `subnet 198.51.100.128/25 overlaps subnet 198.51.100.0/24 of container network "cn-static"`},
		{"ip-range outside the subnet", ipam.RequestPoolRequest{Pool: "172.20.0.0/16", SubPool: "172.21.0.0/24"}, ErrInvalid, "--ip-range 172.21.0.0/24 must lie inside --subnet 172.20.0.0/16"},
		{"ip-range not a CIDR", ipam.RequestPoolRequest{Pool: "172.20.0.0/16", SubPool: "172.20.0.5"}, ErrInvalid, `--ip-range "172.20.0.5" is not an IPv4 CIDR`},
		{"ip-range of the network address only", ipam.RequestPoolRequest{Pool: "172.20.0.0/16", SubPool: "172.20.0.0/32"}, ErrInvalid, "--ip-range 172.20.0.0/32 holds only the network or broadcast address of --subnet 172.20.0.0/16"},
		{"ip-range without subnet", ipam.RequestPoolRequest{SubPool: "172.20.0.0/24"}, ErrInvalid, "--ip-range 172.20.0.0/24 needs --subnet"},
		{"unknown container network", ipam.RequestPoolRequest{Options: map[string]string{OptionPortGroup: "nope"}}, ErrInvalid, `port group "nope" is not a container network of this VCH`},
		{"container network with ip-range", ipam.RequestPoolRequest{Options: map[string]string{OptionPortGroup: "cn-static"}, SubPool: "198.51.100.0/28"}, ErrInvalid, `--ip-range 198.51.100.0/28 cannot be set on container network "cn-static"`},
		{"container network with another subnet", ipam.RequestPoolRequest{Options: map[string]string{OptionPortGroup: "cn-static"}, Pool: "198.51.0.0/16"}, ErrInvalid, `subnet 198.51.0.0/16 does not match container network "cn-static", whose gateway 198.51.100.1/24 sets the subnet 198.51.100.0/24`},
		{"DHCP network with a subnet", ipam.RequestPoolRequest{Options: map[string]string{OptionPortGroup: "cn-dhcp"}, Pool: "203.0.113.0/24"}, ErrInvalid, `container network "cn-dhcp" gets its addresses from its DHCP server and takes no --subnet`},
		{"container network twice", ipam.RequestPoolRequest{Options: map[string]string{OptionPortGroup: "cn-dhcp"}}, ErrConflict, `container network "cn-dhcp" already has a Docker network`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := newDriver(t, testConfig(), nil, nil)
			requestPool(t, d, ipam.RequestPoolRequest{Pool: "203.0.113.0/24"})
			requestPool(t, d, ipam.RequestPoolRequest{Options: map[string]string{OptionPortGroup: "cn-dhcp"}})
			before := poolIDs(t, d)
			_, err := d.RequestPool(context.Background(), &tt.req)
			wantError(t, err, tt.kind, tt.message)
			if after := poolIDs(t, d); !reflect.DeepEqual(after, before) {
				t.Fatalf("a refused request changed the pools from %v to %v", before, after)
			}
		})
	}
}

func TestRequestPoolContainerNetworks(t *testing.T) {
	tests := []struct {
		name string
		req  ipam.RequestPoolRequest
		want ipam.RequestPoolResponse
	}{
		{"static", ipam.RequestPoolRequest{Options: map[string]string{OptionPortGroup: "cn-static"}},
			ipam.RequestPoolResponse{PoolID: "vic/198.51.100.0/24@cn-static", Pool: "198.51.100.0/24", Data: map[string]string{DataGateway: "198.51.100.1/24"}}},
		{"static with its own subnet", ipam.RequestPoolRequest{Options: map[string]string{OptionPortGroup: "cn-static"}, Pool: "198.51.100.0/24"},
			ipam.RequestPoolResponse{PoolID: "vic/198.51.100.0/24@cn-static", Pool: "198.51.100.0/24", Data: map[string]string{DataGateway: "198.51.100.1/24"}}},
		{"DHCP", ipam.RequestPoolRequest{Options: map[string]string{OptionPortGroup: "cn-dhcp"}},
			ipam.RequestPoolResponse{PoolID: "vic/0.0.0.0/0@cn-dhcp", Pool: "0.0.0.0/0", Data: map[string]string{DataGateway: "0.0.0.0/0"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := newDriver(t, testConfig(), nil, nil)
			if got := requestPool(t, d, tt.req); !reflect.DeepEqual(*got, tt.want) {
				t.Fatalf("RequestPool = %+v, want %+v", *got, tt.want)
			}
		})
	}
}

func TestRequestAddressBridgeNetwork(t *testing.T) {
	d := newDriver(t, testConfig(), nil, nil)
	id := requestPool(t, d, ipam.RequestPoolRequest{}).PoolID
	if got := requestAddress(t, d, id, "", gatewayOpts); got != "172.16.0.1/16" {
		t.Fatalf("gateway = %s, want 172.16.0.1/16", got)
	}
	mac := map[string]string{OptionMACAddress: "02:42:ac:10:00:02"}
	for _, want := range []string{"172.16.0.2/16", "172.16.0.3/16", "172.16.0.4/16"} {
		if got := requestAddress(t, d, id, "", mac); got != want {
			t.Fatalf("RequestAddress = %s, want %s", got, want)
		}
	}
	if err := d.ReleaseAddress(context.Background(), &ipam.ReleaseAddressRequest{PoolID: id, Address: "172.16.0.3"}); err != nil {
		t.Fatal(err)
	}
	if got := requestAddress(t, d, id, "", nil); got != "172.16.0.5/16" {
		t.Fatalf("after a release, RequestAddress = %s, want 172.16.0.5/16: a freed address waits for its turn", got)
	}
	if got := requestAddress(t, d, id, "172.16.0.3", nil); got != "172.16.0.3/16" {
		t.Fatalf("RequestAddress(172.16.0.3) = %s, want the freed address", got)
	}
	leases, err := d.Leases(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	if leases[0].Address.String() != "172.16.0.1" || !leases[0].Gateway || leases[1].MAC != "02:42:ac:10:00:02" {
		t.Fatalf("leases = %+v, want the gateway first and MAC addresses recorded", leases)
	}
}

func TestRequestAddressRefusals(t *testing.T) {
	tests := []struct {
		name    string
		poolID  string
		addr    string
		opts    map[string]string
		kind    error
		message string
	}{
		{"unknown pool", "vic/10.0.0.0/8", "", nil, ErrUnknownPool, `pool "vic/10.0.0.0/8" is unknown to the vic IPAM driver`},
		{"foreign pool", "LocalDefault/10.0.0.0/8", "", nil, ErrUnknownPool, `pool "LocalDefault/10.0.0.0/8" was not made by the vic IPAM driver`},
		{"not an address", "vic/172.20.0.0/24", "nope", nil, ErrInvalid, `address "nope" is not an IP address`},
		{"IPv6 address", "vic/172.20.0.0/24", "2001:db8::1", nil, ErrNotSupported, "address 2001:db8::1 is IPv6"},
		{"bad MAC", "vic/172.20.0.0/24", "", map[string]string{OptionMACAddress: "zz"}, ErrInvalid, `MAC address "zz" is not an Ethernet address`},
		{"taken", "vic/172.20.0.0/24", "172.20.0.2", nil, ErrConflict, "address 172.20.0.2 is already in use in subnet 172.20.0.0/24"},
		{"the gateway", "vic/172.20.0.0/24", "172.20.0.1", nil, ErrConflict, "address 172.20.0.1 is the gateway of subnet 172.20.0.0/24"},
		{"a second gateway on the first", "vic/172.20.0.0/24", "172.20.0.1", gatewayOpts, ErrConflict, "address 172.20.0.1 is the gateway"},
		{"outside", "vic/172.20.0.0/24", "172.20.1.1", nil, ErrInvalid, "address 172.20.1.1 is outside subnet 172.20.0.0/24"},
		{"network address", "vic/172.20.0.0/24", "172.20.0.0", nil, ErrInvalid, "address 172.20.0.0 is the network address"},
		{"broadcast address", "vic/172.20.0.0/24", "172.20.0.255", nil, ErrInvalid, "address 172.20.0.255 is the broadcast address"},
		{"container network outside its ranges", "vic/198.51.100.0/24@cn-static", "198.51.100.100", nil, ErrInvalid, "address 198.51.100.100 is outside the ranges 198.51.100.10-198.51.100.12"},
		{"container network with another gateway", "vic/198.51.100.0/24@cn-static", "198.51.100.2", gatewayOpts, ErrInvalid, `gateway 198.51.100.2 does not match container network "cn-static" (198.51.100.0/24), whose gateway is 198.51.100.1`},
		{"DHCP network with --ip", "vic/0.0.0.0/0@cn-dhcp", "203.0.113.5", nil, ErrInvalid, `container network "cn-dhcp" gets its addresses from its DHCP server and takes no --ip`},
		{"DHCP network with --gateway", "vic/0.0.0.0/0@cn-dhcp", "203.0.113.1", gatewayOpts, ErrInvalid, "takes no --gateway"},
		{"DHCP network without a lease source", "vic/0.0.0.0/0@cn-dhcp", "", map[string]string{OptionMACAddress: "02:42:ac:10:00:02"}, ErrNotSupported, `container network "cn-dhcp" gets its addresses from its DHCP server, and DHCP leases are not supported yet`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := newDriver(t, testConfig(), nil, nil)
			bridge := requestPool(t, d, ipam.RequestPoolRequest{Pool: "172.20.0.0/24"}).PoolID
			requestAddress(t, d, bridge, "", gatewayOpts)
			requestAddress(t, d, bridge, "", nil)
			requestPool(t, d, ipam.RequestPoolRequest{Options: map[string]string{OptionPortGroup: "cn-static"}})
			requestPool(t, d, ipam.RequestPoolRequest{Options: map[string]string{OptionPortGroup: "cn-dhcp"}})
			before, _ := d.Leases(context.Background(), bridge)
			_, err := d.RequestAddress(context.Background(), &ipam.RequestAddressRequest{PoolID: tt.poolID, Address: tt.addr, Options: tt.opts})
			wantError(t, err, tt.kind, tt.message)
			if after, _ := d.Leases(context.Background(), bridge); !reflect.DeepEqual(after, before) {
				t.Fatalf("a refused request changed the leases from %v to %v", before, after)
			}
		})
	}
}

func TestRequestAddressExhausted(t *testing.T) {
	d := newDriver(t, testConfig(), nil, nil)
	id := requestPool(t, d, ipam.RequestPoolRequest{Pool: "203.0.113.0/30"}).PoolID
	requestAddress(t, d, id, "", gatewayOpts)
	if got := requestAddress(t, d, id, "", nil); got != "203.0.113.2/30" {
		t.Fatalf("RequestAddress = %s, want 203.0.113.2/30", got)
	}
	_, err := d.RequestAddress(context.Background(), &ipam.RequestAddressRequest{PoolID: id})
	wantError(t, err, ErrExhausted, "no free address left in subnet 203.0.113.0/30 (203.0.113.1-203.0.113.2): remove unused containers, or widen the range")
}

func TestRequestAddressSubPool(t *testing.T) {
	d := newDriver(t, testConfig(), nil, nil)
	resp := requestPool(t, d, ipam.RequestPoolRequest{Pool: "172.20.0.0/16", SubPool: "172.20.5.0/24"})
	if resp.PoolID != "vic/172.20.0.0/16/172.20.5.0/24" || resp.Pool != "172.20.0.0/16" {
		t.Fatalf("RequestPool = %+v", resp)
	}
	if got := requestAddress(t, d, resp.PoolID, "", gatewayOpts); got != "172.20.0.1/16" {
		t.Fatalf("gateway = %s, want the first usable address of --subnet", got)
	}
	if got := requestAddress(t, d, resp.PoolID, "", nil); got != "172.20.5.0/16" {
		t.Fatalf("RequestAddress = %s, want 172.20.5.0/16, the first address of --ip-range", got)
	}
	if got := requestAddress(t, d, resp.PoolID, "172.20.9.9", nil); got != "172.20.9.9/16" {
		t.Fatalf("RequestAddress(172.20.9.9) = %s: --ip outside --ip-range but inside --subnet is Docker's way", got)
	}
}

func TestRequestAddressUserGateway(t *testing.T) {
	d := newDriver(t, testConfig(), nil, nil)
	id := requestPool(t, d, ipam.RequestPoolRequest{Pool: "172.20.0.0/24"}).PoolID
	if got := requestAddress(t, d, id, "172.20.0.254", gatewayOpts); got != "172.20.0.254/24" {
		t.Fatalf("gateway = %s, want --gateway 172.20.0.254", got)
	}
	if got := requestAddress(t, d, id, "", nil); got != "172.20.0.1/24" {
		t.Fatalf("RequestAddress = %s, want the first address", got)
	}
}

func TestRequestAddressContainerNetwork(t *testing.T) {
	d := newDriver(t, testConfig(), nil, nil)
	id := requestPool(t, d, ipam.RequestPoolRequest{Options: map[string]string{OptionPortGroup: "cn-static"}}).PoolID
	if got := requestAddress(t, d, id, "198.51.100.1", gatewayOpts); got != "198.51.100.1/24" {
		t.Fatalf("gateway = %s, want the configured 198.51.100.1/24", got)
	}
	for _, want := range []string{"198.51.100.10/24", "198.51.100.11/24", "198.51.100.12/24"} {
		if got := requestAddress(t, d, id, "", nil); got != want {
			t.Fatalf("RequestAddress = %s, want %s", got, want)
		}
	}
	_, err := d.RequestAddress(context.Background(), &ipam.RequestAddressRequest{PoolID: id})
	wantError(t, err, ErrExhausted, `no free address left in container network "cn-static" (198.51.100.0/24) (198.51.100.10-198.51.100.12)`)

	// docker vic configure widened the range.
	cfg := testConfig()
	cfg.ContainerNetworks[0].Ranges = ranges("198.51.100.10-198.51.100.13")
	if err := d.SetConfig(cfg); err != nil {
		t.Fatal(err)
	}
	if got := requestAddress(t, d, id, "", nil); got != "198.51.100.13/24" {
		t.Fatalf("after configure, RequestAddress = %s, want 198.51.100.13/24", got)
	}
}

func TestReleaseIsIdempotent(t *testing.T) {
	d := newDriver(t, testConfig(), nil, nil)
	id := requestPool(t, d, ipam.RequestPoolRequest{}).PoolID
	requestAddress(t, d, id, "", gatewayOpts)
	ctx := context.Background()
	for _, req := range []ipam.ReleaseAddressRequest{
		{PoolID: id, Address: "172.16.0.1"},
		{PoolID: id, Address: "172.16.0.1"},
		{PoolID: id, Address: "172.16.0.99"},
		{PoolID: id, Address: ""},
		{PoolID: "vic/10.0.0.0/8", Address: "10.0.0.5"},
		{PoolID: "LocalDefault/10.0.0.0/8", Address: "10.0.0.5"},
	} {
		if err := d.ReleaseAddress(ctx, &req); err != nil {
			t.Errorf("ReleaseAddress(%+v): %v", req, err)
		}
	}
	for _, req := range []ipam.ReleasePoolRequest{{PoolID: id}, {PoolID: id}, {PoolID: "vic/10.0.0.0/8"}, {PoolID: "whatever"}, {}} {
		if err := d.ReleasePool(ctx, &req); err != nil {
			t.Errorf("ReleasePool(%+v): %v", req, err)
		}
	}
	if ids := poolIDs(t, d); len(ids) != 0 {
		t.Fatalf("pools after release = %v", ids)
	}
}

func TestReleasedGatewayCanBeHandedOut(t *testing.T) {
	d := newDriver(t, testConfig(), nil, nil)
	id := requestPool(t, d, ipam.RequestPoolRequest{Pool: "203.0.113.0/30"}).PoolID
	requestAddress(t, d, id, "", gatewayOpts)
	requestAddress(t, d, id, "", nil)
	if err := d.ReleaseAddress(context.Background(), &ipam.ReleaseAddressRequest{PoolID: id, Address: "203.0.113.1"}); err != nil {
		t.Fatal(err)
	}
	if got := requestAddress(t, d, id, "", nil); got != "203.0.113.1/30" {
		t.Fatalf("RequestAddress = %s, want the released gateway address", got)
	}
}

func TestRequestHonoursContext(t *testing.T) {
	d := newDriver(t, testConfig(), nil, nil)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := d.RequestPool(ctx, &ipam.RequestPoolRequest{})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("RequestPool with an ended context = %v, want context.Canceled", err)
	}
	if ids := poolIDs(t, d); len(ids) != 0 {
		t.Fatalf("pools = %v, want none", ids)
	}
}

func TestNewRefusesBadBridgeSettings(t *testing.T) {
	cfg := testConfig()
	cfg.Bridge.Width = 8
	if _, err := New(cfg, NewMemStore(), nil); err == nil || !strings.Contains(err.Error(), "bridge width 8") {
		t.Fatalf("New with width 8 in a /12 = %v, want an error naming the width", err)
	}
	if _, err := New(nil, NewMemStore(), nil); err == nil {
		t.Fatal("New without a configuration succeeded")
	}
	if _, err := New(testConfig(), nil, nil); err == nil {
		t.Fatal("New without a store succeeded")
	}
}

func TestEmptyRequestsAreHandled(t *testing.T) {
	d := newDriver(t, testConfig(), nil, nil)
	ctx := context.Background()
	if resp, err := d.RequestPool(ctx, nil); err != nil || resp.Pool != "172.16.0.0/16" {
		t.Fatalf("RequestPool(nil) = %+v, %v; want the first default pool", resp, err)
	}
	if _, err := d.RequestAddress(ctx, nil); !errors.Is(err, ErrUnknownPool) {
		t.Fatalf("RequestAddress(nil) = %v, want an ErrUnknownPool error", err)
	}
	if err := d.ReleaseAddress(ctx, nil); err != nil {
		t.Fatal(err)
	}
	if err := d.ReleasePool(ctx, nil); err != nil {
		t.Fatal(err)
	}
}

// TestRequestPoolKeepsOffTheHostsSubnets: a bridge network never takes a subnet of the endpoint
// VM's own links (docker0 here) nor a special range; container networks are the port groups'
// own and are not checked against them.
func TestRequestPoolKeepsOffTheHostsSubnets(t *testing.T) {
	d := newDriver(t, testConfig(), nil, nil)
	d.SetHostSubnets(func() []hostnets.Subnet {
		return []hostnets.Subnet{
			{Prefix: netip.MustParsePrefix("172.17.0.0/16"), Link: "docker0"},
			{Prefix: netip.MustParsePrefix("203.0.113.0/26"), Link: "ens224"},
		}
	})
	var got []string
	for range 2 {
		got = append(got, requestPool(t, d, ipam.RequestPoolRequest{}).Pool)
	}
	if want := []string{"172.16.0.0/16", "172.18.0.0/16"}; !reflect.DeepEqual(got, want) {
		t.Fatalf("default pools = %v, want %v past docker0's 172.17.0.0/16", got, want)
	}
	for subnet, want := range map[string]string{
		"172.17.0.0/16":  "subnet 172.17.0.0/16 overlaps 172.17.0.0/16 of docker0, a network of the endpoint VM itself: choose another subnet",
		"203.0.113.0/24": "subnet 203.0.113.0/24 overlaps 203.0.113.0/26 of ens224, a network of the endpoint VM itself: choose another subnet",
		"127.0.0.0/16":   "subnet 127.0.0.0/16 overlaps the loopback range 127.0.0.0/8: choose another subnet",
		"224.0.0.0/16":   "subnet 224.0.0.0/16 overlaps the multicast range 224.0.0.0/4: choose another subnet",
		"169.254.0.0/24": "subnet 169.254.0.0/24 overlaps the link-local range 169.254.0.0/16: choose another subnet",
	} {
		_, err := d.RequestPool(context.Background(), &ipam.RequestPoolRequest{Pool: subnet})
		wantError(t, err, ErrConflict, want)
	}
	if ids := poolIDs(t, d); len(ids) != 2 {
		t.Fatalf("pools after refusals = %v, want only the two handed out", ids)
	}
	requestPool(t, d, ipam.RequestPoolRequest{Options: map[string]string{OptionPortGroup: "cn-static"}})
}

// In a swarm, the manager's allocation (the global space) and the node's own request for the
// same subnet (the local space) both reach the plugin of a manager that runs tasks: each
// space refuses overlaps within itself only.
func TestRequestPoolKeepsTheSwarmsSpaceApart(t *testing.T) {
	d := newDriver(t, testConfig(), nil, nil)
	swarm := requestPool(t, d, ipam.RequestPoolRequest{AddressSpace: GlobalAddressSpace})
	if swarm.Pool != "172.16.0.0/16" {
		t.Fatalf("the swarm's first pool = %s, want 172.16.0.0/16", swarm.Pool)
	}
	node := requestPool(t, d, ipam.RequestPoolRequest{AddressSpace: LocalAddressSpace, Pool: swarm.Pool})
	if node.PoolID == swarm.PoolID {
		t.Fatalf("the node's pool has the swarm's ID %s: releasing one would release the other", node.PoolID)
	}
	gw := requestAddress(t, d, swarm.PoolID, "", map[string]string{OptionRequestAddressType: RequestAddressTypeGateway})
	task := requestAddress(t, d, swarm.PoolID, "", map[string]string{"com.docker.network.ipam.serial": "true"})
	if got := requestAddress(t, d, node.PoolID, strings.TrimSuffix(task, "/16"), map[string]string{OptionMACAddress: "02:42:ac:10:00:02"}); got != task {
		t.Fatalf("the node's RequestAddress of the manager's %s = %s", task, got)
	}
	if gw == task {
		t.Fatalf("the swarm handed %s twice", task)
	}
	_, err := d.RequestPool(context.Background(), &ipam.RequestPoolRequest{AddressSpace: GlobalAddressSpace, Pool: "172.16.0.0/24"})
	if err == nil || !strings.Contains(err.Error(), "overlaps") {
		t.Fatalf("a second swarm network on 172.16.0.0/24 = %v, want an overlap refused", err)
	}
	if next := requestPool(t, d, ipam.RequestPoolRequest{AddressSpace: GlobalAddressSpace}); next.Pool != "172.17.0.0/16" {
		t.Fatalf("the swarm's second pool = %s, want 172.17.0.0/16", next.Pool)
	}
	// A pool of the engine's own (a network made before the swarm) is no subnet for the
	// swarm to pick: each node would ask for it again in its own space.
	requestPool(t, d, ipam.RequestPoolRequest{AddressSpace: LocalAddressSpace, Pool: "172.18.0.0/16"})
	if next := requestPool(t, d, ipam.RequestPoolRequest{AddressSpace: GlobalAddressSpace}); next.Pool != "172.19.0.0/16" {
		t.Fatalf("the swarm's third pool = %s, want 172.19.0.0/16 past the engine's own 172.18.0.0/16", next.Pool)
	}
}

// In a swarm, a static container network's addresses come from the manager's pool, in the
// swarm's space: every task of the swarm gets its own address of the configured ranges, and
// each node takes the one the manager chose.
func TestStaticContainerNetworkInASwarm(t *testing.T) {
	d := newDriver(t, testConfig(), nil, nil)
	cn := map[string]string{OptionPortGroup: "cn-static"}
	swarm := requestPool(t, d, ipam.RequestPoolRequest{AddressSpace: GlobalAddressSpace, Options: cn})
	if gw := requestAddress(t, d, swarm.PoolID, "", gatewayOpts); gw != "198.51.100.1/24" {
		t.Fatalf("the swarm's gateway = %s, want the configured 198.51.100.1/24", gw)
	}
	serial := map[string]string{"com.docker.network.ipam.serial": "true"}
	var got []string
	for range 3 {
		got = append(got, requestAddress(t, d, swarm.PoolID, "", serial))
	}
	if want := []string{"198.51.100.10/24", "198.51.100.11/24", "198.51.100.12/24"}; !reflect.DeepEqual(got, want) {
		t.Fatalf("the swarm's task addresses = %v, want %v", got, want)
	}
	_, err := d.RequestAddress(context.Background(), &ipam.RequestAddressRequest{PoolID: swarm.PoolID, Options: serial})
	wantError(t, err, ErrExhausted, `no free address left in container network "cn-static" (198.51.100.0/24) (198.51.100.10-198.51.100.12): remove unused containers, or widen the range`)

	// The node, in its own space: on a manager that runs tasks, beside the swarm's pool. The
	// manager added its serial option to the network's IPAM options, which the node passes on.
	cn[OptionSerial] = "true"
	node := requestPool(t, d, ipam.RequestPoolRequest{AddressSpace: LocalAddressSpace, Pool: swarm.Pool, Options: cn})
	requestAddress(t, d, node.PoolID, "198.51.100.1", gatewayOpts)
	if a := requestAddress(t, d, node.PoolID, "198.51.100.11", macOpts("02:42:c6:33:64:0b")); a != "198.51.100.11/24" {
		t.Fatalf("the node's RequestAddress of the manager's 198.51.100.11 = %s", a)
	}
	_, err = d.RequestAddress(context.Background(), &ipam.RequestAddressRequest{PoolID: node.PoolID, Address: "198.51.100.20", Options: macOpts("02:42:c6:33:64:14")})
	if err == nil {
		t.Fatalf("the node took 198.51.100.20, outside the configured range")
	}
}
