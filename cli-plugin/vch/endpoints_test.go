package vch

import (
	"context"
	"net/netip"
	"reflect"
	"sort"
	"strings"
	"testing"

	"github.com/vmware/govmomi/find"
	"github.com/vmware/govmomi/object"
	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25"
	"github.com/vmware/govmomi/vim25/mo"
	"github.com/vmware/govmomi/vim25/types"

	"github.com/docker-vic/docker-vic/config"
	"github.com/docker-vic/docker-vic/vsphere"
	"github.com/docker-vic/docker-vic/vsphere/sim"
)

// threeHosts is the simulated vCenter with three hosts in cluster DC0_C0.
func threeHosts() *simulator.Model {
	m := vcModel()
	m.ClusterHost = 3
	return m
}

// endpointsOf reads the endpoint VMs of VCH name as an admin would: name, host, NIC port
// groups and MACs, sorted by name.
type endpointVM struct {
	name, host string
	networks   []string
	macs       []string
	number     string
}

func endpointsOf(t *testing.T, ctx context.Context, c *vim25.Client, name string) []endpointVM {
	t.Helper()
	vms, err := find.NewFinder(c).VirtualMachineList(ctx, "/DC0/vm/"+name+"/*")
	if err != nil {
		return nil
	}
	var out []endpointVM
	for _, vm := range vms {
		got, ok := vmByName(t, ctx, c, vm.Name())
		if !ok {
			continue
		}
		extra := extraConfig(got)
		if !config.Stored(extra) {
			continue // a container VM
		}
		var o mo.VirtualMachine
		if err := vm.Properties(ctx, vm.Reference(), []string{"runtime.host"}, &o); err != nil {
			t.Fatal(err)
		}
		e := endpointVM{name: got.Name, host: o.Runtime.Host.Value, networks: nicNetworks(t, ctx, c, got), number: extra[config.HiddenKeyEndpoint]}
		for _, d := range got.Config.Hardware.Device {
			if card, ok := d.(types.BaseVirtualEthernetCard); ok {
				e.macs = append(e.macs, card.GetVirtualEthernetCard().MacAddress)
			}
		}
		out = append(out, e)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].name < out[j].name })
	return out
}

// ruleOf reads the anti-affinity rule named after VCH name in cluster DC0_C0: the names of its
// VMs, sorted, and whether it is enabled and mandatory; ok is false when there is none.
func ruleOf(t *testing.T, ctx context.Context, c *vim25.Client, name string) (vms []string, enabled, mandatory, ok bool) {
	t.Helper()
	cr, err := find.NewFinder(c).ClusterComputeResource(ctx, "/DC0/host/DC0_C0")
	if err != nil {
		t.Fatal(err)
	}
	var cc mo.ClusterComputeResource
	if err := cr.Properties(ctx, cr.Reference(), []string{"configurationEx"}, &cc); err != nil {
		t.Fatal(err)
	}
	for _, r := range cc.ConfigurationEx.(*types.ClusterConfigInfoEx).Rule {
		rule, isAnti := r.(*types.ClusterAntiAffinityRuleSpec)
		if !isAnti || rule.Name != name+"-endpoints" {
			continue
		}
		names, err := (&Manager{Client: c}).entityNames(ctx, rule.Vm)
		if err != nil {
			t.Fatal(err)
		}
		for _, n := range names {
			vms = append(vms, n)
		}
		sort.Strings(vms)
		return vms, *rule.Enabled, rule.Mandatory != nil && *rule.Mandatory, true
	}
	return nil, false, false, false
}

