package vch

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"sync/atomic"
	"testing"

	"github.com/vmware/govmomi/object"
	"github.com/vmware/govmomi/vim25"
	"github.com/vmware/govmomi/vim25/soap"
	"github.com/vmware/govmomi/vim25/types"

	"github.com/docker-vic/docker-vic/api/vchdoc"
	"github.com/docker-vic/docker-vic/config"
	"github.com/docker-vic/docker-vic/vsphere"
	"github.com/docker-vic/docker-vic/vsphere/sim"
)

// countingRoundTripper counts the SOAP calls a client makes.
type countingRoundTripper struct {
	soap.RoundTripper
	calls atomic.Int64
}

func (c *countingRoundTripper) RoundTrip(ctx context.Context, req, res soap.HasFault) error {
	c.calls.Add(1)
	return c.RoundTripper.RoundTrip(ctx, req, res)
}

// callsOf counts the SOAP calls f makes through c.
func callsOf(t *testing.T, c *vim25.Client, f func() error) int64 {
	t.Helper()
	counter := &countingRoundTripper{RoundTripper: c.RoundTripper}
	c.RoundTripper = counter
	defer func() { c.RoundTripper = counter.RoundTripper }()
	if err := f(); err != nil {
		t.Fatal(err)
	}
	return counter.calls.Load()
}

func TestListRoundTripsDoNotGrowWithVCHs(t *testing.T) {
	vcenter(t, func(ctx context.Context, c *vim25.Client) {
		addPortgroup(t, ctx, c, "cn", sim.MACLearning())
		m, _ := newManager(c)
		create := func(name string) {
			addPortgroup(t, ctx, c, name, nil)
			mustCreate(t, ctx, m, newConfig(name, "cn"))
			addContainerVM(t, ctx, c, name, name+"-c1", true)
		}
		list := func() (n int64, vchs []*vchdoc.VCH) {
			n = callsOf(t, c, func() (err error) {
				vchs, err = listVCHs(ctx, m)
				return err
			})
			return n, vchs
		}

		create("vch1")
		one, vchs := list()
		if len(vchs) != 1 {
			t.Fatalf("List = %d VCHs, want 1", len(vchs))
		}
		for i := 2; i <= 5; i++ {
			create(fmt.Sprintf("vch%d", i))
		}
		five, vchs := list()
		if len(vchs) != 5 {
			t.Fatalf("List = %d VCHs, want 5", len(vchs))
		}
		t.Logf("List made %d SOAP calls for 1 VCH and %d for 5", one, five)
		if five != one {
			t.Errorf("List made %d calls for 1 VCH and %d for 5: it must not grow with the VCHs", one, five)
		}
		for i, h := range vchs {
			if h.Name != fmt.Sprintf("vch%d", i+1) || h.Containers != 1 || h.Running != 1 || len(h.NICs) != 3 {
				t.Errorf("VCH %d = %s with %d containers (%d running) and %d NICs", i, h.Name, h.Containers, h.Running, len(h.NICs))
			}
		}
		get := callsOf(t, c, func() error { _, err := getVCH(ctx, m, "vch3"); return err })
		if get != one {
			t.Errorf("Get made %d calls, List %d", get, one)
		}
	})
}

