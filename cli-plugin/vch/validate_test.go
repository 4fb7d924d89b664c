package vch

import (
	"context"
	"strings"
	"testing"

	"github.com/vmware/govmomi/find"
	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25"
	"github.com/vmware/govmomi/vim25/types"

	"github.com/docker-vic/docker-vic/config"
	"github.com/docker-vic/docker-vic/vsphere/sim"
)

func TestCreateValidation(t *testing.T) {
	for _, tc := range []struct {
		name string
		// setup prepares the inventory, possibly with other VCHs.
		setup func(t *testing.T, ctx context.Context, c *vim25.Client, m *Manager)
		cfg   func() *config.Config
		flag  string
		value string
		rule  string
	}{
		{
			name: "MissingPortGroupSuggestsCloseName",
			cfg: func() *config.Config {
				cfg := newConfig("vch1")
				cfg.Public.PortGroup = "VM Netwrok"
				cfg.ApplyDefaults()
				return cfg
			},
			flag: "--public-network", value: "VM Netwrok",
			rule: `no port group of that name in datacenter "DC0"; did you mean "VM Network"?`,
		},
		{
			name: "MissingContainerNetwork",
			cfg:  func() *config.Config { return newConfig("vch1", "cn-missing") },
			flag: "--container-network", value: "cn-missing",
			rule: `no port group of that name in datacenter "DC0"`,
		},
		{
			name: "MissingDefaultBridge",
			cfg:  func() *config.Config { return newConfig("vch9") },
			flag: "--bridge-network", value: "vch9",
			rule: `no port group of that name`,
		},
		{
			name: "StandardBridgeOnVCenter",
			cfg: func() *config.Config {
				cfg := newConfig("vch1")
				cfg.Public.PortGroup = "DC0_DVPG0"
				cfg.Bridge.PortGroup = "VM Network"
				cfg.Client.PortGroup, cfg.Management.PortGroup = "", ""
				cfg.ApplyDefaults()
				return cfg
			},
			flag: "--bridge-network", value: "VM Network",
			rule: "on vCenter the bridge network must be a distributed port group or an NSX network",
		},
		{
			name: "StandardContainerNetworkOnVCenter",
			cfg: func() *config.Config {
				cfg := newConfig("vch1")
				cfg.ContainerNetworks = []config.ContainerNetwork{{PortGroup: "VM Network", Alias: "vmnet"}}
				cfg.ApplyDefaults()
				return cfg
			},
			flag: "--container-network", value: "VM Network",
			rule: "on vCenter the container network must be a distributed port group or an NSX network",
		},
		{
			name:  "BridgeIsAnotherVCHsBridge",
			setup: withVCH("old", func(cfg *config.Config) { cfg.Bridge.PortGroup = "shared" }),
			cfg: func() *config.Config {
				cfg := newConfig("vch1")
				cfg.Bridge.PortGroup = "shared"
				return cfg
			},
			flag: "--bridge-network", value: "shared",
			rule: `the port group is already the bridge network of VCH "old", and a bridge port group is dedicated to one VCH`,
		},
		{
			name: "BridgeIsAnotherVCHsContainerNetwork",
			setup: withVCH("old", func(cfg *config.Config) {
				cfg.ContainerNetworks = []config.ContainerNetwork{{PortGroup: "shared", Alias: "shared"}}
			}),
			cfg: func() *config.Config {
				cfg := newConfig("vch1")
				cfg.Bridge.PortGroup = "shared"
				return cfg
			},
			flag: "--bridge-network", value: "shared",
			rule: `the port group is already the container network of VCH "old"`,
		},
		{
			name:  "BridgeIsAnotherVCHsManagementNetwork",
			setup: withVCH("old", func(cfg *config.Config) { cfg.Management.PortGroup = "shared" }),
			cfg: func() *config.Config {
				cfg := newConfig("vch1")
				cfg.Bridge.PortGroup = "shared"
				return cfg
			},
			flag: "--bridge-network", value: "shared",
			rule: `the port group is already the management network of VCH "old"`,
		},
		{
			name:  "ContainerNetworkIsAnotherVCHsBridge",
			setup: withVCH("old", func(cfg *config.Config) { cfg.Bridge.PortGroup = "shared" }),
			cfg:   func() *config.Config { return newConfig("vch1", "shared") },
			flag:  "--container-network", value: "shared",
			rule: `the port group is the bridge network of VCH "old", and a bridge port group is dedicated to one VCH`,
		},
		{
			name:  "PublicIsAnotherVCHsBridge",
			setup: withVCH("old", func(cfg *config.Config) { cfg.Bridge.PortGroup = "shared" }),
			cfg: func() *config.Config {
				cfg := newConfig("vch1")
				cfg.Public.PortGroup = "shared"
				cfg.Client.PortGroup, cfg.Management.PortGroup = "", ""
				cfg.ApplyDefaults()
				return cfg
			},
			flag: "--public-network", value: "shared",
			rule: `the port group is the bridge network of VCH "old"`,
		},
		{
			name:  "ForgedTransmitsRejected",
			setup: withPortgroup("cn", sim.LegacySecurity(false, true)),
			cfg:   func() *config.Config { return newConfig("vch1", "cn") },
			flag:  "--container-network", value: "cn",
			rule: "the port group blocks container MACs: forged transmits is rejected; allow forged transmits and promiscuous mode, or enable MAC learning, on the port group",
		},
		{
			name:  "PromiscuousRejected",
			setup: withPortgroup("cn", sim.MACManagement(true, false)),
			cfg:   func() *config.Config { return newConfig("vch1", "cn") },
			flag:  "--container-network", value: "cn",
			rule: "the port group blocks container MACs: promiscuous mode is rejected;",
		},
		{
			name:  "BridgeOfSeveralEndpointsBlocksMACs",
			setup: withPortgroup("bpg", sim.LegacySecurity(false, true)),
			cfg: func() *config.Config {
				cfg := newConfig("vch1")
				cfg.Bridge.PortGroup = "bpg"
				cfg.Endpoints = 2
				return cfg
			},
			flag: "--bridge-network", value: "bpg",
			rule: "the port group blocks container MACs, which the bridge networks of several endpoints carry between them: forged transmits is rejected;",
		},
		{
			name:  "NoSecurityPolicy",
			setup: withPortgroup("cn", nil),
			cfg:   func() *config.Config { return newConfig("vch1", "cn") },
			flag:  "--container-network", value: "cn",
			rule: "the port group blocks container MACs: forged transmits and promiscuous mode are rejected;",
		},
		{
			name: "VMNameTaken",
			setup: func(t *testing.T, ctx context.Context, c *vim25.Client, m *Manager) {
				addPortgroup(t, ctx, c, "DC0_C0_RP0_VM0", nil)
			},
			cfg:  func() *config.Config { return newConfig("DC0_C0_RP0_VM0") },
			flag: "--name", value: "DC0_C0_RP0_VM0",
			rule: `the VM folder of datacenter "DC0" already holds a VM of that name`,
		},
		{
			name:  "VCHNameTaken",
			setup: withVCH("vch1", nil),
			cfg:   func() *config.Config { return newConfig("vch1") },
			flag:  "--name", value: "vch1",
			rule: `a VCH of that name already exists in datacenter "DC0"`,
		},
		{
			name: "PoolNameTaken",
			setup: func(t *testing.T, ctx context.Context, c *vim25.Client, m *Manager) {
				root, err := find.NewFinder(c).ResourcePool(ctx, "/DC0/host/DC0_C0/Resources")
				if err != nil {
					t.Fatal(err)
				}
				if _, err := root.Create(ctx, "vch1", types.DefaultResourceConfigSpec()); err != nil {
					t.Fatal(err)
				}
			},
			cfg:  func() *config.Config { return newConfig("vch1") },
			flag: "--name", value: "vch1",
			rule: `resource pool "/DC0/host/DC0_C0/Resources/vch1" already exists`,
		},
		{
			name: "FolderNameTaken",
			setup: func(t *testing.T, ctx context.Context, c *vim25.Client, m *Manager) {
				vmFolder, err := find.NewFinder(c).Folder(ctx, "/DC0/vm")
				if err != nil {
					t.Fatal(err)
				}
				if _, err := vmFolder.CreateFolder(ctx, "vch1"); err != nil {
					t.Fatal(err)
				}
			},
			cfg:  func() *config.Config { return newConfig("vch1") },
			flag: "--name", value: "vch1",
			rule: `the VM folder of datacenter "DC0" already holds a folder of that name`,
		},
		{
			name: "ComputeResourceMissing",
			cfg: func() *config.Config {
				cfg := newConfig("vch1")
				cfg.Placement.ComputeResource = "DC0_C9"
				return cfg
			},
			flag: "--compute-resource", value: "DC0_C9",
			rule: `no cluster, host or resource pool of that name in datacenter "DC0"; did you mean "/DC0/host/DC0_C0"?`,
		},
		{
			name: "HostInCluster",
			cfg: func() *config.Config {
				cfg := newConfig("vch1")
				cfg.Placement.ComputeResource = "/DC0/host/DC0_C0/DC0_C0_H0"
				return cfg
			},
			flag: "--compute-resource", value: "/DC0/host/DC0_C0/DC0_C0_H0",
			rule: `the host is in cluster "/DC0/host/DC0_C0": name the cluster or one of its resource pools`,
		},
		{
			name: "ImageStoreMissing",
			cfg: func() *config.Config {
				cfg := newConfig("vch1")
				cfg.Placement.ImageStore = "LocalDS_9"
				return cfg
			},
			flag: "--image-store", value: "LocalDS_9",
			rule: `no datastore of that name is reachable from "/DC0/host/DC0_C0"; did you mean "LocalDS_0"?`,
		},
		{
			name: "ApplianceISOOnUnknownDatastore",
			cfg: func() *config.Config {
				cfg := newConfig("vch1")
				cfg.Placement.ApplianceISO = "[LocalDS_1] vic/appliance.iso"
				return cfg
			},
			flag: "--appliance-iso", value: "[LocalDS_1] vic/appliance.iso",
			rule: `datastore "LocalDS_1" is not reachable from "/DC0/host/DC0_C0"; did you mean "LocalDS_0"?`,
		},
		{
			name: "ApplianceISONotADatastorePath",
			cfg: func() *config.Config {
				cfg := newConfig("vch1")
				cfg.Placement.ApplianceISO = "/tmp/appliance.iso"
				return cfg
			},
			flag: "--appliance-iso", value: "/tmp/appliance.iso",
			rule: `give a datastore path such as "[datastore1] vic/appliance.iso"`,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			vcenter(t, func(ctx context.Context, c *vim25.Client) {
				addPortgroup(t, ctx, c, "vch1", nil)
				m, _ := newManager(c)
				if tc.setup != nil {
					tc.setup(t, ctx, c, m)
				}
				before := readInventory(t, ctx, c)

				_, err := m.Create(ctx, tc.cfg())

				ce := asConfigError(t, err)
				if ce.Flag != tc.flag || ce.Value != tc.value || !strings.Contains(ce.Rule, tc.rule) {
					t.Errorf("error %q\nwant flag %s, value %q and rule %q", err, tc.flag, tc.value, tc.rule)
				}
				if after := readInventory(t, ctx, c); !after.equal(before) {
					t.Errorf("inventory changed:\nbefore %s\nafter  %s", before, after)
				}
			})
		})
	}
}