// checkEndpoints asserts that VCH name has endpoint VMs wantNames, each on a host of its own with
// NICs on the same port groups and MACs of its own, and a rule naming them all when there are
// several.
func checkEndpoints(t *testing.T, ctx context.Context, c *vim25.Client, name string, wantNames ...string) {
	t.Helper()
	eps := endpointsOf(t, ctx, c, name)
	var names []string
	hosts, macs := map[string]string{}, map[string]string{}
	for _, e := range eps {
		names = append(names, e.name)
		if other, dup := hosts[e.host]; dup {
			t.Errorf("endpoint VMs %q and %q share host %s", other, e.name, e.host)
		}
		hosts[e.host] = e.name
		if !reflect.DeepEqual(e.networks, eps[0].networks) {
			t.Errorf("endpoint VM %q has NICs on %q, endpoint VM %q on %q", e.name, e.networks, eps[0].name, eps[0].networks)
		}
		for _, mac := range e.macs {
			if other, dup := macs[mac]; dup {
				t.Errorf("endpoint VMs %q and %q share MAC %s", other, e.name, mac)
			}
			macs[mac] = e.name
		}
	}
	sort.Strings(wantNames)
	if !reflect.DeepEqual(names, wantNames) {
		t.Fatalf("endpoint VMs %q, want %q", names, wantNames)
	}
	vms, enabled, mandatory, ok := ruleOf(t, ctx, c, name)
	switch {
	case len(wantNames) == 1 && ok:
		t.Errorf("a VCH of one endpoint keeps rule %q naming %q", name+"-endpoints", vms)
	case len(wantNames) > 1 && !ok:
		t.Errorf("no anti-affinity rule %q", name+"-endpoints")
	case len(wantNames) > 1 && (!reflect.DeepEqual(vms, wantNames) || !enabled || mandatory):
		t.Errorf("rule %q names %q (enabled %v, mandatory %v), want %q, enabled and not mandatory", name+"-endpoints", vms, enabled, mandatory, wantNames)
	}
}

func TestCreateSeveralEndpoints(t *testing.T) {
	vcenter(t, func(ctx context.Context, c *vim25.Client) {
		addPortgroup(t, ctx, c, "vch1", sim.MACLearning())
		m, progress := newManager(c)
		cfg := newConfig("vch1")
		cfg.Endpoints = 2
		h := mustCreate(t, ctx, m, cfg)

		checkEndpoints(t, ctx, c, "vch1", "vch1", "vch1-2")
		eps := endpointsOf(t, ctx, c, "vch1")
		if eps[0].number != "" || eps[1].number != "2" {
			t.Errorf("endpoint numbers in extraConfig: %q %q", eps[0].number, eps[1].number)
		}
		if len(h.Endpoints) != 2 || h.Endpoints[1].Name != "vch1-2" || h.Endpoints[1].PowerState != "poweredOn" || h.Endpoints[0].Host == h.Endpoints[1].Host {
			t.Errorf("the VCH's endpoints: %+v", h.Endpoints)
		}
		if h.AntiAffinity == nil || h.AntiAffinity.Name != "vch1-endpoints" || !reflect.DeepEqual(h.AntiAffinity.VMs, []string{"vch1", "vch1-2"}) || h.AntiAffinity.Cluster != "DC0_C0" {
			t.Errorf("the VCH's rule: %+v", h.AntiAffinity)
		}
		if !strings.Contains(progress.text(), `keeping the 2 endpoint VMs of VCH "vch1" on different hosts: anti-affinity rule "vch1-endpoints"`) {
			t.Errorf("progress %q", progress.text())
		}
		vchs, err := listVCHs(ctx, m)
		if err != nil || len(vchs) != 1 {
			t.Fatalf("ls lists %d VCHs (%v), want 1", len(vchs), err)
		}

		if err := m.Remove(ctx, "vch1", false); err != nil {
			t.Fatal(err)
		}
		if _, ok := vmByName(t, ctx, c, "vch1-2"); ok {
			t.Error("rm left endpoint VM vch1-2")
		}
		if vms, _, _, ok := ruleOf(t, ctx, c, "vch1"); ok {
			t.Errorf("rm left rule vch1-endpoints naming %q", vms)
		}
		if got := readInventory(t, ctx, c); strings.Contains(got.String(), "vch1") {
			t.Errorf("rm left %s", got)
		}
	})
}