func TestListAddressesAndContainers(t *testing.T) {
	vcenter(t, func(ctx context.Context, c *vim25.Client) {
		addPortgroup(t, ctx, c, "dhcp", nil)
		addPortgroup(t, ctx, c, "static", nil)
		m, _ := newManager(c)
		mustCreate(t, ctx, m, newConfig("dhcp"))
		static := newConfig("static")
		static.Public.IP = netip.MustParsePrefix("203.0.113.5/24")
		static.Public.Gateway = config.Gateway{IP: netip.MustParseAddr("203.0.113.1")}
		mustCreate(t, ctx, m, static)
		addContainerVM(t, ctx, c, "dhcp", "web-0123456789ab", true)
		addContainerVM(t, ctx, c, "dhcp", "db-0123456789ab", false)

		// Before the guest reports an address, a DHCP VCH has none.
		h, err := getVCH(ctx, m, "dhcp")
		if err != nil {
			t.Fatal(err)
		}
		if h.PublicAddress.IsValid() {
			t.Errorf("public address %s before the guest reports one", h.PublicAddress)
		}
		// The guest reports an address on its first NIC, the public one.
		vm := object.NewVirtualMachine(c, types.ManagedObjectReference{Type: "VirtualMachine", Value: h.ID})
		task, err := vm.Reconfigure(ctx, types.VirtualMachineConfigSpec{ExtraConfig: []types.BaseOptionValue{
			&types.OptionValue{Key: "SET.guest.ipAddress", Value: "198.51.100.10"},
		}})
		if err == nil {
			err = task.Wait(ctx)
		}
		if err != nil {
			t.Fatal(err)
		}

		all, err := listVCHs(ctx, m)
		if err != nil {
			t.Fatal(err)
		}
		if len(all) != 2 || all[0].Name != "dhcp" || all[1].Name != "static" {
			t.Fatalf("List = %+v", all)
		}
		dhcp, st := all[0], all[1]
		want := netip.MustParseAddr("198.51.100.10")
		if dhcp.PublicAddress != want || dhcp.NICs[0].Address != want {
			t.Errorf("DHCP VCH public address %s, NIC %+v, want %s", dhcp.PublicAddress, dhcp.NICs[0], want)
		}
		if st.PublicAddress != netip.MustParseAddr("203.0.113.5") || st.NICs[0].Address != st.PublicAddress {
			t.Errorf("static VCH public address %s, NIC %+v", st.PublicAddress, st.NICs[0])
		}
		if dhcp.Containers != 2 || dhcp.Running != 1 || st.Containers != 0 {
			t.Errorf("containers: dhcp %d (%d running), static %d", dhcp.Containers, dhcp.Running, st.Containers)
		}

		cvms, err := containerVMs(ctx, m, "dhcp")
		if err != nil {
			t.Fatal(err)
		}
		if len(cvms) != 2 || cvms[0].Name != "db-0123456789ab" || cvms[0].PowerState != "poweredOff" ||
			cvms[1].Name != "web-0123456789ab" || cvms[1].PowerState != "poweredOn" || cvms[1].ContainerID != "c0ffeeweb-0123456789ab" {
			t.Errorf("Containers = %+v", cvms)
		}
	})
}

func TestGetNotFound(t *testing.T) {
	vcenter(t, func(ctx context.Context, c *vim25.Client) {
		m, _ := newManager(c)
		_, err := getVCH(ctx, m, "x")
		if !errors.Is(err, vsphere.ErrNotFound) || err.Error() != `no VCH named "x" in datacenter "DC0"` {
			t.Errorf("Get = %v", err)
		}
		if _, err := containerVMs(ctx, m, "x"); !errors.Is(err, vsphere.ErrNotFound) {
			t.Errorf("Containers = %v", err)
		}
		if err := m.Remove(ctx, "x", true); !errors.Is(err, vsphere.ErrNotFound) {
			t.Errorf("Remove = %v", err)
		}
	})
}

// TestListIgnoresLookalikes checks that a VM is a VCH only when its configuration names it.
func TestListIgnoresLookalikes(t *testing.T) {
	vcenter(t, func(ctx context.Context, c *vim25.Client) {
		addPortgroup(t, ctx, c, "vch1", nil)
		m, _ := newManager(c)
		h := mustCreate(t, ctx, m, newConfig("vch1"))
		enc, err := h.Config.Encode()
		if err != nil {
			t.Fatal(err)
		}
		// A copy of the endpoint's extraConfig on another VM does not make it a VCH.
		vms, err := listVCHs(ctx, m)
		if err != nil {
			t.Fatal(err)
		}
		other := firstOtherVM(t, ctx, c, "vch1")
		task, err := other.Reconfigure(ctx, types.VirtualMachineConfigSpec{ExtraConfig: vsphere.OptionValues(enc)})
		if err == nil {
			err = task.Wait(ctx)
		}
		if err != nil {
			t.Fatal(err)
		}
		after, err := listVCHs(ctx, m)
		if err != nil {
			t.Fatal(err)
		}
		if len(vms) != 1 || len(after) != 1 || after[0].Name != "vch1" {
			t.Errorf("List before %d VCHs, after %+v", len(vms), after)
		}
	})
}

// firstOtherVM returns a VM of the simulator's inventory not called name.
func firstOtherVM(t *testing.T, ctx context.Context, c *vim25.Client, name string) *object.VirtualMachine {
	t.Helper()
	v, ok := vmByName(t, ctx, c, "DC0_C0_RP0_VM0")
	if !ok || v.Name == name {
		t.Fatal("no other VM")
	}
	return object.NewVirtualMachine(c, v.Self)
}

func TestDatacenterNotFound(t *testing.T) {
	vcenter(t, func(ctx context.Context, c *vim25.Client) {
		m := &Manager{Client: c, Datacenter: "DC9"}
		_, err := listVCHs(ctx, m)
		ce := asConfigError(t, err)
		if want := `invalid --datacenter "DC9": no datacenter of that name; did you mean "DC0"?`; ce.Error() != want {
			t.Errorf("error %q, want %q", ce, want)
		}
		m.Datacenter = "/DC0"
		if _, err := listVCHs(ctx, m); err != nil {
			t.Errorf("List in datacenter path /DC0: %v", err)
		}
	})
}
