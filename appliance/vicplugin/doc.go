// Package vicplugin keeps the vic drivers' managed plugin in the appliance's Docker engine as
// the boot wants it, for the endpoints of a VCH of several endpoints (a swarm accepts managed
// plugins only).
//
// The appliance carries the plugin's directory (config.json and rootfs/, built by
// scripts/plugin.sh) on its CD. Want says what the engine must run: the plugin made from that
// directory, under its name, with the settings of the VCH (Settings). Decide compares that with
// what the engine reports (Installed) and says which Step brings it there; Ensure runs the step
// through the engine's API (Engine: the few plugin calls, over the engine's unix socket). A
// plugin already right is left alone: the engine enables it by itself at each start.
package vicplugin
