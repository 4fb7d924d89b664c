package main

import (
	"context"

	"github.com/spf13/cobra"

	"github.com/docker-vic/docker-vic/vsphere"
)

// listOptions are the flags of `docker vic ls`.
type listOptions struct {
	conn   vsphere.Options
	format string
	quiet  bool
}

func newListCommand(getDeps func() *deps) *cobra.Command {
	var opts listOptions
	cmd := &cobra.Command{
		Use:     "ls [OPTIONS]",
		Aliases: []string{"list"},
		Short:   "List Virtual Container Hosts",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runList(cmd.Context(), getDeps(), &opts)
		},
	}
	flags := cmd.Flags()
	flags.StringVar(&opts.format, "format", "", "Format the output: table, json or a Go template (`table TEMPLATE` adds a header)")
	flags.BoolVarP(&opts.quiet, "quiet", "q", false, "Only display VCH IDs")
	registerConnectionFlags(flags, &opts.conn)
	return cmd
}

func runList(ctx context.Context, d *deps, opts *listOptions) error {
	format := listFormat(opts.format, opts.quiet)
	m, logout, err := d.manager(ctx, opts.conn)
	if err != nil {
		return err
	}
	defer logout()
	inv, err := m.Scan(ctx)
	if err != nil {
		return err
	}
	return writeList(d.out, format, inv.VCHs())
}
