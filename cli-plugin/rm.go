package main

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"

	"github.com/docker/cli/cli"
	"github.com/spf13/cobra"

	"github.com/docker-vic/docker-vic/cli-plugin/vch"
	"github.com/docker-vic/docker-vic/vsphere"
)

// removeOptions are the flags of `docker vic rm`.
type removeOptions struct {
	conn  vsphere.Options
	force bool
}

func newRemoveCommand(getDeps func() *deps) *cobra.Command {
	var opts removeOptions
	cmd := &cobra.Command{
		Use:     "rm [OPTIONS] VCH [VCH...]",
		Aliases: []string{"remove"},
		Short:   "Remove Virtual Container Hosts with their container VMs",
		Args:    cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runRemove(cmd.Context(), getDeps(), args, &opts)
		},
	}
	flags := cmd.Flags()
	flags.BoolVarP(&opts.force, "force", "f", false, "Remove even while container VMs run; do not fail on VCHs that do not exist")
	registerConnectionFlags(flags, &opts.conn)
	cmd.ValidArgsFunction = completeVCHNames(getDeps, &opts.conn, -1)
	return cmd
}

// runRemove removes each VCH in turn, reporting failures on the error stream, and fails at the
// end when any failed.
func runRemove(ctx context.Context, d *deps, names []string, opts *removeOptions) error {
	m, logout, err := d.manager(ctx, opts.conn)
	if err != nil {
		return err
	}
	defer logout()
	failed := 0
	for _, name := range names {
		if err := removeOne(ctx, d, m, name, opts.force); err != nil {
			if opts.force && errors.Is(err, vsphere.ErrNotFound) {
				continue
			}
			fmt.Fprintln(d.err, err)
			failed++
			continue
		}
		fmt.Fprintln(d.out, name)
	}
	if failed > 0 {
		return cli.StatusError{StatusCode: 1, Status: fmt.Sprintf("%d of %d VCHs could not be removed", failed, len(names))}
	}
	return nil
}

// removeOne removes VCH name, then its Docker context when docker-vic made it and its TLS files.
func removeOne(ctx context.Context, d *deps, m *vch.Manager, name string, force bool) error {
	if err := m.Remove(ctx, name, force); err != nil {
		return err
	}
	certDir, err := removeContext(d.contexts, name)
	if err != nil {
		return fmt.Errorf("VCH %q was removed, but not its Docker context: %w", name, err)
	}
	if certDir == "" {
		if name == "." || name == ".." || filepath.Base(name) != name {
			return nil
		}
		certDir = filepath.Join(d.configDir, "vic", name)
	}
	if err := removeTLSDir(certDir); err != nil {
		return fmt.Errorf("VCH %q was removed, but not its TLS files in %s: %w", name, certDir, err)
	}
	return nil
}