// withVCH creates VCH name, edited by edit, with port groups for its bridge and "shared".
func withVCH(name string, edit func(*config.Config)) func(t *testing.T, ctx context.Context, c *vim25.Client, m *Manager) {
	return func(t *testing.T, ctx context.Context, c *vim25.Client, m *Manager) {
		addPortgroup(t, ctx, c, "shared", sim.MACLearning())
		cfg := newConfig(name)
		if edit != nil {
			edit(cfg)
		}
		if cfg.Bridge.PortGroup == name && name != "vch1" {
			addPortgroup(t, ctx, c, name, nil)
		}
		mustCreate(t, ctx, m, cfg)
	}
}

func withPortgroup(name string, setting *types.VMwareDVSPortSetting) func(t *testing.T, ctx context.Context, c *vim25.Client, m *Manager) {
	return func(t *testing.T, ctx context.Context, c *vim25.Client, m *Manager) {
		addPortgroup(t, ctx, c, name, setting)
	}
}

func TestCreateContainerNetworksThatPass(t *testing.T) {
	for _, tc := range []struct {
		name    string
		setting *types.VMwareDVSPortSetting
	}{
		{"MACLearning", sim.MACLearning()},
		{"ForgedAndPromiscuous", sim.MACManagement(true, true)},
		{"LegacySecurityPolicy", sim.LegacySecurity(true, true)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			vcenter(t, func(ctx context.Context, c *vim25.Client) {
				addPortgroup(t, ctx, c, "vch1", nil)
				addPortgroup(t, ctx, c, "cn", tc.setting)
				m, _ := newManager(c)
				h := mustCreate(t, ctx, m, newConfig("vch1", "cn"))
				if len(h.NICs) != 3 || h.NICs[2].PortGroup != "cn" {
					t.Errorf("NICs %+v", h.NICs)
				}
			})
		})
	}
}

