package vch

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vmware/govmomi/find"
	"github.com/vmware/govmomi/object"
	"github.com/vmware/govmomi/vim25"
	"github.com/vmware/govmomi/vim25/soap"
	"github.com/vmware/govmomi/vim25/types"

	"github.com/docker-vic/docker-vic/api/guestinfo"
	"github.com/docker-vic/docker-vic/config"
	"github.com/docker-vic/docker-vic/vsphere"
	"github.com/docker-vic/docker-vic/vsphere/sim"
)

// localISO writes a stand-in boot image.
func localISO(t *testing.T) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "appliance.iso")
	if err := os.WriteFile(p, []byte("CD001 stand-in\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// dsExists reports whether a file or folder of datastore LocalDS_0 exists.
func dsExists(t *testing.T, ctx context.Context, c *vim25.Client, p string) bool {
	t.Helper()
	ds, err := find.NewFinder(c).Datastore(ctx, "LocalDS_0")
	if err != nil {
		t.Fatal(err)
	}
	_, err = ds.Stat(ctx, p)
	return err == nil
}

func TestCreateApplianceUploadsAndRemoveCleans(t *testing.T) {
	vcenter(t, func(ctx context.Context, c *vim25.Client) {
		addPortgroup(t, ctx, c, "vch1", nil)
		m, progress := newManager(c)
		cfg := newConfig("vch1")
		app := &Appliance{LocalISO: localISO(t), Keys: map[string]string{guestinfo.KeyClientCA: "CA", guestinfo.KeyCSR: guestinfo.Unset, guestinfo.KeyStatus: guestinfo.Unset}}
		if _, err := m.CreateAppliance(ctx, cfg, app); err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(progress.text(), "uploading "+app.LocalISO+" (1 MB) to [LocalDS_0] vch1/appliance.iso") {
			t.Errorf("progress lacks the upload: %s", progress.text())
		}
		vm, _ := vmByName(t, ctx, c, "vch1")
		extra := extraConfig(vm)
		for _, k := range []string{guestinfo.KeyCSR, guestinfo.KeyStatus} {
			if v, ok := extra[k]; !ok || v != guestinfo.Unset {
				t.Errorf("guest key %s = %q, %v; want it created unset", k, v, ok)
			}
		}
		if extra[guestinfo.KeyClientCA] != "CA" {
			t.Errorf("client CA key = %q", extra[guestinfo.KeyClientCA])
		}
		// The guest learns which port group each card is on, by the MACs vSphere gave them.
		nics, err := guestinfo.DecodeNICs(extra[guestinfo.KeyNICs])
		if err != nil || len(nics) != 2 || nics[0].PortGroup != "VM Network" || nics[1].PortGroup != "vch1" {
			t.Errorf("NICs key = %v, %v", nics, err)
		}
		devices := object.VirtualDeviceList(vm.Config.Hardware.Device)
		for i, card := range devices.SelectByType((*types.VirtualEthernetCard)(nil)) {
			if mac := card.(types.BaseVirtualEthernetCard).GetVirtualEthernetCard().MacAddress; i < len(nics) && nics[i].MAC != mac {
				t.Errorf("NIC %d: key says MAC %s, the VM's card has %s", i, nics[i].MAC, mac)
			}
		}
		if vm.Config.Files.VmPathName != "[LocalDS_0] vch1/vch1.vmx" {
			t.Errorf("VM files in %q, want the VCH's datastore folder", vm.Config.Files.VmPathName)
		}
		ep, err := m.EndpointVM(ctx, "vch1")
		if err != nil {
			t.Fatal(err)
		}
		if err := ep.SetKeys(ctx, map[string]string{guestinfo.KeyCert: "CERT"}); err != nil {
			t.Fatal(err)
		}
		keys, power, err := ep.Keys(ctx)
		if err != nil || keys[guestinfo.KeyCert] != "CERT" || power != "poweredOn" {
			t.Errorf("Keys = %v, %s, %v", keys[guestinfo.KeyCert], power, err)
		}
		for _, f := range []string{"vch1/appliance.iso", "vch1/vch1-data.vmdk"} {
			if !dsExists(t, ctx, c, f) {
				t.Errorf("[LocalDS_0] %s missing", f)
			}
		}

		// rm takes the datastore folder, with the image and the disk.
		if err := m.Remove(ctx, "vch1", true); err != nil {
			t.Fatal(err)
		}
		if dsExists(t, ctx, c, "vch1") {
			t.Error("rm left the datastore folder")
		}
	})
}

// An appliance VCH of two endpoints: each endpoint VM has its files, serial log and data disk
// in the VCH's one datastore folder, learns its cards' port groups and its number, and rm
// takes them all.
func TestCreateApplianceOfTwoEndpoints(t *testing.T) {
	runModel(t, vcModel(), func(ctx context.Context, c *vim25.Client) {
		addPortgroup(t, ctx, c, "vch1", sim.MACLearning())
		m, _ := newManager(c)
		cfg := newConfig("vch1")
		cfg.Endpoints = 2
		app := &Appliance{LocalISO: localISO(t), Keys: map[string]string{guestinfo.KeyCSR: guestinfo.Unset, guestinfo.KeyStatus: guestinfo.Unset}}
		if _, err := m.CreateAppliance(ctx, cfg, app); err != nil {
			t.Fatal(err)
		}
		eps, err := m.EndpointVMs(ctx, "vch1")
		if err != nil || len(eps) != 2 || eps[0].Name() != "vch1" || eps[1].Name() != "vch1-2" || eps[1].Number != 2 {
			t.Fatalf("endpoint VMs %v, %v", eps, err)
		}
		for i, name := range []string{"vch1", "vch1-2"} {
			vm, _ := vmByName(t, ctx, c, name)
			extra := extraConfig(vm)
			dir := map[int]string{0: "vch1/", 1: "vch1/vch1-2/"}[i]
			if vm.Config.Files.VmPathName != "[LocalDS_0] "+dir+name+".vmx" {
				t.Errorf("%s: files in %q", name, vm.Config.Files.VmPathName)
			}
			nics, err := guestinfo.DecodeNICs(extra[guestinfo.KeyNICs])
			if err != nil || len(nics) != 2 {
				t.Fatalf("%s: NICs key %v, %v", name, nics, err)
			}
			devices := object.VirtualDeviceList(vm.Config.Hardware.Device)
			for j, card := range devices.SelectByType((*types.VirtualEthernetCard)(nil)) {
				if mac := card.(types.BaseVirtualEthernetCard).GetVirtualEthernetCard().MacAddress; nics[j].MAC != mac {
					t.Errorf("%s: NIC %d: key says MAC %s, the card has %s", name, j, nics[j].MAC, mac)
				}
			}
			if v, ok := extra[guestinfo.KeyStatus]; !ok || v != guestinfo.Unset {
				t.Errorf("%s: status key %q, %v; want it created unset", name, v, ok)
			}
			if got, want := extra[config.KeyEndpoint], map[int]string{0: "", 1: "2"}[i]; got != want {
				t.Errorf("%s: %s = %q, want %q", name, config.KeyEndpoint, got, want)
			}
			for _, f := range []string{name + "-data.vmdk"} {
				if !dsExists(t, ctx, c, dir+f) {
					t.Errorf("[LocalDS_0] %s%s missing", dir, f)
				}
			}
			serial := devices.SelectByType((*types.VirtualSerialPort)(nil))
			if len(serial) != 1 || serial[0].GetVirtualDevice().Backing.(*types.VirtualSerialPortFileBackingInfo).FileName != "[LocalDS_0] "+dir+"serial.log" {
				t.Errorf("%s: serial port %v", name, serial)
			}
		}
		if err := m.Remove(ctx, "vch1", true); err != nil {
			t.Fatal(err)
		}
		if dsExists(t, ctx, c, "vch1") {
			t.Error("rm left the datastore folder")
		}
	})
}

// Configure scales an appliance swarm as create makes it: an added endpoint VM gets its folder,
// disk, guest keys and NICs key; a removed one takes its folder with it. A VCH stays a single
// Docker host or a swarm.
func TestConfigureScalesApplianceEndpoints(t *testing.T) {
	runModel(t, threeHosts(), func(ctx context.Context, c *vim25.Client) {
		addPortgroup(t, ctx, c, "vch1", sim.MACLearning())
		m, _ := newManager(c)
		cfg := newConfig("vch1")
		cfg.Endpoints = 2
		cfg.TLS.CACert = "CA"
		if _, err := m.CreateAppliance(ctx, cfg, &Appliance{LocalISO: localISO(t), Keys: map[string]string{}}); err != nil {
			t.Fatal(err)
		}
		endpoints := func(n int) func(*config.Config) error {
			return func(cfg *config.Config) error { cfg.Endpoints = n; return nil }
		}
		if _, err := m.Configure(ctx, "vch1", endpoints(3)); err != nil {
			t.Fatal(err)
		}
		vm, _ := vmByName(t, ctx, c, "vch1-3")
		extra := extraConfig(vm)
		if vm.Config.Files.VmPathName != "[LocalDS_0] vch1/vch1-3/vch1-3.vmx" || !dsExists(t, ctx, c, "vch1/vch1-3/vch1-3-data.vmdk") {
			t.Errorf("vch1-3's files in %q", vm.Config.Files.VmPathName)
		}
		if extra[config.KeyEndpoint] != "3" || extra[guestinfo.KeyClientCA] != "CA" || extra[guestinfo.KeyStatus] != guestinfo.Unset {
			t.Errorf("vch1-3's guest keys: endpoint %q, client CA %q, status %q", extra[config.KeyEndpoint], extra[guestinfo.KeyClientCA], extra[guestinfo.KeyStatus])
		}
		if nics, err := guestinfo.DecodeNICs(extra[guestinfo.KeyNICs]); err != nil || len(nics) != 2 {
			t.Errorf("vch1-3's NICs key %v, %v", nics, err)
		}
		if _, err := m.Configure(ctx, "vch1", endpoints(2)); err != nil {
			t.Fatal(err)
		}
		if dsExists(t, ctx, c, "vch1/vch1-3") {
			t.Error("scaling down left vch1-3's datastore folder")
		}
		_, err := m.Configure(ctx, "vch1", endpoints(1))
		want := `invalid --endpoints "1": VCH "vch1" boots the appliance as a swarm of endpoints, and stays so: its vic networks are of swarm scope, which a single Docker host cannot serve; create another VCH instead`
		if err == nil || err.Error() != want {
			t.Errorf("configure --endpoints 1 = %v\nwant %s", err, want)
		}
	})
}

// rm finds a VCH whose endpoint VM 1 is gone by its other endpoint VMs, and removes all of it:
// the endpoint VMs, the rule, the pool, the VM folder and the datastore folder.
func TestRemoveWithoutEndpointOne(t *testing.T) {
	runModel(t, vcModel(), func(ctx context.Context, c *vim25.Client) {
		addPortgroup(t, ctx, c, "vch1", sim.MACLearning())
		m, _ := newManager(c)
		before := readInventory(t, ctx, c)
		cfg := newConfig("vch1")
		cfg.Endpoints = 2
		if _, err := m.CreateAppliance(ctx, cfg, &Appliance{LocalISO: localISO(t), Keys: map[string]string{}}); err != nil {
			t.Fatal(err)
		}
		vm, _ := vmByName(t, ctx, c, "vch1")
		if err := vsphere.RemoveVM(ctx, c, vm.Self, "vch1", true); err != nil {
			t.Fatal(err)
		}
		if err := m.Remove(ctx, "vch1", true); err != nil {
			t.Fatal(err)
		}
		if _, ok := vmByName(t, ctx, c, "vch1-2"); ok {
			t.Error("rm left endpoint VM vch1-2")
		}
		if _, _, _, ok := ruleOf(t, ctx, c, "vch1"); ok {
			t.Error("rm left the anti-affinity rule")
		}
		if dsExists(t, ctx, c, "vch1") {
			t.Error("rm left the datastore folder")
		}
		if after := readInventory(t, ctx, c); !after.equal(before) {
			t.Errorf("rm left:\n%s\nwas:\n%s", after, before)
		}
	})
}

func TestCreateApplianceRefusesTakenFolder(t *testing.T) {
	vcenter(t, func(ctx context.Context, c *vim25.Client) {
		addPortgroup(t, ctx, c, "vch1", nil)
		dc, err := find.NewFinder(c).DefaultDatacenter(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if err := object.NewFileManager(c).MakeDirectory(ctx, "[LocalDS_0] vch1", dc, false); err != nil {
			t.Fatal(err)
		}
		m, _ := newManager(c)
		before := readInventory(t, ctx, c)
		_, err = m.CreateAppliance(ctx, newConfig("vch1"), &Appliance{LocalISO: localISO(t)})
		if err == nil || err.Error() != `invalid --name "vch1": datastore folder [LocalDS_0] vch1 already exists` {
			t.Fatalf("error %v", err)
		}
		if after := readInventory(t, ctx, c); !after.equal(before) {
			t.Errorf("inventory changed:\nbefore %s\nafter  %s", before, after)
		}
	})
}

// TestCreateApplianceRollback: a failure after the upload removes the datastore folder too.
func TestCreateApplianceRollback(t *testing.T) {
	vcenter(t, func(ctx context.Context, c *vim25.Client) {
		addPortgroup(t, ctx, c, "vch1", nil)
		m, progress := newManager(c)
		injectFault(ctx, "PowerOnVM_Task")
		if _, err := m.CreateAppliance(ctx, newConfig("vch1"), &Appliance{LocalISO: localISO(t)}); err == nil {
			t.Fatal("create succeeded despite the power-on fault")
		}
		if dsExists(t, ctx, c, "vch1") {
			t.Error("the datastore folder was left behind")
		}
		if !strings.Contains(progress.text(), "removing datastore folder [LocalDS_0] vch1") {
			t.Errorf("progress lacks the folder's removal: %s", progress.text())
		}
	})
}

// A serial log grows for the life of the VM: ReadFile downloads its tail, not the whole file.
func TestReadFileDownloadsTheTailOnly(t *testing.T) {
	vcenter(t, func(ctx context.Context, c *vim25.Client) {
		ds, err := find.NewFinder(c).Datastore(ctx, "LocalDS_0")
		if err != nil {
			t.Fatal(err)
		}
		log := strings.Repeat("vic-init [  1.0s] dockerd: a line of the console\n", 20000) + "the last line\n"
		if err := ds.Upload(ctx, strings.NewReader(log), "vch1/serial.log", &soap.DefaultUpload); err != nil {
			t.Fatal(err)
		}
		counter := vsphere.CountRoundTrips(c)
		m, _ := newManager(c)
		tail, err := m.ReadFile(ctx, "[LocalDS_0] vch1/serial.log", 4096)
		if err != nil {
			t.Fatal(err)
		}
		if string(tail) != log[len(log)-4096:] {
			t.Fatalf("the tail is not the log's last 4096 bytes: %q", tail[len(tail)-40:])
		}
		if n := counter.Bytes(); n > 16<<10 {
			t.Fatalf("reading the last 4 KB of a %d KB log downloaded %d KB", len(log)>>10, n>>10)
		}
	})
}
