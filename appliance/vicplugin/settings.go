package vicplugin

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/docker-vic/docker-vic/config"
)

// Name is the name the appliance installs the plugin as; networks name it so (-d vic:latest).
const Name = "vic:latest"

// CredentialsFile is where the plugin reads the vSphere login: the file "credentials" of the
// directory mounted as its config mount.
const CredentialsFile = "/etc/docker-vic/credentials"

// Want is the plugin the engine must run.
type Want struct {
	// Name is the plugin's name with its tag.
	Name string
	// Dir is the plugin's directory: config.json and rootfs/.
	Dir string
	// Description is config.json's description, which carries the plugin's version: an
	// installed plugin with another one is made again from Dir.
	Description string
	// Settings are the plugin's settings, as `docker plugin set` takes them: KEY=VALUE for
	// its environment, MOUNT.source=DIR for the host directory of a mount.
	Settings []string
}

// Settings returns the plugin's settings for the VCH of cfg: the vSphere target as the legacy
// vic-endpoint gets it from vic-init, swarm scope, the credentials file, the host directory
// of the drivers' state and that of the plugin's configuration (which must hold the
// credentials file only). Every setting is given, empty ones too, so that a setting that a
// configure cleared is cleared in the plugin as well.
func Settings(cfg *config.Config, stateDir, configDir string) []string {
	return []string{
		"VIC_VCH=" + cfg.Name,
		"VIC_TARGET=" + cfg.Server.URL,
		"VIC_DATACENTER=" + cfg.Placement.Datacenter,
		"VIC_THUMBPRINT=" + cfg.Server.Thumbprint,
		"VIC_INSECURE=" + strconv.FormatBool(cfg.Server.Insecure),
		"VIC_SWARM=true",
		"VIC_CREDENTIALS=" + CredentialsFile,
		"state.source=" + stateDir,
		"config.source=" + configDir,
	}
}

// ReadWant returns the plugin of directory dir under name with settings, reading its
// description from dir's config.json.
func ReadWant(name, dir string, settings []string) (Want, error) {
	b, err := os.ReadFile(filepath.Join(dir, "config.json"))
	if err != nil {
		return Want{}, fmt.Errorf("reading the vic plugin's config.json: %w", err)
	}
	var c struct{ Description string }
	if err := json.Unmarshal(b, &c); err != nil {
		return Want{}, fmt.Errorf("the vic plugin's %s is not JSON: %w", filepath.Join(dir, "config.json"), err)
	}
	if _, err := os.Stat(filepath.Join(dir, "rootfs")); err != nil {
		return Want{}, fmt.Errorf("the vic plugin has no rootfs: %w", err)
	}
	return Want{Name: name, Dir: dir, Description: c.Description, Settings: settings}, nil
}

// splitSetting splits KEY=VALUE, and says whether KEY is MOUNT.source (then key is MOUNT).
func splitSetting(s string) (key, value string, mount bool) {
	key, value, _ = strings.Cut(s, "=")
	if m, ok := strings.CutSuffix(key, ".source"); ok {
		return m, value, true
	}
	return key, value, false
}