func TestCreateOnNSXOpaqueNetwork(t *testing.T) {
	model := vcModel()
	model.OpaqueNetwork = 1
	runModel(t, model, func(ctx context.Context, c *vim25.Client) {
		addPortgroup(t, ctx, c, "vch1", nil)
		m, _ := newManager(c)
		h := mustCreate(t, ctx, m, newConfig("vch1", "DC0_NSX0"))
		if len(h.NICs) != 3 || h.NICs[2].PortGroup != "DC0_NSX0" || h.NICs[2].Aliases[0] != "DC0_NSX0" {
			t.Errorf("NICs %+v", h.NICs)
		}
	})
}

func TestCreateDefaultComputeResourceAmbiguous(t *testing.T) {
	model := simulator.VPX() // a cluster and a standalone host
	model.Machine = 1
	runModel(t, model, func(ctx context.Context, c *vim25.Client) {
		addPortgroup(t, ctx, c, "vch1", nil)
		m, _ := newManager(c)
		_, err := m.Create(ctx, newConfig("vch1"))
		ce := asConfigError(t, err)
		if ce.Flag != "--compute-resource" || !strings.Contains(ce.Rule, `datacenter "DC0" has several clusters and hosts, name one of "/DC0/host/DC0_C0", "/DC0/host/DC0_H0"`) {
			t.Errorf("error %v", err)
		}

		cfg := newConfig("vch1")
		cfg.Placement.ComputeResource = "DC0_H0"
		h := mustCreate(t, ctx, m, cfg)
		if h.Path != "/DC0/host/DC0_H0/Resources/vch1" {
			t.Errorf("VCH path %q", h.Path)
		}
		if _, err := find.NewFinder(c).ResourcePool(ctx, h.Path); err != nil {
			t.Errorf("VCH pool: %v", err)
		}
	})
}
