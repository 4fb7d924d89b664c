package main

import (
	"fmt"
	"io"
	"slices"
	"text/tabwriter"

	"github.com/docker-vic/docker-vic/api/guestinfo"
	"github.com/docker-vic/docker-vic/api/vchdoc"
	"github.com/docker-vic/docker-vic/config"
)

// writeEndpoints shows the endpoint VMs of a VCH of several: one line each, the rule that keeps
// them on different hosts, then the NICs of each.
func writeEndpoints(out io.Writer, v *vchdoc.VCH) error {
	cfg := v.Config
	eps := v.EndpointList()
	fmt.Fprintf(out, "Endpoints: %d of %d found\n", len(eps), cfg.EndpointCount())
	appliance := slices.ContainsFunc(eps, func(e vchdoc.Endpoint) bool { return e.Appliance != nil })
	w := tabwriter.NewWriter(out, 0, 8, 2, ' ', 0)
	header := "  #\tNAME\tID\tHOST\tSTATUS\tPUBLIC"
	if appliance {
		header += "\tAPPLIANCE"
	}
	fmt.Fprintln(w, header)
	for _, e := range eps {
		public := "-"
		if e.PublicAddress.IsValid() {
			public = e.PublicAddress.String()
		}
		fmt.Fprintf(w, "  %d\t%s\t%s\t%s\t%s\t%s", e.Number, e.Name, e.ID, orDash(e.Host), status(e.PowerState), public)
		if appliance {
			fmt.Fprintf(w, "\t%s", applianceState(e.Appliance))
		}
		fmt.Fprintln(w)
	}
	if err := w.Flush(); err != nil {
		return err
	}
	if r := v.AntiAffinity; r != nil {
		kind := "not mandatory"
		if r.Mandatory {
			kind = "mandatory"
		}
		if !r.Enabled {
			kind += ", disabled"
		}
		fmt.Fprintf(out, "Anti-affinity rule: %q in cluster %q (%s): %s\n", r.Name, r.Cluster, kind, quoteNames(r.VMs))
	} else {
		fmt.Fprintln(out, "Anti-affinity rule: none found")
	}
	for _, e := range eps {
		if err := writeNICs(out, fmt.Sprintf("Networks of endpoint %d (%s):", e.Number, e.Name), cfg, e.NICs, e.Number); err != nil {
			return err
		}
	}
	return nil
}

// applianceState is one endpoint's appliance in a few words: its phase, and its vic drivers'
// state once it reports one.
func applianceState(a *guestinfo.Status) string {
	switch {
	case a == nil:
		return "-"
	case a.Phase == "":
		return "not booted yet"
	case a.Endpoint == "":
		return string(a.Phase)
	}
	return fmt.Sprintf("%s; vic drivers %s", a.Phase, a.Endpoint)
}

// writeNICs shows the NICs of endpoint VM i under title.
func writeNICs(out io.Writer, title string, cfg *config.Config, nics []vchdoc.NIC, i int) error {
	fmt.Fprintln(out, title)
	w := tabwriter.NewWriter(out, 0, 8, 2, ' ', 0)
	fmt.Fprintln(w, "  ROLE\tPORT GROUP\tMAC\tADDRESS")
	for _, n := range nics {
		fmt.Fprintf(w, "  %s\t%s\t%s\t%s\n", roles(n), n.PortGroup, orDash(n.MAC), nicAddress(cfg, n, i))
	}
	return w.Flush()
}

func quoteNames(names []string) string {
	out := ""
	for i, n := range names {
		if i > 0 {
			out += ", "
		}
		out += fmt.Sprintf("%q", n)
	}
	return out
}
