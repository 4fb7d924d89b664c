package main

import (
	"context"
	"slices"
	"time"

	"github.com/spf13/cobra"

	"github.com/docker-vic/docker-vic/cli-plugin/vch"
	"github.com/docker-vic/docker-vic/vsphere"
)

// completionTimeout bounds the vSphere listing behind shell completion.
const completionTimeout = 10 * time.Second

// completeVCHNames completes VCH names from vSphere, up to max arguments (-1: any number). It
// fails silently: no names when vSphere cannot be reached without a prompt.
func completeVCHNames(getDeps func() *deps, conn *vsphere.Options, max int) cobra.CompletionFunc {
	return func(cmd *cobra.Command, args []string, _ string) ([]cobra.Completion, cobra.ShellCompDirective) {
		if max >= 0 && len(args) >= max {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		ctx := cmd.Context()
		if ctx == nil {
			ctx = context.Background()
		}
		ctx, cancel := context.WithTimeout(ctx, completionTimeout)
		defer cancel()
		names := vchNames(ctx, getDeps(), *conn)
		names = slices.DeleteFunc(names, func(n string) bool { return slices.Contains(args, n) })
		return names, cobra.ShellCompDirectiveNoFileComp
	}
}

func vchNames(ctx context.Context, d *deps, conn vsphere.Options) []string {
	s, err := d.vsphere.Connect(ctx, conn, false)
	if err != nil {
		return nil
	}
	defer func() { _ = s.Logout(context.WithoutCancel(ctx)) }()
	inv, err := (&vch.Manager{Client: s.Client, Datacenter: s.Target.Datacenter}).Scan(ctx)
	if err != nil {
		return nil
	}
	vchs := inv.VCHs()
	names := make([]string, len(vchs))
	for i, v := range vchs {
		names[i] = v.Name
	}
	return names
}
