package main

import (
	"context"
	"fmt"
	"strconv"

	"github.com/spf13/cobra"

	"github.com/docker-vic/docker-vic/config"
	"github.com/docker-vic/docker-vic/vsphere"
)

// configureOptions are the flags of `docker vic configure`.
type configureOptions struct {
	conn     vsphere.Options
	networks networkFlags
	// containerVMs is --container-vms, when given.
	containerVMs *bool
}

func newConfigureCommand(getDeps func() *deps) *cobra.Command {
	var opts configureOptions
	cmd := &cobra.Command{
		Use:   "configure [OPTIONS] VCH",
		Short: "Add container networks or change their firewall, ranges and DNS, without recreating the VCH",
		Args:  exactlyOneVCH,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runConfigure(cmd.Context(), getDeps(), args[0], &opts)
		},
	}
	flags := cmd.Flags()
	flags.SortFlags = false
	opts.networks.register(flags)
	flags.Func(flagContainerVMs, "Keep a VM per container in vSphere: `true` or false (map the networks only; the VCH's container VMs go)", func(v string) error {
		on, err := strconv.ParseBool(v)
		if err != nil {
			return fmt.Errorf("%q is not true or false", v)
		}
		opts.containerVMs = &on
		return nil
	})
	flags.Lookup(flagContainerVMs).NoOptDefVal = "true"
	registerConnectionFlags(flags, &opts.conn)
	cmd.ValidArgsFunction = completeVCHNames(getDeps, &opts.conn, 1)
	return cmd
}

// errNothingToChange is returned when configure gets no change.
var errNothingToChange = fmt.Errorf("nothing to change: give at least one of --%s, --%s, --%s, --%s, --%s, --%s or --%s",
	flagContainerNetwork, flagContainerGateway, flagContainerIPRange, flagContainerDNS, flagContainerFirewall, flagDNSServer, flagContainerVMs)

func runConfigure(ctx context.Context, d *deps, name string, opts *configureOptions) error {
	if opts.networks.empty() && opts.containerVMs == nil {
		return errNothingToChange
	}
	// Check what needs no VCH before connecting: values that do not parse, keyed options for
	// port groups this command does not list are checked against the VCH below.
	if err := opts.networks.apply(config.New("probe")); err != nil && !isUnknownPortGroup(err) {
		return err
	}
	m, logout, err := d.manager(ctx, opts.conn)
	if err != nil {
		return err
	}
	defer logout()
	m.Progress = func(step string) { fmt.Fprintf(d.out, "  %s...\n", step) }
	v, err := m.Configure(ctx, name, func(cfg *config.Config) error {
		if err := opts.networks.apply(cfg); err != nil {
			return err
		}
		if opts.containerVMs != nil {
			cfg.NoContainerVMs = !*opts.containerVMs
		}
		cfg.ApplyDefaults()
		return cfg.Validate()
	})
	if err != nil {
		return err
	}
	fmt.Fprintf(d.out, "VCH %q configured: revision %d\n", v.Name, v.Config.Revision)
	return nil
}