func TestCreateRefusesEndpoints(t *testing.T) {
	for _, tc := range []struct {
		name    string
		model   func() *simulator.Model
		compute string
		n       int
		app     bool
		want    string
	}{
		{"MoreThanHosts", vcModel, "", 3, false, `invalid --endpoints "3": cluster "/DC0/host/DC0_C0" has 2 usable hosts (connected, not in maintenance mode, on every port group of the VCH), and each endpoint of a VCH runs on a host of its own`},
		{"StandaloneHost", simulator.VPX, "DC0_H0", 2, false, `invalid --endpoints "2": "/DC0/host/DC0_H0" is a standalone host, and the endpoints of a VCH run on different hosts of a cluster`},
		{"ApplianceOnStandaloneHost", simulator.VPX, "DC0_H0", 2, true, `invalid --endpoints "2": "/DC0/host/DC0_H0" is a standalone host, and the endpoints of a VCH run on different hosts of a cluster`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			runModel(t, tc.model(), func(ctx context.Context, c *vim25.Client) {
				addPortgroup(t, ctx, c, "vch1", sim.MACLearning())
				before := readInventory(t, ctx, c)
				m, _ := newManager(c)
				cfg := newConfig("vch1")
				cfg.Endpoints = tc.n
				cfg.Placement.ComputeResource = tc.compute
				var app *Appliance
				if tc.app {
					cfg.Placement.ApplianceISO = "[LocalDS_0] vic/appliance.iso"
					app = &Appliance{}
				}
				_, err := m.CreateAppliance(ctx, cfg, app)
				if err == nil || err.Error() != tc.want {
					t.Fatalf("create = %v\nwant %s", err, tc.want)
				}
				asConfigError(t, err)
				if after := readInventory(t, ctx, c); !after.equal(before) {
					t.Errorf("create changed the inventory:\n%s\n%s", before, after)
				}
			})
		})
	}
}

// Each endpoint runs on a host that has every port group of the VCH: a distributed switch of
// one host of two leaves one usable host for two endpoints on its port group.
func TestCreateEndpointsNeedHostsOnThePortGroups(t *testing.T) {
	runModel(t, vcModel(), func(ctx context.Context, c *vim25.Client) {
		addPortgroup(t, ctx, c, "vch1", sim.MACLearning())
		f := find.NewFinder(c)
		h, err := f.HostSystem(ctx, "/DC0/host/DC0_C0/DC0_C0_H0")
		if err != nil {
			t.Fatal(err)
		}
		nets, err := f.Folder(ctx, "/DC0/network")
		if err != nil {
			t.Fatal(err)
		}
		task, err := nets.CreateDVS(ctx, types.DVSCreateSpec{ConfigSpec: &types.VMwareDVSConfigSpec{DVSConfigSpec: types.DVSConfigSpec{Name: "DVS-one"}}})
		if err != nil {
			t.Fatal(err)
		}
		info, err := task.WaitForResult(ctx)
		if err != nil {
			t.Fatal(err)
		}
		dvs := object.NewDistributedVirtualSwitch(c, info.Result.(types.ManagedObjectReference))
		task, err = dvs.Reconfigure(ctx, &types.DVSConfigSpec{ConfigVersion: "0",
			Host: []types.DistributedVirtualSwitchHostMemberConfigSpec{{Operation: string(types.ConfigSpecOperationAdd), Host: h.Reference()}}})
		if err != nil {
			t.Fatal(err)
		}
		if err := task.Wait(ctx); err != nil {
			t.Fatal(err)
		}
		task, err = dvs.AddPortgroup(ctx, []types.DVPortgroupConfigSpec{{Name: "one-host", Type: string(types.DistributedVirtualPortgroupPortgroupTypeEarlyBinding), NumPorts: 8}})
		if err != nil {
			t.Fatal(err)
		}
		if err := task.Wait(ctx); err != nil {
			t.Fatal(err)
		}
		m, _ := newManager(c)
		cfg := newConfig("vch1")
		cfg.Endpoints = 2
		cfg.Public.PortGroup = "one-host"
		_, err = m.Create(ctx, cfg)
		want := `invalid --endpoints "2": cluster "/DC0/host/DC0_C0" has 1 usable hosts (connected, not in maintenance mode, on every port group of the VCH), and each endpoint of a VCH runs on a host of its own`
		if err == nil || err.Error() != want {
			t.Fatalf("create = %v\nwant %s", err, want)
		}
		cfg.Public.PortGroup = "VM Network"
		mustCreate(t, ctx, m, cfg)
	})
}

