//go:build linux

package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/docker-vic/docker-vic/endpoint/driverapi"
)

// The paths the managed plugin's config.json (scripts/plugin.sh) gives the daemon: the socket
// Docker reads under the plugin's /run/docker/plugins, and the state directory, a mount of a
// host directory so that the state outlives the plugin's rootfs (upgrades) and the engine.
const (
	pluginSocket   = "/run/docker/plugins/" + driverapi.Name + ".sock"
	pluginStateDir = "/var/lib/vic"
)

// runPlugin is the entrypoint of the managed plugin: the daemon, with the flags of the plugin's
// settings (the environment), which it logs first.
func runPlugin(ctx context.Context, args []string, stderr io.Writer) error {
	if len(args) > 0 {
		return fmt.Errorf("unexpected argument %q: the plugin mode takes its settings from the environment only", args[0])
	}
	flags, err := pluginArgs(os.Getenv)
	if err != nil {
		return err
	}
	if err := writableProcSys(); err != nil {
		return err
	}
	fmt.Fprintf(stderr, "vic-endpoint: plugin mode: vic-endpoint %s\n", strings.Join(flags, " "))
	return serve(ctx, flags, stderr)
}

// writableProcSys removes the read-only mount Docker puts over /proc/sys in a plugin, as in
// every container: the daemon sets sysctls of the links it makes (route_localnet of a bridge).
// The mount is the plugin's own (its mount namespace); CAP_SYS_ADMIN allows it. None there (a
// plugin runtime that leaves /proc/sys writable) is fine.
func writableProcSys() error {
	err := unix.Unmount("/proc/sys", unix.MNT_DETACH)
	if err != nil && err != unix.EINVAL {
		return fmt.Errorf("making /proc/sys writable for the links' sysctls: %w (the plugin needs CAP_SYS_ADMIN)", err)
	}
	if err := unix.Access("/proc/sys/net/ipv4/conf/all/forwarding", unix.W_OK); err != nil {
		return fmt.Errorf("/proc/sys stays read-only for the links' sysctls: %w", err)
	}
	return nil
}

// pluginArgs maps the settings of the managed plugin (`docker plugin set NAME KEY=VALUE`),
// read with getenv, to vic-endpoint's flags. A plugin stopping with no network left removes its
// rules and links (--teardown-when-idle), so that `docker plugin rm` leaves nothing behind.
//
//	VIC_CONFIG       a VCH document in a mounted directory, instead of vSphere (--config)
//	VIC_VCH          the VCH to serve (--vch), with VIC_TARGET (--target)
//	VIC_DATACENTER   --datacenter
//	VIC_THUMBPRINT   --thumbprint; VIC_INSECURE=true for --insecure
//	VIC_CREDENTIALS  a root-only file of the login, in a mounted directory (--credentials)
//	VIC_UPLINKS      PG=IFACE pairs separated by commas or spaces (--uplink each)
//	VIC_LOG_LEVEL    debug, info or warn (--log-level)
//	VIC_DRIVER_NAME  the name Docker knows the plugin by, default vic:latest (--driver-name)
//	VIC_SWARM        true: the engine is a swarm node, networks have swarm scope (--swarm)
//
// A wrong setting is one sentence naming it.
func pluginArgs(getenv func(string) string) ([]string, error) {
	get := func(key string) string { return strings.TrimSpace(getenv(key)) }
	args := []string{"--socket", pluginSocket, "--state-dir", pluginStateDir, "--teardown-when-idle"}
	driver := get("VIC_DRIVER_NAME")
	if driver == "" {
		driver = driverapi.Name + ":latest"
	}
	args = append(args, "--driver-name", driver)
	switch cfg, vch, target := get("VIC_CONFIG"), get("VIC_VCH"), get("VIC_TARGET"); {
	case cfg != "" && target != "":
		return nil, fmt.Errorf("plugin settings VIC_CONFIG and VIC_TARGET exclude each other: set one of them to the empty string")
	case cfg != "" && get("VIC_DATACENTER") != "":
		return nil, fmt.Errorf("plugin setting VIC_DATACENTER goes with VIC_TARGET, not VIC_CONFIG: set it to the empty string")
	case cfg != "":
		args = append(args, "--config", cfg)
		if vch != "" {
			args = append(args, "--vch", vch)
		}
	case vch == "" || target == "":
		return nil, fmt.Errorf("the plugin has no VCH to serve: docker plugin set it VIC_VCH=NAME VIC_TARGET=URL VIC_CREDENTIALS=FILE, or VIC_CONFIG=FILE")
	default:
		creds := get("VIC_CREDENTIALS")
		if creds == "" {
			return nil, fmt.Errorf("plugin setting VIC_CREDENTIALS is empty: it must name the root-only file of the vSphere login in the plugin's config mount")
		}
		args = append(args, "--vch", vch, "--target", target, "--credentials", creds)
		if dc := get("VIC_DATACENTER"); dc != "" {
			args = append(args, "--datacenter", dc)
		}
	}
	if tp := get("VIC_THUMBPRINT"); tp != "" {
		args = append(args, "--thumbprint", tp)
	}
	for _, b := range []struct{ key, flag string }{{"VIC_INSECURE", "--insecure"}, {"VIC_SWARM", "--swarm"}} {
		switch strings.ToLower(get(b.key)) {
		case "", "false", "0", "no":
		case "true", "1", "yes":
			args = append(args, b.flag)
		default:
			return nil, fmt.Errorf("plugin setting %s %q must be true or false", b.key, getenv(b.key))
		}
	}
	for _, u := range strings.FieldsFunc(get("VIC_UPLINKS"), func(r rune) bool { return r == ',' || r == ' ' }) {
		args = append(args, "--uplink", u)
	}
	if level := get("VIC_LOG_LEVEL"); level != "" {
		args = append(args, "--log-level", level)
	}
	return args, nil
}
