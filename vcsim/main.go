// Command vcsim serves govmomi's in-process vCenter simulator over https for docker-vic's tests
// and demo. It adds the distributed port groups it is asked for, ready to carry container
// networks, prints one `export VIC_TARGET=... VIC_THUMBPRINT=...` line and serves until
// SIGINT or SIGTERM.
package main

import (
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"

	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25/soap"

	"github.com/docker-vic/docker-vic/vsphere/sim"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return
		}
		fmt.Fprintln(os.Stderr, "vcsim:", err)
		stop()
		os.Exit(1)
	}
}

// options are the command-line flags of vcsim.
type options struct {
	listen, username, password, pidfile string
	portgroups                          []string
	clusterHosts                        int
}

// envPassword gives the password without showing it to every user in ps.
const envPassword = "VCSIM_PASSWORD"

func parseFlags(args []string) (options, error) {
	var o options
	fs := flag.NewFlagSet("vcsim", flag.ContinueOnError)
	fs.StringVar(&o.listen, "listen", "127.0.0.1:0", "address to serve on; port 0 picks a free port")
	fs.StringVar(&o.username, "username", "user", "user name the simulator accepts")
	fs.StringVar(&o.password, "password", "pass", "password the simulator accepts (or $"+envPassword+", kept off the command line)")
	fs.StringVar(&o.pidfile, "pidfile", "", "file to write the process ID to while serving")
	fs.IntVar(&o.clusterHosts, "cluster-hosts", 2, "hosts of cluster DC0_C0 (a VCH of N endpoints needs N)")
	fs.Func("portgroup", "distributed port group to create on "+sim.Switch+" (repeatable)", func(name string) error {
		if strings.TrimSpace(name) == "" {
			return errors.New("a port group needs a name")
		}
		o.portgroups = append(o.portgroups, name)
		return nil
	})
	fs.SetOutput(io.Discard)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fs.SetOutput(os.Stderr)
			fs.PrintDefaults()
		}
		return o, err
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	given := false
	fs.Visit(func(f *flag.Flag) { given = given || f.Name == "password" })
	if p, ok := os.LookupEnv(envPassword); ok && !given {
		o.password = p
	}
	if o.clusterHosts < 1 || o.clusterHosts > 32 {
		return o, fmt.Errorf("--cluster-hosts %d must lie between 1 and 32", o.clusterHosts)
	}
	if o.username == "" || o.password == "" {
		return o, errors.New("--username and --password must not be empty")
	}
	return o, nil
}

// run serves the simulator until ctx is done, after writing the export line to out.
func run(ctx context.Context, args []string, out io.Writer) error {
	o, err := parseFlags(args)
	if err != nil {
		return err
	}
	host, _, err := net.SplitHostPort(o.listen)
	if err != nil {
		return fmt.Errorf("parsing --listen %q: %w", o.listen, err)
	}
	cert, err := selfSignedCert(host)
	if err != nil {
		return err
	}

	m := sim.Model() // the inventory the Go tests use too
	m.ClusterHost = o.clusterHosts
	if err := m.Create(); err != nil {
		return fmt.Errorf("creating the simulator inventory: %w", err)
	}
	defer m.Remove()
	m.Service.TLS = &tls.Config{Certificates: []tls.Certificate{cert}}
	m.Service.Listen = &url.URL{Host: o.listen, User: url.UserPassword(o.username, o.password)}

	s, err := serve(m.Service)
	if err != nil {
		return err
	}
	defer s.Close()

	if err := addPortgroups(ctx, s.URL, o.portgroups); err != nil {
		return err
	}
	if o.pidfile != "" {
		if err := os.WriteFile(o.pidfile, []byte(strconv.Itoa(os.Getpid())+"\n"), 0o644); err != nil {
			return fmt.Errorf("writing pid file: %w", err)
		}
		defer os.Remove(o.pidfile)
	}

	target := url.URL{Scheme: "https", User: s.URL.User, Host: s.URL.Host, Path: "/sdk"}
	// out is written once, unbuffered (os.Stdout), so a script reading it sees the line at once.
	line := fmt.Sprintf("export VIC_TARGET=%s VIC_THUMBPRINT=%s\n", shellQuote(target.String()), soap.ThumbprintSHA1(s.Certificate()))
	if _, err := io.WriteString(out, line); err != nil {
		return fmt.Errorf("writing the export line: %w", err)
	}
	<-ctx.Done()
	return nil
}

// serve starts the simulator's https server, turning its listen panic into an error.
func serve(svc *simulator.Service) (s *simulator.Server, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("listening on %q: %v", svc.Listen.Host, r)
		}
	}()
	return svc.NewServer(), nil
}

// shellQuote single-quotes s when a shell would otherwise split or expand it.
func shellQuote(s string) string {
	if strings.IndexFunc(s, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("-_./:@%+=,", r))
	}) < 0 {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
