package vicplugin

import (
	"fmt"
)

// Installed is what the engine reports of an installed plugin.
type Installed struct {
	ID          string
	Enabled     bool
	Description string
	// Socket is the plugin's socket file, in its directory under the engine's exec root.
	Socket string
	// Env and Mounts are its settings: the environment, and the host directory of each mount.
	Env    map[string]string
	Mounts map[string]string
}

// Step is what brings an engine's plugin to the one wanted.
type Step int

// The steps, from none to the most.
const (
	// Keep leaves the plugin alone: it is the one wanted, enabled.
	Keep Step = iota
	// Enable enables it: it is the one wanted, disabled.
	Enable
	// Reconfigure disables it (when enabled), sets it and enables it: its settings differ.
	Reconfigure
	// Replace disables it (when enabled), removes it, then installs the one wanted: its
	// version differs.
	Replace
	// Install creates the plugin from its directory, sets it and enables it: there is none.
	Install
)

func (s Step) String() string {
	return [...]string{"keep", "enable", "reconfigure", "replace", "install"}[s]
}

// Decide returns the step from inst (nil when the engine has no plugin of the name) to want,
// and why, in a few words for the log.
func Decide(inst *Installed, want Want) (Step, string) {
	switch {
	case inst == nil:
		return Install, fmt.Sprintf("the engine has no plugin %s", want.Name)
	case inst.Description != want.Description:
		return Replace, fmt.Sprintf("the plugin installed is %q, the appliance carries %q", inst.Description, want.Description)
	}
	for _, s := range want.Settings {
		key, value, mount := splitSetting(s)
		have, ok := inst.Env[key]
		what := "setting " + key
		if mount {
			have, ok = inst.Mounts[key]
			what = "the host directory of mount " + key
		}
		if !ok || have != value {
			return Reconfigure, fmt.Sprintf("%s is %q, this boot wants %q", what, have, value)
		}
	}
	if !inst.Enabled {
		return Enable, "the plugin is disabled"
	}
	return Keep, "the plugin is the one wanted, enabled"
}
