package main

import (
	"context"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/docker-vic/docker-vic/api/guestinfo"
	"github.com/docker-vic/docker-vic/api/vchdoc"
	"github.com/docker-vic/docker-vic/config"
	"github.com/docker-vic/docker-vic/vsphere"
)

// inspectOptions are the flags of `docker vic inspect`.
type inspectOptions struct {
	conn   vsphere.Options
	format string
}

func newInspectCommand(getDeps func() *deps) *cobra.Command {
	var opts inspectOptions
	cmd := &cobra.Command{
		Use:   "inspect [OPTIONS] VCH",
		Short: "Show the configuration and networks of a Virtual Container Host",
		Args:  exactlyOneVCH,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runInspect(cmd.Context(), getDeps(), args[0], &opts)
		},
	}
	flags := cmd.Flags()
	flags.StringVar(&opts.format, "format", "", "Format the output: json, create-flags or a Go template over the VCH")
	registerConnectionFlags(flags, &opts.conn)
	cmd.ValidArgsFunction = completeVCHNames(getDeps, &opts.conn, 1)
	return cmd
}

func runInspect(ctx context.Context, d *deps, name string, opts *inspectOptions) error {
	m, logout, err := d.manager(ctx, opts.conn)
	if err != nil {
		return err
	}
	defer logout()
	inv, err := m.Scan(ctx)
	if err != nil {
		return err
	}
	v, err := inv.VCH(name)
	if err != nil {
		return err
	}
	return writeInspect(d.out, opts.format, v)
}

// writeDescription is the default, human-readable view of a VCH.
func writeDescription(out io.Writer, v *vchdoc.VCH) error {
	cfg := v.Config
	w := tabwriter.NewWriter(out, 0, 8, 2, ' ', 0)
	line := func(format string, args ...any) { fmt.Fprintf(w, format+"\n", args...) }

	line("Name:\t%s", v.Name)
	line("ID:\t%s", v.ID)
	line("Path:\t%s", v.Path)
	line("Status:\t%s", status(v.PowerState))
	line("Containers:\t%d running, %d in all", v.Running, v.Containers)
	line("Revision:\t%d", cfg.Revision)
	line("Target:\t%s", cfg.Server.URL)
	if err := w.Flush(); err != nil {
		return err
	}
	if v.GuestCopyRewritten {
		fmt.Fprintf(out, "Warning: the guest's copy of the configuration (%s) differs from the VCH's: something inside the endpoint VM rewrote it; "+
			"the VCH's is shown and used, and the next `docker vic configure %s` writes the copy again\n", config.KeyConfig, v.Name)
	}

	fmt.Fprintln(out, "Placement:")
	w = tabwriter.NewWriter(out, 0, 8, 2, ' ', 0)
	p := cfg.Placement
	line("  Datacenter:\t%s", orDash(p.Datacenter))
	line("  Compute resource:\t%s", orDash(p.ComputeResource))
	line("  Image store:\t%s", orDash(p.ImageStore))
	if p.UseVApp {
		line("  vApp:\tyes")
	}
	if p.ApplianceISO != "" {
		line("  Appliance ISO:\t%s", p.ApplianceISO)
	}
	if p.CPUs != 0 {
		line("  CPUs:\t%d", p.CPUs)
	}
	if p.MemoryMB != 0 {
		line("  Memory:\t%d MB", p.MemoryMB)
	}
	if err := w.Flush(); err != nil {
		return err
	}

	if a := v.Appliance; a != nil {
		title := "Appliance:"
		if cfg.EndpointCount() > 1 {
			title = "Appliance of endpoint 1 (the others' below):"
		}
		if err := writeAppliance(out, title, a); err != nil {
			return err
		}
	}

	if cfg.EndpointCount() > 1 || len(v.Endpoints) > 1 {
		if err := writeEndpoints(out, v); err != nil {
			return err
		}
	} else if err := writeNICs(out, "Networks:", cfg, v.NICs, 1); err != nil {
		return err
	}

	w = tabwriter.NewWriter(out, 0, 8, 2, ' ', 0)
	line("Bridge:\t%s range %s, networks of /%d", cfg.Bridge.PortGroup, cfg.Bridge.Range, cfg.Bridge.Width)
	if len(cfg.DNS) > 0 {
		line("DNS servers:\t%s", strings.ReplaceAll(config.Addrs(cfg.DNS), ",", ", "))
	} else {
		line("DNS servers:\tfrom DHCP")
	}
	if cfg.NoContainerVMs {
		line("Container VMs:\toff (networks only)")
	} else {
		line("Container VMs:\ton, one VM per container")
	}
	if fp := caFingerprint(cfg.TLS.CACert); fp != "" {
		line("TLS CA:\tSHA-256 %s", fp)
	} else {
		line("TLS CA:\tnone")
	}
	if err := w.Flush(); err != nil {
		return err
	}

	if len(cfg.ContainerNetworks) == 0 {
		_, err := fmt.Fprintln(out, "Container networks: none")
		return err
	}
	fmt.Fprintln(out, "Container networks:")
	w = tabwriter.NewWriter(out, 0, 8, 2, ' ', 0)
	fmt.Fprintln(w, "  ALIAS\tPORT GROUP\tGATEWAY\tRANGES\tDNS\tFIREWALL")
	for _, n := range cfg.ContainerNetworks {
		gw, ranges := "DHCP", "DHCP"
		if !n.DHCP() {
			gw = n.Gateway.String()
			ranges = "whole subnet"
			if len(n.Ranges) > 0 {
				rs := make([]string, len(n.Ranges))
				for i, r := range n.Ranges {
					rs[i] = r.String()
				}
				ranges = strings.Join(rs, ", ")
			}
		}
		fmt.Fprintf(w, "  %s\t%s\t%s\t%s\t%s\t%s\n", n.Alias, n.PortGroup, gw, ranges, orDash(config.Addrs(n.DNS)), n.Firewall)
	}
	return w.Flush()
}

