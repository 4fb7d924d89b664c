package vicplugin

import (
	"os"
	"path/filepath"
	"testing"

	"gotest.tools/v3/assert"

	"github.com/docker-vic/docker-vic/config"
)

// TestSettings: vic-init asks the plugin for the VCH's vSphere target as the legacy daemon
// gets it, swarm scope, the credentials file and the two host directories; every setting is
// given, empty ones too.
func TestSettings(t *testing.T) {
	cfg := &config.Config{Name: "vch1"}
	cfg.Server.URL = "https://vc.example.com/sdk"
	cfg.Server.Thumbprint = "AB:CD"
	cfg.Placement.Datacenter = "DC0"
	assert.DeepEqual(t, Settings(cfg, "/var/lib/vic-data/vic", "/run/vic/plugin-config"), []string{
		"VIC_VCH=vch1", "VIC_TARGET=https://vc.example.com/sdk", "VIC_DATACENTER=DC0", "VIC_THUMBPRINT=AB:CD",
		"VIC_INSECURE=false", "VIC_SWARM=true", "VIC_CREDENTIALS=/etc/docker-vic/credentials",
		"state.source=/var/lib/vic-data/vic", "config.source=/run/vic/plugin-config",
	})
	cfg.Server.Thumbprint, cfg.Server.Insecure, cfg.Placement.Datacenter = "", true, ""
	assert.DeepEqual(t, Settings(cfg, "/s", "/c"), []string{
		"VIC_VCH=vch1", "VIC_TARGET=https://vc.example.com/sdk", "VIC_DATACENTER=", "VIC_THUMBPRINT=",
		"VIC_INSECURE=true", "VIC_SWARM=true", "VIC_CREDENTIALS=/etc/docker-vic/credentials",
		"state.source=/s", "config.source=/c",
	})
}

// TestReadWant: the description comes from the directory's config.json; a directory without
// one, or without rootfs, is refused.
func TestReadWant(t *testing.T) {
	dir := t.TempDir()
	_, err := ReadWant(Name, dir, nil)
	assert.ErrorContains(t, err, "reading the vic plugin's config.json: ")
	assert.NilError(t, os.WriteFile(filepath.Join(dir, "config.json"), []byte(`{"description": "docker-vic (1.2.3)"}`), 0o644))
	_, err = ReadWant(Name, dir, nil)
	assert.ErrorContains(t, err, "the vic plugin has no rootfs: ")
	assert.NilError(t, os.Mkdir(filepath.Join(dir, "rootfs"), 0o755))
	w, err := ReadWant(Name, dir, []string{"VIC_VCH=v"})
	assert.NilError(t, err)
	assert.DeepEqual(t, w, Want{Name: Name, Dir: dir, Description: "docker-vic (1.2.3)", Settings: []string{"VIC_VCH=v"}})
}

// TestDecide: an installed plugin is redone only when its version or a setting differs from
// what the boot wants, enabled when disabled, and left alone when right.
func TestDecide(t *testing.T) {
	want := Want{Name: Name, Description: "docker-vic (1.2.3)", Settings: []string{"VIC_VCH=vch1", "VIC_THUMBPRINT=", "state.source=/data/vic"}}
	right := func() *Installed {
		return &Installed{ID: "abc", Enabled: true, Description: "docker-vic (1.2.3)",
			Env:    map[string]string{"VIC_VCH": "vch1", "VIC_THUMBPRINT": "", "VIC_LOG_LEVEL": "info"},
			Mounts: map[string]string{"state": "/data/vic", "config": "/etc/docker-vic"}}
	}
	tests := []struct {
		name    string
		inst    func() *Installed
		want    Step
		wantWhy string
	}{
		{name: "none", inst: func() *Installed { return nil }, want: Install, wantWhy: "the engine has no plugin vic:latest"},
		{name: "right", inst: right, want: Keep, wantWhy: "the plugin is the one wanted, enabled"},
		{name: "disabled", inst: func() *Installed { p := right(); p.Enabled = false; return p }, want: Enable, wantWhy: "the plugin is disabled"},
		{name: "upgraded", inst: func() *Installed { p := right(); p.Description = "docker-vic (1.2.2)"; p.Enabled = false; return p },
			want: Replace, wantWhy: `the plugin installed is "docker-vic (1.2.2)", the appliance carries "docker-vic (1.2.3)"`},
		{name: "another VCH", inst: func() *Installed { p := right(); p.Env["VIC_VCH"] = "vch0"; return p },
			want: Reconfigure, wantWhy: `setting VIC_VCH is "vch0", this boot wants "vch1"`},
		{name: "a thumbprint cleared", inst: func() *Installed { p := right(); p.Env["VIC_THUMBPRINT"] = "AB"; return p },
			want: Reconfigure, wantWhy: `setting VIC_THUMBPRINT is "AB", this boot wants ""`},
		{name: "a setting unknown to the plugin", inst: func() *Installed { p := right(); delete(p.Env, "VIC_THUMBPRINT"); return p },
			want: Reconfigure, wantWhy: `setting VIC_THUMBPRINT is "", this boot wants ""`},
		{name: "another state directory", inst: func() *Installed { p := right(); p.Mounts["state"] = "/var/lib/docker-vic"; return p },
			want: Reconfigure, wantWhy: `the host directory of mount state is "/var/lib/docker-vic", this boot wants "/data/vic"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			step, why := Decide(tt.inst(), want)
			assert.Equal(t, step, tt.want)
			assert.Equal(t, why, tt.wantWhy)
		})
	}
}