func TestConfigureScalesEndpoints(t *testing.T) {
	runModel(t, threeHosts(), func(ctx context.Context, c *vim25.Client) {
		addPortgroup(t, ctx, c, "vch1", sim.MACLearning())
		addPortgroup(t, ctx, c, "cn1", sim.MACLearning())
		m, _ := newManager(c)
		mustCreate(t, ctx, m, newConfig("vch1"))
		endpoints := func(n int) func(*config.Config) error {
			return func(cfg *config.Config) error { cfg.Endpoints = n; return nil }
		}

		// Up to three, adding a container network on the way: every endpoint VM gets its NIC.
		h, err := m.Configure(ctx, "vch1", func(cfg *config.Config) error {
			cfg.Endpoints = 3
			return addNetwork("cn1")(cfg)
		})
		if err != nil {
			t.Fatal(err)
		}
		checkEndpoints(t, ctx, c, "vch1", "vch1", "vch1-2", "vch1-3")
		if eps := endpointsOf(t, ctx, c, "vch1"); !reflect.DeepEqual(eps[2].networks, []string{"VM Network", "vch1", "cn1"}) {
			t.Errorf("endpoint VM vch1-3 has NICs on %q", eps[2].networks)
		}
		if h.Config.Endpoints != 3 || len(h.Endpoints) != 3 || h.Config.Revision != 2 {
			t.Errorf("after scaling up: %d endpoints stored, %d found, revision %d", h.Config.Endpoints, len(h.Endpoints), h.Config.Revision)
		}
		for _, name := range []string{"vch1-2", "vch1-3"} {
			vm, _ := vmByName(t, ctx, c, name)
			if stored, err := config.Decode(extraConfig(vm)); err != nil || stored.Revision != 2 || vm.Runtime.PowerState != "poweredOn" {
				t.Errorf("endpoint VM %q: revision %v (%v), %s", name, stored, err, vm.Runtime.PowerState)
			}
		}

		// Down to two: the highest-numbered goes, the rule follows.
		if _, err := m.Configure(ctx, "vch1", endpoints(2)); err != nil {
			t.Fatal(err)
		}
		checkEndpoints(t, ctx, c, "vch1", "vch1", "vch1-2")

		// Down to one: no rule is left.
		h, err = m.Configure(ctx, "vch1", endpoints(1))
		if err != nil {
			t.Fatal(err)
		}
		checkEndpoints(t, ctx, c, "vch1", "vch1")
		if len(h.Endpoints) != 1 || h.AntiAffinity != nil {
			t.Errorf("after scaling down to one: %+v, rule %+v", h.Endpoints, h.AntiAffinity)
		}

		// More than the cluster's hosts is refused, with nothing changed.
		before := readInventory(t, ctx, c)
		_, err = m.Configure(ctx, "vch1", endpoints(4))
		if err == nil || !strings.Contains(err.Error(), `invalid --endpoints "4": cluster "/DC0/host/DC0_C0" has 3 usable hosts`) {
			t.Fatalf("configure --endpoints 4 = %v", err)
		}
		if after := readInventory(t, ctx, c); !after.equal(before) {
			t.Errorf("a refused configure changed the inventory:\n%s\n%s", before, after)
		}
	})
}

