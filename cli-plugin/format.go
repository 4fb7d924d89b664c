package main

import (
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"text/template"

	"github.com/docker/cli/templates"

	"github.com/docker-vic/docker-vic/api/vchdoc"
	"github.com/docker-vic/docker-vic/config"
)

// Formats of ls and inspect besides Go templates.
const (
	formatTable       = "table"
	formatJSON        = "json"
	formatCreateFlags = "create-flags"

	defaultListFormat = "table {{.ID}}\t{{.Name}}\t{{.Path}}\t{{.Public}}\t{{.Endpoints}}\t{{.Containers}}\t{{.Status}}"
	quietListFormat   = "{{.ID}}"
)

// vchRow is one VCH as ls shows it: templates see its fields, --format json prints it.
type vchRow struct {
	ID     string
	Name   string
	Path   string
	Public string
	// Endpoints counts the endpoint VMs: "2", or "1/2" when one of two is missing.
	Endpoints  string
	Containers string
	Status     string
	Revision   string
}

// listHeader names the columns of a table.
var listHeader = vchRow{
	ID: "ID", Name: "NAME", Path: "PATH", Public: "PUBLIC", Endpoints: "ENDPOINTS",
	Containers: "CONTAINERS", Status: "STATUS", Revision: "REVISION",
}

func newRow(v *vchdoc.VCH) vchRow {
	r := vchRow{
		ID:         v.ID,
		Name:       v.Name,
		Path:       v.Path,
		Public:     "-",
		Containers: strconv.Itoa(v.Running) + "/" + strconv.Itoa(v.Containers),
		Status:     status(v.PowerState),
	}
	if a := publicAddr(v); a.IsValid() {
		r.Public = a.String()
	}
	found := len(v.EndpointList())
	r.Endpoints = strconv.Itoa(found)
	if v.Config != nil {
		r.Revision = strconv.Itoa(v.Config.Revision)
		if want := v.Config.EndpointCount(); want != found {
			r.Endpoints += "/" + strconv.Itoa(want)
		}
	}
	return r
}

// listFormat returns the ls format for the --format value and -q.
func listFormat(source string, quiet bool) string {
	switch {
	case quiet:
		return quietListFormat
	case source == "" || source == formatTable:
		return defaultListFormat
	}
	return source
}

// writeList renders VCHs like `docker network ls`.
func writeList(out io.Writer, format string, vchs []*vchdoc.VCH) error {
	rows := make([]any, len(vchs))
	for i, v := range vchs {
		rows[i] = newRow(v)
	}
	return writeRows(out, format, listHeader, rows)
}

// writeRows renders rows as Docker's list commands do: `table [TEMPLATE]` as aligned columns
// under header, `json` as one JSON object a line, anything else as a Go template a line.
func writeRows[T any](out io.Writer, format string, header any, rows []T) error {
	if format == formatJSON {
		enc := json.NewEncoder(out)
		for _, r := range rows {
			if err := enc.Encode(r); err != nil {
				return err
			}
		}
		return nil
	}
	text, table := strings.CutPrefix(format, formatTable)
	text = strings.NewReplacer(`\t`, "\t", `\n`, "\n").Replace(strings.Trim(text, " "))
	tmpl, err := templates.Parse(text)
	if err != nil {
		return fmt.Errorf("invalid --format %q: %w", format, err)
	}
	w := out
	var tw *tabwriter.Writer
	if table {
		tw = tabwriter.NewWriter(out, 10, 1, 3, ' ', 0)
		w = tw
		if err := execLine(w, tmpl, header); err != nil {
			return fmt.Errorf("invalid --format %q: %w", format, err)
		}
	}
	for _, r := range rows {
		if err := execLine(w, tmpl, r); err != nil {
			return fmt.Errorf("invalid --format %q: %w", format, err)
		}
	}
	if tw != nil {
		return tw.Flush()
	}
	return nil
}

func execLine(w io.Writer, tmpl *template.Template, data any) error {
	if err := tmpl.Execute(w, data); err != nil {
		return err
	}
	_, err := io.WriteString(w, "\n")
	return err
}

func status(powerState string) string {
	switch powerState {
	case "poweredOn":
		return "Running"
	case "poweredOff":
		return "Stopped"
	case "suspended":
		return "Suspended"
	}
	return powerState
}

// writeInspect renders one VCH: human-readable by default, or JSON, create flags or a template.
func writeInspect(out io.Writer, format string, v *vchdoc.VCH) error {
	switch format {
	case "":
		return writeDescription(out, v)
	case formatJSON:
		if err := vchdoc.Write(out, v); err != nil {
			return fmt.Errorf("encoding VCH %q: %w", v.Name, err)
		}
		return nil
	case formatCreateFlags:
		_, err := fmt.Fprintln(out, "docker vic create "+config.ShellQuote(v.Config.CreateFlags()))
		return err
	}
	tmpl, err := templates.Parse(format)
	if err != nil {
		return fmt.Errorf("invalid --format %q: %w", format, err)
	}
	if err := tmpl.Execute(out, v); err != nil {
		return fmt.Errorf("invalid --format %q: %w", format, err)
	}
	_, err = fmt.Fprintln(out)
	return err
}
