package main

import (
	"context"
	"io"
	"net/netip"
	"os"
	"sort"
	"strconv"
	"strings"

	"github.com/moby/moby/client"
	"github.com/spf13/cobra"

	"github.com/docker-vic/docker-vic/api/portsapi"
)

// defaultPsFormat is the table `docker vic ps` prints.
const defaultPsFormat = "table {{.ID}}\t{{.Name}}\t{{.Network}}\t{{.Address}}\t{{.Ports}}"

// psRow is one container on one vic network: templates see its fields, --format json prints it.
type psRow struct {
	ID      string
	Name    string
	Network string
	Address string
	Ports   string
	State   string
}

var psHeader = psRow{ID: "CONTAINER ID", Name: "NAME", Network: "NETWORK", Address: "ADDRESS", Ports: "PORTS", State: "STATE"}

// psOptions are the flags of `docker vic ps`.
type psOptions struct {
	all    bool
	format string
	socket string
}

func newPsCommand(getDeps func() *deps) *cobra.Command {
	var opts psOptions
	cmd := &cobra.Command{
		Use:   "ps [OPTIONS]",
		Short: "List containers on vic networks with their published ports",
		Long: "List containers on vic networks with their addresses and published ports, which `docker ps`\n" +
			"cannot show for remote network drivers. It asks vic-endpoint on its local socket.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			d := getDeps()
			return runPs(cmd.Context(), d.out, d.docker(), socketFetcher{path: opts.socket, command: "ps"}, &opts)
		},
	}
	flags := cmd.Flags()
	flags.BoolVarP(&opts.all, "all", "a", false, "Show all containers (default shows just running)")
	flags.StringVar(&opts.format, "format", "", "Format the output: table, json or a Go template (`table TEMPLATE` adds a header)")
	flags.StringVar(&opts.socket, "endpoint-socket", daemonSocket(os.Getenv), "Socket of vic-endpoint (env "+portsapi.EnvSocket+")")
	return cmd
}

// runPs lists the containers on vic networks, one row per container and vic network.
func runPs(ctx context.Context, out io.Writer, containers containerLister, fetch portsFetcher, opts *psOptions) error {
	list, err := containers.ContainerList(ctx, client.ContainerListOptions{All: opts.all})
	if err != nil {
		return err
	}
	ports, err := fetch.Ports(ctx)
	if err != nil {
		return err
	}
	var rows []psRow
	for _, c := range list.Items {
		if c.NetworkSettings == nil {
			continue
		}
		name := ""
		if len(c.Names) > 0 {
			name = strings.TrimPrefix(c.Names[0], "/")
		}
		for netName, n := range c.NetworkSettings.Networks {
			if n == nil {
				continue
			}
			ep := ports.Endpoint(n.EndpointID)
			if ep == nil && !ports.IsVicNetwork(n.NetworkID) {
				continue
			}
			row := psRow{ID: shortContainerID(c.ID), Name: name, Network: netName, Address: "-", State: string(c.State)}
			if n.IPAddress.IsValid() {
				row.Address = n.IPAddress.String()
			}
			if ep != nil {
				if p, err := netip.ParsePrefix(ep.Address); err == nil {
					row.Address = p.Addr().String()
				}
				row.Ports = psPorts(ports, ep.Ports)
			}
			rows = append(rows, row)
		}
	}
	sort.Slice(rows, func(i, j int) bool {
		if rows[i].Name != rows[j].Name {
			return rows[i].Name < rows[j].Name
		}
		return rows[i].Network < rows[j].Network
	})
	return writePs(out, opts.format, rows)
}

// psPorts writes published ports as `docker ps` does: 198.51.100.2:8080->80/tcp, ...
func psPorts(all *portsapi.Answer, ports []portsapi.Port) string {
	sorted := append([]portsapi.Port(nil), ports...)
	sort.SliceStable(sorted, func(i, j int) bool {
		if sorted[i].ContainerPort != sorted[j].ContainerPort {
			return sorted[i].ContainerPort < sorted[j].ContainerPort
		}
		return sorted[i].Proto < sorted[j].Proto
	})
	var parts []string
	for _, p := range sorted {
		for _, a := range all.HostAddrs(p) {
			parts = append(parts, a+":"+strconv.Itoa(int(p.HostPort))+"->"+strconv.Itoa(int(p.ContainerPort))+"/"+p.Proto)
		}
	}
	return strings.Join(parts, ", ")
}

func shortContainerID(id string) string {
	if len(id) > 12 {
		return id[:12]
	}
	return id
}

// writePs renders rows like `docker ps`.
func writePs(out io.Writer, format string, rows []psRow) error {
	if format == "" || format == formatTable {
		format = defaultPsFormat
	}
	return writeRows(out, format, psHeader, rows)
}
