package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/moby/moby/client"
	"github.com/spf13/cobra"

	"github.com/docker-vic/docker-vic/api/portsapi"
)

// containerLister is the part of the Docker API that port and ps read.
type containerLister interface {
	ContainerList(ctx context.Context, options client.ContainerListOptions) (client.ContainerListResult, error)
	ContainerInspect(ctx context.Context, container string, options client.ContainerInspectOptions) (client.ContainerInspectResult, error)
}

// portsFetcher asks vic-endpoint for its networks, endpoints and published ports.
type portsFetcher interface {
	Ports(ctx context.Context) (*portsapi.Answer, error)
}

// socketFetcher asks vic-endpoint on its local socket.
type socketFetcher struct {
	path string
	// command names the subcommand in the advice when the socket does not answer: "port", "ps".
	command string
}

// Ports implements portsFetcher, with advice on where and how to run the command when the
// daemon cannot be asked.
func (s socketFetcher) Ports(ctx context.Context) (*portsapi.Answer, error) {
	a, err := portsapi.Ask(ctx, s.socket())
	switch {
	case errors.Is(err, portsapi.ErrUnreachable):
		return nil, fmt.Errorf("%w: run docker vic %s on the VCH endpoint, where vic-endpoint runs", err, s.command)
	case errors.Is(err, portsapi.ErrRootOnly):
		return nil, fmt.Errorf("%w: run docker vic %s with sudo", err, s.command)
	}
	return a, err
}

// pluginSockets lists the sockets of the drivers running as a managed plugin: Docker gives each
// plugin a directory of its own under /run/docker/plugins, named by the plugin's ID.
var pluginSockets = func() ([]string, error) {
	dir, name := filepath.Split(portsapi.DefaultSocket)
	return filepath.Glob(filepath.Join(dir, "*", name))
}

// socket is the socket to ask: the one given, except that the default, when missing, gives way
// to the managed plugin's (the drivers of a swarm node), if there is exactly one.
func (s socketFetcher) socket() string {
	if s.path != portsapi.DefaultSocket {
		return s.path
	}
	if _, err := os.Stat(s.path); err == nil {
		return s.path
	}
	if found, err := pluginSockets(); err == nil && len(found) == 1 {
		return found[0]
	}
	return s.path
}

// daemonSocket is the socket flag's default: $VIC_ENDPOINT_SOCKET, else the plugin socket.
func daemonSocket(getenv func(string) string) string {
	if s := getenv(portsapi.EnvSocket); s != "" {
		return s
	}
	return portsapi.DefaultSocket
}

// portOptions are the flags of `docker vic port`.
type portOptions struct {
	socket string
}

func newPortCommand(getDeps func() *deps) *cobra.Command {
	var opts portOptions
	cmd := &cobra.Command{
		Use:   "port CONTAINER [PRIVATE_PORT[/PROTO]]",
		Short: "List the published ports of a container on vic networks",
		Long: "List the published ports of a container on vic networks, like `docker port`, which cannot show\n" +
			"the ports of remote network drivers. It asks vic-endpoint on its local socket.",
		Args: cobra.RangeArgs(1, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			d := getDeps()
			var private string
			if len(args) == 2 {
				private = args[1]
			}
			return runPort(cmd.Context(), d.out, d.docker(), socketFetcher{path: opts.socket, command: "port"}, args[0], private)
		},
	}
	cmd.Flags().StringVar(&opts.socket, "endpoint-socket", daemonSocket(os.Getenv), "Socket of vic-endpoint (env "+portsapi.EnvSocket+")")
	return cmd
}

// portFilter is PRIVATE_PORT[/PROTO]; the protocol defaults to tcp.
type portFilter struct {
	port  uint16
	proto string
}

func parsePortFilter(s string) (portFilter, error) {
	num, proto, ok := strings.Cut(s, "/")
	if !ok {
		proto = "tcp"
	}
	proto = strings.ToLower(proto)
	n, err := strconv.ParseUint(num, 10, 16)
	if err != nil || n == 0 || (proto != "tcp" && proto != "udp" && proto != "sctp") {
		return portFilter{}, fmt.Errorf("private port %q must be PORT or PORT/PROTO with PROTO tcp, udp or sctp", s)
	}
	return portFilter{port: uint16(n), proto: proto}, nil
}

// runPort prints the published ports of container as `docker port` does: every port as
// `80/tcp -> 198.51.100.2:8080`, or, with private, the host addresses of that port alone.
func runPort(ctx context.Context, out io.Writer, containers containerLister, fetch portsFetcher, container, private string) error {
	var filter *portFilter
	if private != "" {
		f, err := parsePortFilter(private)
		if err != nil {
			return err
		}
		filter = &f
	}
	ins, err := containers.ContainerInspect(ctx, container, client.ContainerInspectOptions{})
	if err != nil {
		return err
	}
	eps := ins.Container.NetworkSettings
	ports, err := fetch.Ports(ctx)
	if err != nil {
		return err
	}
	var mine []portsapi.Port
	onVic := false
	if eps != nil {
		for _, n := range eps.Networks {
			if n == nil {
				continue
			}
			if ports.IsVicNetwork(n.NetworkID) {
				onVic = true
			}
			if e := ports.Endpoint(n.EndpointID); e != nil {
				onVic = true
				mine = append(mine, e.Ports...)
			}
		}
	}
	name := strings.TrimPrefix(ins.Container.Name, "/")
	if !onVic {
		return fmt.Errorf("container %q is on no vic network: docker port shows the ports of its networks", name)
	}
	lines := portLines(ports, mine, filter)
	if filter != nil && len(lines) == 0 {
		return fmt.Errorf("no public port %d/%s published for container %q", filter.port, filter.proto, name)
	}
	for _, l := range lines {
		if _, err := fmt.Fprintln(out, l); err != nil {
			return err
		}
	}
	return nil
}

// portLines renders ports sorted by private port, protocol, then host address (public first).
func portLines(all *portsapi.Answer, ports []portsapi.Port, filter *portFilter) []string {
	type line struct {
		private uint16
		proto   string
		order   int
		text    string
	}
	var lines []line
	seen := map[string]bool{}
	for _, p := range ports {
		if filter != nil && (p.ContainerPort != filter.port || p.Proto != filter.proto) {
			continue
		}
		for i, a := range all.HostAddrs(p) {
			host := net.JoinHostPort(a, strconv.Itoa(int(p.HostPort)))
			text := host
			if filter == nil {
				text = fmt.Sprintf("%d/%s -> %s", p.ContainerPort, p.Proto, host)
			}
			if seen[text] {
				continue
			}
			seen[text] = true
			order := i
			if ip, err := netip.ParseAddr(a); err == nil && ip.IsLoopback() {
				order = 1
			}
			lines = append(lines, line{p.ContainerPort, p.Proto, order, text})
		}
	}
	sort.SliceStable(lines, func(i, j int) bool {
		a, b := lines[i], lines[j]
		if a.private != b.private {
			return a.private < b.private
		}
		if a.proto != b.proto {
			return a.proto < b.proto
		}
		if a.order != b.order {
			return a.order < b.order
		}
		return a.text < b.text
	})
	out := make([]string, len(lines))
	for i, l := range lines {
		out[i] = l.text
	}
	return out
}
