//go:build linux

package main

import (
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/spf13/pflag"

	"github.com/docker-vic/docker-vic/endpoint/driverapi"
	"github.com/docker-vic/docker-vic/endpoint/liveconfig"
	"github.com/docker-vic/docker-vic/endpoint/uplink"
)

// Defaults of the daemon's flags.
const (
	defaultStateDir       = "/var/lib/vic"
	defaultWatchInterval  = 2 * time.Second
	defaultConfigInterval = time.Minute
)

// options are the daemon's flags.
type options struct {
	// source says where the VCH's configuration comes from.
	source liveconfig.Options
	// uplinks maps port groups to local interfaces, overriding MAC matching.
	uplinks       map[string]string
	stateDir      string
	socket        string
	logLevel      slog.Level
	watchInterval time.Duration
	// configInterval is how often the configuration is read again from vSphere.
	configInterval time.Duration
}

// parseOptions reads the daemon's flags. Usage goes to stderr on --help.
func parseOptions(args []string, stderr io.Writer) (*options, error) {
	o := &options{}
	fs := pflag.NewFlagSet("vic-endpoint", pflag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.source.VCH, "vch", "", "VCH to serve (with --target: read its configuration and NIC MACs from vSphere)")
	fs.StringVar(&o.source.Target, "target", "", "vSphere target URL")
	fs.StringVar(&o.source.Thumbprint, "thumbprint", "", "thumbprint of the vSphere server's certificate")
	fs.BoolVar(&o.source.Insecure, "insecure", false, "do not verify the vSphere server's certificate")
	fs.StringVar(&o.source.Datacenter, "datacenter", "", "datacenter of the VCH")
	fs.StringVar(&o.source.Credentials, "credentials", "", "root-only `FILE` of KEY=VALUE lines (VIC_USER, VIC_PASSWORD or GOVC_USERNAME, GOVC_PASSWORD)")
	fs.StringVar(&o.source.File, "config", "", "instead of vSphere: a `FILE` holding the JSON of 'docker vic inspect NAME --format json'")
	overrides := fs.StringArray("uplink", nil, "map a port group to a local interface, `PG=IFACE` (repeatable), overriding MAC matching")
	fs.StringVar(&o.stateDir, "state-dir", defaultStateDir, "directory of the state database")
	fs.StringVar(&o.socket, "socket", driverapi.DefaultSocket, "plugin socket")
	level := fs.String("log-level", "info", "debug, info or warn")
	fs.DurationVar(&o.watchInterval, "watch-interval", defaultWatchInterval, "how often the iptables rules and the nftables port maps are checked and repaired")
	fs.DurationVar(&o.configInterval, "config-interval", defaultConfigInterval, "how often the VCH's configuration is read again from vSphere (docker vic configure)")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected argument %q: vic-endpoint takes flags only, or the teardown subcommand", fs.Arg(0))
	}
	var err error
	if o.uplinks, err = uplink.ParseOverrides(*overrides); err != nil {
		return nil, err
	}
	if o.logLevel, err = parseLevel(*level); err != nil {
		return nil, err
	}
	switch {
	case o.watchInterval <= 0:
		return nil, fmt.Errorf("--watch-interval %s must be positive", o.watchInterval)
	case o.configInterval <= 0:
		return nil, fmt.Errorf("--config-interval %s must be positive", o.configInterval)
	}
	if err := o.source.Validate(); err != nil {
		return nil, err
	}
	return o, nil
}

func parseLevel(s string) (slog.Level, error) {
	switch s {
	case "debug":
		return slog.LevelDebug, nil
	case "info":
		return slog.LevelInfo, nil
	case "warn":
		return slog.LevelWarn, nil
	}
	return 0, fmt.Errorf("--log-level %q must be debug, info or warn", s)
}
