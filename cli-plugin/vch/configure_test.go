package vch

import (
	"context"
	"errors"
	"net/netip"
	"reflect"
	"strings"
	"testing"

	"github.com/vmware/govmomi/vim25"

	"github.com/docker-vic/docker-vic/config"
	"github.com/docker-vic/docker-vic/vsphere/sim"
)

func TestConfigureAddContainerNetwork(t *testing.T) {
	vcenter(t, func(ctx context.Context, c *vim25.Client) {
		addPortgroup(t, ctx, c, "vch1", nil)
		addPortgroup(t, ctx, c, "cn1", sim.MACLearning())
		addPortgroup(t, ctx, c, "cn2", sim.LegacySecurity(true, true))
		m, progress := newManager(c)
		mustCreate(t, ctx, m, newConfig("vch1", "cn1"))

		h, err := m.Configure(ctx, "vch1", func(cfg *config.Config) error {
			cfg.ContainerNetworks = append(cfg.ContainerNetworks, config.ContainerNetwork{
				PortGroup: "cn2",
				Alias:     "backend",
				Gateway:   netip.MustParsePrefix("198.51.100.1/24"),
				Firewall:  config.FirewallOpen,
			})
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}

		vm, _ := vmByName(t, ctx, c, "vch1")
		if vm.Runtime.PowerState != "poweredOn" {
			t.Errorf("endpoint %s after configure, want it left running", vm.Runtime.PowerState)
		}
		want := []string{"VM Network", "vch1", "cn1", "cn2"}
		if got := nicNetworks(t, ctx, c, vm); !reflect.DeepEqual(got, want) {
			t.Errorf("endpoint NICs on %q, want %q", got, want)
		}
		stored, err := config.DecodeVCH("vch1", extraConfig(vm))
		if err != nil {
			t.Fatal(err)
		}
		if stored.Revision != 2 || len(stored.ContainerNetworks) != 2 || stored.ContainerNetworks[1].Alias != "backend" {
			t.Errorf("stored configuration %+v", stored)
		}
		if h.Config.Revision != 2 || len(h.NICs) != 4 || !reflect.DeepEqual(h.NICs[3].Aliases, []string{"backend"}) {
			t.Errorf("VCH after configure %+v", h)
		}
		if !strings.Contains(progress.text(), `adding NICs on "cn2" to endpoint VM "vch1" and storing revision 2`) {
			t.Errorf("progress %q", progress.text())
		}

		// Changing a firewall level and the DNS servers adds no NIC.
		h, err = m.Configure(ctx, "vch1", func(cfg *config.Config) error {
			cfg.ContainerNetwork("cn1").Firewall = config.FirewallClosed
			cfg.DNS = []netip.Addr{netip.MustParseAddr("203.0.113.53")}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if h.Config.Revision != 3 || len(h.NICs) != 4 || h.Config.ContainerNetwork("cn1").Firewall != config.FirewallClosed || h.Config.DNS[0].String() != "203.0.113.53" {
			t.Errorf("VCH after second configure: revision %d, %d NICs, config %+v", h.Config.Revision, len(h.NICs), h.Config)
		}
	})
}

func TestConfigureRefuses(t *testing.T) {
	errChange := errors.New("bad flag")
	for _, tc := range []struct {
		name   string
		change func(*config.Config) error
		want   string
	}{
		{"ChangeFails", func(*config.Config) error { return errChange }, "bad flag"},
		{"MissingPortGroup", addNetwork("cn-missing"), `invalid --container-network "cn-missing": no port group of that name in datacenter "DC0"`},
		{"MACsBlocked", addNetwork("closed"), `invalid --container-network "closed": the port group blocks container MACs: forged transmits is rejected`},
		{"AnotherVCHsBridge", addNetwork("other"), `invalid --container-network "other": the port group is the bridge network of VCH "other"`},
		{"OwnBridge", addNetwork("vch1"), `invalid --bridge-network "vch1": the bridge port group is dedicated to one VCH and cannot also be a --container-network`},
		{"InvalidRange", func(cfg *config.Config) error {
			n := cfg.ContainerNetwork("cn1")
			n.Gateway = netip.MustParsePrefix("198.51.100.1/24")
			r, _ := config.ParseIPRange("203.0.113.0/28")
			n.Ranges = []config.IPRange{r}
			return nil
		}, `invalid --container-network-ip-range "cn1:203.0.113.0-203.0.113.15": the range must lie inside the gateway's subnet`},
		{"BridgeChange", func(cfg *config.Config) error { cfg.Bridge.PortGroup = "DC0_DVPG0"; return nil }, `configure cannot change the bridge network of VCH "vch1"`},
		{"RemoveNetwork", func(cfg *config.Config) error { cfg.ContainerNetworks = nil; return nil }, `invalid --container-network "cn1": configure cannot remove a container network of VCH "vch1"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			vcenter(t, func(ctx context.Context, c *vim25.Client) {
				addPortgroup(t, ctx, c, "vch1", nil)
				addPortgroup(t, ctx, c, "cn1", sim.MACLearning())
				addPortgroup(t, ctx, c, "closed", sim.LegacySecurity(false, true))
				addPortgroup(t, ctx, c, "other", nil)
				m, _ := newManager(c)
				mustCreate(t, ctx, m, newConfig("vch1", "cn1"))
				mustCreate(t, ctx, m, newConfig("other"))
				before, _ := vmByName(t, ctx, c, "vch1")

				_, err := m.Configure(ctx, "vch1", tc.change)
				if err == nil || !strings.Contains(err.Error(), tc.want) {
					t.Fatalf("Configure = %v, want %q", err, tc.want)
				}
				after, _ := vmByName(t, ctx, c, "vch1")
				if !reflect.DeepEqual(extraConfig(before), extraConfig(after)) || len(nicNetworks(t, ctx, c, after)) != len(nicNetworks(t, ctx, c, before)) {
					t.Errorf("the endpoint VM changed")
				}
			})
		})
	}
}

func addNetwork(pg string) func(*config.Config) error {
	return func(cfg *config.Config) error {
		cfg.ContainerNetworks = append(cfg.ContainerNetworks, config.ContainerNetwork{PortGroup: pg})
		return nil
	}
}

func TestConfigureRollsBackOnFault(t *testing.T) {
	vcenter(t, func(ctx context.Context, c *vim25.Client) {
		addPortgroup(t, ctx, c, "vch1", nil)
		addPortgroup(t, ctx, c, "cn2", sim.MACLearning())
		m, _ := newManager(c)
		mustCreate(t, ctx, m, newConfig("vch1"))
		before, _ := vmByName(t, ctx, c, "vch1")
		injectFault(ctx, "ReconfigVM_Task")

		_, err := m.Configure(ctx, "vch1", addNetwork("cn2"))
		if err == nil || !strings.HasPrefix(err.Error(), `reconfiguring endpoint VM "vch1": `) {
			t.Fatalf("Configure = %v", err)
		}
		after, _ := vmByName(t, ctx, c, "vch1")
		if !reflect.DeepEqual(extraConfig(before), extraConfig(after)) || len(nicNetworks(t, ctx, c, after)) != 2 {
			t.Errorf("the endpoint VM changed")
		}
	})
}