// A failure while scaling up undoes everything: the new endpoint VMs go, the rule and the
// stored revision are as before.
func TestConfigureScaleRollsBack(t *testing.T) {
	runModel(t, threeHosts(), func(ctx context.Context, c *vim25.Client) {
		addPortgroup(t, ctx, c, "vch1", sim.MACLearning())
		addPortgroup(t, ctx, c, "cn1", sim.MACLearning())
		m, progress := newManager(c)
		cfg := newConfig("vch1")
		cfg.Endpoints = 2
		mustCreate(t, ctx, m, cfg)
		before := readInventory(t, ctx, c)
		vm1, _ := vmByName(t, ctx, c, "vch1")
		vm2, _ := vmByName(t, ctx, c, "vch1-2")
		injectFault(ctx, "PowerOnVM_Task")

		_, err := m.Configure(ctx, "vch1", func(cfg *config.Config) error {
			cfg.Endpoints = 3
			return addNetwork("cn1")(cfg)
		})
		if err == nil || !strings.HasPrefix(err.Error(), `powering on endpoint VM "vch1-3": `) {
			t.Fatalf("configure = %v", err)
		}
		if after := readInventory(t, ctx, c); !after.equal(before) {
			t.Errorf("a failed configure changed the inventory:\n%s\n%s", before, after)
		}
		checkEndpoints(t, ctx, c, "vch1", "vch1", "vch1-2")
		for _, was := range []mo.VirtualMachine{vm1, vm2} {
			now, _ := vmByName(t, ctx, c, was.Name)
			if !reflect.DeepEqual(extraConfig(was), extraConfig(now)) || len(nicNetworks(t, ctx, c, now)) != 2 {
				t.Errorf("endpoint VM %q changed: NICs on %q", was.Name, nicNetworks(t, ctx, c, now))
			}
		}
		if !strings.Contains(progress.text(), `putting back revision 1 in endpoint VM "vch1"`) {
			t.Errorf("progress %q", progress.text())
		}
	})
}

