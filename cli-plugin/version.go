package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"runtime"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/docker-vic/docker-vic/api/portsapi"
	"github.com/docker-vic/docker-vic/vsphere"
)

// versionOptions are the flags of `docker vic version`.
type versionOptions struct {
	conn   vsphere.Options
	socket string
}

// versionTimeout bounds the vSphere probe of version.
const versionTimeout = 20 * time.Second

func newVersionCommand(getDeps func() *deps) *cobra.Command {
	var opts versionOptions
	cmd := &cobra.Command{
		Use:   "version",
		Short: "Show the versions of docker-vic and, where reachable, of vSphere and the endpoint",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runVersion(cmd.Context(), getDeps(), &opts)
		},
	}
	registerConnectionFlags(cmd.Flags(), &opts.conn)
	cmd.Flags().StringVar(&opts.socket, "endpoint-socket", daemonSocket(os.Getenv), "Socket of vic-endpoint (env "+portsapi.EnvSocket+")")
	return cmd
}

func runVersion(ctx context.Context, d *deps, opts *versionOptions) error {
	w := tabwriter.NewWriter(d.out, 0, 8, 2, ' ', 0)
	fmt.Fprintf(w, "docker-vic:\t%s (%s, %s/%s)\n", version, runtime.Version(), runtime.GOOS, runtime.GOARCH)
	fmt.Fprintf(w, "vSphere:\t%s\n", vsphereVersion(ctx, d.vsphere, opts.conn))
	fmt.Fprintf(w, "Endpoint:\t%s\n", daemonVersion(ctx, socketFetcher{path: opts.socket, command: "version"}))
	return w.Flush()
}

// vsphereVersion names the product at the configured target, or says why it cannot.
func vsphereVersion(ctx context.Context, c connector, o vsphere.Options) string {
	ctx, cancel := context.WithTimeout(ctx, versionTimeout)
	defer cancel()
	s, err := c.Connect(ctx, o, false)
	if err != nil {
		var untrusted *vsphere.UntrustedError
		switch {
		case errors.As(err, &untrusted):
			return "not checked: " + err.Error()
		case errors.Is(err, vsphere.ErrNoTarget):
			return "no target configured"
		}
		return "not reachable: " + err.Error()
	}
	defer func() { _ = s.Logout(context.WithoutCancel(ctx)) }()
	return s.About().FullName + " at " + s.Target.String()
}

// daemonVersion asks the vic endpoint of this machine for its version.
func daemonVersion(ctx context.Context, f portsFetcher) string {
	ctx, cancel := context.WithTimeout(ctx, versionTimeout)
	defer cancel()
	p, err := f.Ports(ctx)
	if err != nil {
		return "not reachable from this machine"
	}
	return p.Version + " (public address " + p.Public + ")"
}
