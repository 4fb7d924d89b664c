package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/moby/moby/client"
	"github.com/spf13/cobra"
)

// Where `docker vic port` and `docker vic ps` ask the endpoint for published ports.
const (
	defaultEndpointSocket = "/run/docker/plugins/vic.sock"
	envEndpointSocket     = "VIC_ENDPOINT_SOCKET"
	portsRoute            = "/VIC.Ports"
	portsTimeout          = 15 * time.Second
)

// containerLister is the part of the Docker API that port and ps read.
type containerLister interface {
	ContainerList(ctx context.Context, options client.ContainerListOptions) (client.ContainerListResult, error)
	ContainerInspect(ctx context.Context, container string, options client.ContainerInspectOptions) (client.ContainerInspectResult, error)
}

// portsFetcher asks the vic endpoint for its networks, endpoints and published ports.
type portsFetcher interface {
	Ports(ctx context.Context) (*endpointPorts, error)
}

// endpointPorts is the endpoint's answer to POST /VIC.Ports.
type endpointPorts struct {
	Networks  []endpointNetwork
	Endpoints []endpointInfo
	// Public is the endpoint's public address: ports without a host IP live there and on 127.0.0.1.
	Public string
	// Version is the version of vic-endpoint.
	Version string
}

// endpointNetwork is a vic bridge network.
type endpointNetwork struct {
	NetworkID string
	Bridge    string
	Subnet    string
}

// endpointInfo is one container's endpoint on a vic bridge network.
type endpointInfo struct {
	EndpointID string
	NetworkID  string
	Address    string
	MAC        string
	Ports      []endpointPort
}

// endpointPort is one published port; an empty HostIP means the public address and loopback.
type endpointPort struct {
	Proto         string
	HostIP        string
	HostPort      uint16
	ContainerPort uint16
}

// endpoint returns the endpoint with id, or nil.
func (p *endpointPorts) endpoint(id string) *endpointInfo {
	for i := range p.Endpoints {
		if id != "" && p.Endpoints[i].EndpointID == id {
			return &p.Endpoints[i]
		}
	}
	return nil
}

// isVicNetwork reports whether the network with Docker ID id is a vic network.
func (p *endpointPorts) isVicNetwork(id string) bool {
	for _, n := range p.Networks {
		if id != "" && n.NetworkID == id {
			return true
		}
	}
	return false
}

// hostAddrs are the addresses a port is published on: an empty host IP means the public
// address and loopback.
func (p *endpointPorts) hostAddrs(port endpointPort) []string {
	if port.HostIP != "" {
		return []string{port.HostIP}
	}
	return []string{p.Public, "127.0.0.1"}
}

// errEndpointUnreachable is wrapped when the endpoint's socket does not answer.
var errEndpointUnreachable = errors.New("the vic endpoint is not reachable")

// socketFetcher reads /VIC.Ports over the endpoint's unix socket.
type socketFetcher struct {
	path string
	// command names the subcommand in the unreachable-endpoint advice: "port", "ps".
	command string
}

// Ports implements portsFetcher.
func (s socketFetcher) Ports(ctx context.Context) (*endpointPorts, error) {
	unreachable := fmt.Errorf("%w at %s: run docker vic %s on the VCH endpoint, where vic-endpoint runs", errEndpointUnreachable, s.path, s.command)
	if _, err := os.Stat(s.path); err != nil {
		return nil, unreachable
	}
	hc := &http.Client{Timeout: portsTimeout, Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", s.path)
		},
	}}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://vic-endpoint"+portsRoute, nil)
	if err != nil {
		return nil, err
	}
	res, err := hc.Do(req)
	if errors.Is(err, os.ErrPermission) {
		return nil, fmt.Errorf("the vic endpoint socket %s is root-only: run docker vic %s with sudo", s.path, s.command)
	}
	if err != nil {
		return nil, unreachable
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		var e struct{ Err string }
		_ = json.NewDecoder(io.LimitReader(res.Body, 1<<16)).Decode(&e)
		return nil, fmt.Errorf("the vic endpoint at %s answered %s: %s", s.path, res.Status, e.Err)
	}
	var out endpointPorts
	if err := json.NewDecoder(res.Body).Decode(&out); err != nil {
		return nil, fmt.Errorf("reading the published ports from the vic endpoint at %s: %w", s.path, err)
	}
	return &out, nil
}

// endpointSocket is the socket flag's default: $VIC_ENDPOINT_SOCKET, else the plugin socket.
func endpointSocket(getenv func(string) string) string {
	if s := getenv(envEndpointSocket); s != "" {
		return s
	}
	return defaultEndpointSocket
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
	cmd.Flags().StringVar(&opts.socket, "endpoint-socket", endpointSocket(os.Getenv), "Socket of vic-endpoint (env "+envEndpointSocket+")")
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
	var mine []endpointPort
	onVic := false
	if eps != nil {
		for _, n := range eps.Networks {
			if n == nil {
				continue
			}
			if ports.isVicNetwork(n.NetworkID) {
				onVic = true
			}
			if e := ports.endpoint(n.EndpointID); e != nil {
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
func portLines(all *endpointPorts, ports []endpointPort, filter *portFilter) []string {
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
		for i, a := range all.hostAddrs(p) {
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