// Static addresses: each endpoint has its own, the ones of endpoints that stay cannot change,
// and scaling down drops the addresses of the endpoints that go.
func TestConfigureScalesStaticEndpoints(t *testing.T) {
	runModel(t, threeHosts(), func(ctx context.Context, c *vim25.Client) {
		addPortgroup(t, ctx, c, "vch1", sim.MACLearning())
		m, _ := newManager(c)
		cfg := newConfig("vch1")
		cfg.Endpoints = 2
		cfg.Public.SetAddresses([]netip.Prefix{netip.MustParsePrefix("198.51.100.20/24"), netip.MustParsePrefix("198.51.100.21/24")})
		cfg.Public.Gateway = config.Gateway{IP: netip.MustParseAddr("198.51.100.1")}
		h := mustCreate(t, ctx, m, cfg)
		if h.Endpoints[1].PublicAddress.String() != "198.51.100.21" {
			t.Errorf("endpoint 2's public address %v", h.Endpoints[1].PublicAddress)
		}

		_, err := m.Configure(ctx, "vch1", func(cfg *config.Config) error { cfg.Endpoints = 3; return nil })
		if err == nil || !strings.Contains(err.Error(), `invalid --public-network-ip "198.51.100.20/24,198.51.100.21/24": a VCH of 3 endpoints needs 3 static public addresses`) {
			t.Fatalf("scaling up without the new address = %v", err)
		}
		_, err = m.Configure(ctx, "vch1", func(cfg *config.Config) error {
			cfg.Endpoints = 3
			cfg.Public.MoreIPs = []netip.Prefix{netip.MustParsePrefix("198.51.100.30/24"), netip.MustParsePrefix("198.51.100.31/24")}
			return nil
		})
		if err == nil || !strings.Contains(err.Error(), `invalid --public-network-ip "198.51.100.30/24": configure cannot change the public address 198.51.100.21/24 of endpoint 2 of VCH "vch1"`) {
			t.Fatalf("changing endpoint 2's address = %v", err)
		}
		h, err = m.Configure(ctx, "vch1", func(cfg *config.Config) error {
			cfg.Endpoints = 3
			cfg.Public.MoreIPs = append(cfg.Public.MoreIPs, netip.MustParsePrefix("198.51.100.22/24"))
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if len(h.Endpoints) != 3 || h.Endpoints[2].PublicAddress.String() != "198.51.100.22" || h.Endpoints[2].NICs[0].Address.String() != "198.51.100.22" {
			t.Errorf("endpoint 3: %+v", h.Endpoints)
		}
		checkEndpoints(t, ctx, c, "vch1", "vch1", "vch1-2", "vch1-3")
	})
}

func TestRemoveFindsEveryEndpoint(t *testing.T) {
	vcenter(t, func(ctx context.Context, c *vim25.Client) {
		addPortgroup(t, ctx, c, "vch1", sim.MACLearning())
		m, _ := newManager(c)
		cfg := newConfig("vch1")
		cfg.Endpoints = 2
		mustCreate(t, ctx, m, cfg)
		addContainerVM(t, ctx, c, "vch1", "c1", false)
		if err := m.Remove(ctx, "vch1", false); err != nil {
			t.Fatal(err)
		}
		if got := readInventory(t, ctx, c); strings.Contains(got.String(), "vch1") || strings.Contains(got.String(), "c1") {
			t.Errorf("rm left %s", got)
		}
		if _, _, _, ok := ruleOf(t, ctx, c, "vch1"); ok {
			t.Error("rm left the rule")
		}
		// A second rm finds nothing, as for a VCH of one endpoint.
		if err := m.Remove(ctx, "vch1", false); !vsphere.IsNotFound(err) && !strings.Contains(err.Error(), "no VCH named") {
			t.Errorf("second rm = %v", err)
		}
	})
}

// A failure on the first endpoint VM, after the second took the new revision and its NIC,
// puts the second back: configure writes endpoint VM 1, the VCH's record, last.
func TestConfigureRestoresTheOtherEndpoints(t *testing.T) {
	vcenter(t, func(ctx context.Context, c *vim25.Client) {
		addPortgroup(t, ctx, c, "vch1", sim.MACLearning())
		addPortgroup(t, ctx, c, "cn1", sim.MACLearning())
		m, progress := newManager(c)
		cfg := newConfig("vch1")
		cfg.Endpoints = 2
		mustCreate(t, ctx, m, cfg)
		vm1, _ := vmByName(t, ctx, c, "vch1")
		vm2, _ := vmByName(t, ctx, c, "vch1-2")
		simulator.ServiceFromContext(ctx).AddFaultRule(&simulator.FaultInjectionRule{
			MethodName: "ReconfigVM_Task", ObjectType: "VirtualMachine", ObjectName: "vch1",
			Probability: 1.0, FaultType: simulator.FaultTypeInvalidState, Message: "injected", Enabled: true,
		})

		_, err := m.Configure(ctx, "vch1", addNetwork("cn1"))
		if err == nil || !strings.HasPrefix(err.Error(), `reconfiguring endpoint VM "vch1": `) {
			t.Fatalf("configure = %v", err)
		}
		if !strings.Contains(progress.text(), `adding NICs on "cn1" to endpoint VM "vch1-2" and storing revision 2`) ||
			!strings.Contains(progress.text(), `putting back revision 1 in endpoint VM "vch1-2"`) {
			t.Errorf("progress %q", progress.text())
		}
		for _, was := range []mo.VirtualMachine{vm1, vm2} {
			now, _ := vmByName(t, ctx, c, was.Name)
			if !reflect.DeepEqual(extraConfig(was), extraConfig(now)) || !reflect.DeepEqual(nicNetworks(t, ctx, c, now), []string{"VM Network", "vch1"}) {
				t.Errorf("endpoint VM %q changed: NICs on %q", was.Name, nicNetworks(t, ctx, c, now))
			}
		}
	})
}
