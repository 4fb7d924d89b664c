//go:build linux

// Command vic-endpoint is the daemon of a VCH's endpoint VM: it serves the vic network and IPAM
// drivers to Docker on one socket (package endpoint/daemon does the work). `vic-endpoint
// teardown` removes the rules and links it owns (uninstall, tests); `vic-endpoint plugin` is the
// entrypoint of the managed Docker plugin, taking its settings from the environment (plugin.go).
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/pflag"

	"github.com/docker-vic/docker-vic/endpoint/daemon"
	"github.com/docker-vic/docker-vic/endpoint/driverapi"
	"github.com/docker-vic/docker-vic/endpoint/uplink"
)

// version is the daemon's version, set at build time with -ldflags "-X main.version=...".
var version = "dev"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	code := run(ctx, os.Args[1:], os.Stderr)
	stop()
	os.Exit(code)
}

// run runs the daemon, or the teardown subcommand, until ctx ends and returns the exit status:
// 0, or 1 with the error as one sentence on stderr.
func run(ctx context.Context, args []string, stderr io.Writer) int {
	var err error
	switch {
	case len(args) > 0 && args[0] == "plugin":
		err = runPlugin(ctx, args[1:], stderr)
	case len(args) > 0 && args[0] == "teardown":
		fs := newFlagSet("vic-endpoint teardown", stderr)
		stateDir := fs.String("state-dir", daemon.DefaultStateDir, "state directory of the daemon to tear down")
		if err = parse(fs, args[1:], "teardown takes --state-dir only"); err == nil {
			err = daemon.Teardown(ctx, *stateDir)
		}
	default:
		err = serve(ctx, args, stderr)
	}
	switch {
	case errors.Is(err, pflag.ErrHelp):
		return 0
	case err != nil:
		fmt.Fprintf(stderr, "vic-endpoint: %v\n", err)
		return 1
	}
	return 0
}

// serve runs the daemon with the flags args until ctx ends.
func serve(ctx context.Context, args []string, stderr io.Writer) error {
	o, level, err := parseOptions(args, stderr)
	if err != nil {
		return err
	}
	return daemon.Run(ctx, o, slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level})))
}

// parseOptions reads the daemon's flags and its log level. Usage goes to stderr on --help.
func parseOptions(args []string, stderr io.Writer) (daemon.Options, slog.Level, error) {
	o := daemon.Options{Version: version}
	src := &o.Source
	fs := newFlagSet("vic-endpoint", stderr)
	fs.StringVar(&src.VCH, "vch", "", "VCH to serve (with --target: read its configuration and NIC MACs from vSphere)")
	fs.StringVar(&src.Target, "target", "", "vSphere target URL")
	fs.StringVar(&src.Thumbprint, "thumbprint", "", "thumbprint of the vSphere server's certificate")
	fs.BoolVar(&src.Insecure, "insecure", false, "do not verify the vSphere server's certificate")
	fs.StringVar(&src.Datacenter, "datacenter", "", "datacenter of the VCH")
	fs.StringVar(&src.Credentials, "credentials", "", "root-only `FILE` of KEY=VALUE lines (VIC_USER, VIC_PASSWORD or GOVC_USERNAME, GOVC_PASSWORD)")
	fs.StringVar(&src.File, "config", "", "instead of vSphere: a `FILE` holding the JSON of 'docker vic inspect NAME --format json'")
	overrides := fs.StringArray("uplink", nil, "map a port group to a local interface, `PG=IFACE` (repeatable), overriding MAC matching")
	fs.StringVar(&o.StateDir, "state-dir", daemon.DefaultStateDir, "directory of the state database")
	fs.StringVar(&o.Socket, "socket", driverapi.DefaultSocket, "plugin socket")
	fs.BoolVar(&o.TeardownWhenIdle, "teardown-when-idle", false, "on stopping with no network, pool or endpoint left, remove the rules and links as teardown does")
	fs.StringVar(&o.DriverName, "driver-name", driverapi.Name, "the `NAME` Docker knows the drivers by: vic for this socket, the plugin's name (vic:latest) as a managed plugin")
	fs.BoolVar(&o.Swarm, "swarm", false, "serve networks of swarm scope: the engine is a node of a Docker swarm whose endpoints share the VCH's port groups")
	level := fs.String("log-level", "info", "debug, info or warn")
	fs.DurationVar(&o.WatchInterval, "watch-interval", daemon.DefaultWatchInterval, "how often the iptables rules and the nftables port maps are checked and repaired")
	fs.DurationVar(&o.ConfigInterval, "config-interval", daemon.DefaultConfigInterval, "how often the VCH's configuration is read again from vSphere besides following its changes (docker vic configure), as a resync")
	err := parse(fs, args, "vic-endpoint takes flags only, or the teardown subcommand")
	if err != nil {
		return o, 0, err
	}
	if o.Uplinks, err = uplink.ParseOverrides(*overrides); err != nil {
		return o, 0, err
	}
	levels := map[string]slog.Level{"debug": slog.LevelDebug, "info": slog.LevelInfo, "warn": slog.LevelWarn}
	if _, ok := levels[*level]; !ok {
		return o, 0, fmt.Errorf("--log-level %q must be debug, info or warn", *level)
	}
	return o, levels[*level], o.Validate()
}

func newFlagSet(name string, stderr io.Writer) *pflag.FlagSet {
	fs := pflag.NewFlagSet(name, pflag.ContinueOnError)
	fs.SetOutput(stderr)
	return fs
}

// parse reads args into fs, refusing any that is not a flag.
func parse(fs *pflag.FlagSet, args []string, usage string) error {
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q: %s", fs.Arg(0), usage)
	}
	return nil
}