// roles writes the roles of a NIC, with the aliases of its container networks.
func roles(n vchdoc.NIC) string {
	out := make([]string, 0, len(n.Roles))
	for _, r := range n.Roles {
		if r == config.RoleContainer && len(n.Aliases) > 0 {
			out = append(out, "container ("+strings.Join(n.Aliases, ", ")+")")
			continue
		}
		out = append(out, string(r))
	}
	return strings.Join(out, ", ")
}

// nicAddress is the address of endpoint i's NIC as configured or reported, with the static
// gateway.
func nicAddress(cfg *config.Config, n vchdoc.NIC, i int) string {
	for _, r := range []config.RoleNetwork{cfg.Public, cfg.Client, cfg.Management} {
		if r.PortGroup != n.PortGroup || !r.AddressOf(i).IsValid() {
			continue
		}
		s := r.AddressOf(i).String()
		if !r.Gateway.IsZero() {
			s += " via " + r.Gateway.String()
		}
		return s
	}
	if n.Address.IsValid() {
		return n.Address.String() + " (DHCP)"
	}
	for _, r := range n.Roles {
		if r == config.RolePublic || r == config.RoleClient || r == config.RoleManagement {
			return "DHCP"
		}
	}
	return "-"
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// exactlyOneVCH is the Args check of commands that take one VCH name.
func exactlyOneVCH(cmd *cobra.Command, args []string) error {
	if len(args) != 1 {
		return fmt.Errorf("%q takes exactly one VCH name, got %d", cmd.CommandPath(), len(args))
	}
	return nil
}

// writeAppliance shows under title what an endpoint appliance last reported of itself.
func writeAppliance(out io.Writer, title string, a *guestinfo.Status) error {
	fmt.Fprintln(out, title)
	w := tabwriter.NewWriter(out, 0, 8, 2, ' ', 0)
	phase := string(a.Phase)
	if phase == "" {
		phase = "not booted yet"
	} else if a.Boot > 0 {
		phase += fmt.Sprintf(" (boot %d, reported %s)", a.Boot, a.Time.UTC().Format(time.RFC3339))
	}
	fmt.Fprintf(w, "  Phase:\t%s\n", phase)
	if a.Message != "" {
		fmt.Fprintf(w, "  Message:\t%s\n", a.Message)
	}
	for _, role := range []config.Role{config.RolePublic, config.RoleClient, config.RoleManagement} {
		if addr := a.Addresses[string(role)]; addr != "" {
			fmt.Fprintf(w, "  %s address:\t%s\n", strings.ToUpper(string(role[:1]))+string(role[1:]), addr)
		}
	}
	fmt.Fprintf(w, "  Docker:\t%s\n", orDash(a.Docker))
	fmt.Fprintf(w, "  Endpoint:\t%s\n", orDash(a.Endpoint))
	return w.Flush()
}
