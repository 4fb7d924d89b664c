package vicplugin

import (
	"context"
	"encoding/json"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vishvananda/netlink"
	"gotest.tools/v3/assert"

	"github.com/docker-vic/docker-vic/api/vchdoc"
	"github.com/docker-vic/docker-vic/config"
	"github.com/docker-vic/docker-vic/endpoint/testns"
)

// TestEnsureOnAnEngine drives a real Docker engine as vic-init does: the plugin installed
// from its directory, set and enabled until its socket serves; left alone when right; set
// again when a setting changes; made again when the directory's version differs; enabled
// when disabled; left alone after the engine restarted. It runs on private engine 1 of
// scripts/nodes.sh with a plugin directory of scripts/plugin.sh (scripts/test-vicplugin.sh
// sets both up); the plugin serves a VCH document (VIC_CONFIG) whose public NIC is a link of
// the engine's namespace; empty settings are given, as vic-init gives them.
func TestEnsureOnAnEngine(t *testing.T) {
	testns.RequirePrivileged(t)
	host, nsName, dir := os.Getenv("VIC_NODE_1_HOST"), os.Getenv("VIC_NODE_1_NS"), os.Getenv("VIC_TEST_PLUGIN_DIR")
	if host == "" || dir == "" {
		t.Skip("needs private engine 1 of scripts/nodes.sh and VIC_TEST_PLUGIN_DIR: run scripts/test-vicplugin.sh")
	}
	ctx := t.Context()
	socket := strings.TrimPrefix(host, "unix://")
	eng := NewEngine(socket, filepath.Join(filepath.Dir(socket), "exec"))
	publicNIC(t, nsName, "02:00:c6:33:64:02", "198.51.100.2/24")
	conf, state := t.TempDir(), t.TempDir()
	writeVCH(t, conf, "02:00:c6:33:64:02")
	settings := []string{"VIC_CONFIG=/etc/docker-vic/vch.json", "VIC_LOG_LEVEL=info", "VIC_DATACENTER=", "VIC_THUMBPRINT=", "state.source=" + state, "config.source=" + conf}
	want, err := ReadWant(Name, dir, settings)
	assert.NilError(t, err)
	t.Cleanup(func() { eng.Remove(context.Background(), Name) })

	inst := ensure(t, eng, want, Install)
	assert.Equal(t, inst.Env["VIC_CONFIG"], "/etc/docker-vic/vch.json")
	assert.Equal(t, inst.Mounts["state"], state)
	firstID := inst.ID
	ensure(t, eng, want, Keep)

	want.Settings[1] = "VIC_LOG_LEVEL=debug"
	inst = ensure(t, eng, want, Reconfigure)
	assert.Equal(t, inst.Env["VIC_LOG_LEVEL"], "debug")
	assert.Equal(t, inst.ID, firstID)

	want.Dir = upgraded(t, dir, "docker-vic: a later build")
	want.Description = "docker-vic: a later build"
	inst = ensure(t, eng, want, Replace)
	assert.Equal(t, inst.Description, "docker-vic: a later build")
	assert.Equal(t, inst.Env["VIC_LOG_LEVEL"], "debug")

	assert.NilError(t, eng.Disable(ctx, Name))
	ensure(t, eng, want, Enable)
	assert.NilError(t, Restart(ctx, eng, Name))
	ensure(t, eng, want, Keep)

	// The engine enables the plugin by itself as it starts again: nothing to do.
	restartEngine(t)
	ensure(t, eng, want, Keep)

}

// restartEngine stops private engine 1 and starts it again (scripts/nodes.sh restart 1).
func restartEngine(t *testing.T) {
	out, err := exec.Command("bash", "../../scripts/nodes.sh", "restart", "1").CombinedOutput()
	assert.NilError(t, err, string(out))
}

// ensure runs Ensure and checks the step it took and that the plugin then serves.
func ensure(t *testing.T, eng *Engine, want Want, step Step) *Installed {
	t.Helper()
	took := Keep
	inst, err := Ensure(t.Context(), eng, want, func(s Step, why string) {
		took = s
		t.Logf("%s: %s", s, why)
	})
	assert.NilError(t, err)
	assert.Equal(t, took, step)
	assert.Assert(t, Serving(inst), "the plugin does not serve: %+v", inst)
	return inst
}

// publicNIC adds a link carrying mac and addr to namespace ns (a veth, its peer beside it),
// removed at the end.
func publicNIC(t *testing.T, ns, mac, addr string) {
	n, err := testns.Open(ns)
	assert.NilError(t, err)
	t.Cleanup(n.Close)
	hw, _ := net.ParseMAC(mac)
	assert.NilError(t, n.Link.LinkAdd(&netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: "vic-pub", HardwareAddr: hw}, PeerName: "vic-pub-peer"}))
	t.Cleanup(func() {
		if l, err := n.Link.LinkByName("vic-pub"); err == nil {
			n.Link.LinkDel(l)
		}
	})
	n.LinkUp(t, "vic-pub-peer")
	n.LinkUp(t, "vic-pub", addr)
}

// writeVCH writes the document of a VCH whose public NIC has mac to dir/vch.json.
func writeVCH(t *testing.T, dir, mac string) {
	cfg := config.New("vch-plugin")
	cfg.Public.PortGroup = "Docker-Public"
	cfg.Bridge.PortGroup = "VIC-Bridge"
	cfg.ApplyDefaults()
	v := vchdoc.VCH{ID: "vm-42", Name: cfg.Name, PowerState: "poweredOn", Config: cfg, NICs: []vchdoc.NIC{
		{PortGroup: cfg.Public.PortGroup, MAC: mac, Roles: cfg.RolesOf(cfg.Public.PortGroup)},
	}}
	b, err := json.Marshal(v)
	assert.NilError(t, err)
	assert.NilError(t, os.WriteFile(filepath.Join(dir, "vch.json"), b, 0o600))
}

// upgraded copies the plugin directory dir with another description.
func upgraded(t *testing.T, dir, description string) string {
	out := filepath.Join(t.TempDir(), "plugin")
	assert.NilError(t, exec.Command("cp", "-a", dir, out).Run())
	b, err := os.ReadFile(filepath.Join(out, "config.json"))
	assert.NilError(t, err)
	var c map[string]any
	assert.NilError(t, json.Unmarshal(b, &c))
	c["description"] = description
	b, _ = json.Marshal(c)
	assert.NilError(t, os.WriteFile(filepath.Join(out, "config.json"), b, 0o644))
	return out
}
