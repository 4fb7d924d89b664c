//go:build linux

// Command vic-endpoint is the daemon of a VCH endpoint: it serves the vic network and IPAM
// drivers to Docker on one socket, maps the VCH's port groups to local interfaces, keeps its
// state in a bbolt database and re-applies the NAT rules and links it owns at start and after
// a flush. `vic-endpoint teardown` removes them (uninstall, tests).
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/pflag"
)

// version is the daemon's version, set at build time with -ldflags "-X main.version=...".
var version = "dev"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	code := run(ctx, os.Args[1:], os.Stderr)
	stop()
	os.Exit(code)
}

// run parses args, runs the daemon or a subcommand until ctx ends, and returns the exit status.
// Errors are printed as one sentence on stderr.
func run(ctx context.Context, args []string, stderr io.Writer) int {
	var err error
	if len(args) > 0 && args[0] == "teardown" {
		err = runTeardownCommand(ctx, args[1:], stderr)
	} else {
		err = runDaemonCommand(ctx, args, stderr)
	}
	if errors.Is(err, pflag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintf(stderr, "vic-endpoint: %v\n", err)
		return 1
	}
	return 0
}
