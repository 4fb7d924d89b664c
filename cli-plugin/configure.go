package main

import (
	"context"
	"fmt"
	"net/netip"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/docker-vic/docker-vic/api/guestinfo"
	"github.com/docker-vic/docker-vic/cli-plugin/vch"
	"github.com/docker-vic/docker-vic/config"
	"github.com/docker-vic/docker-vic/vsphere"
)

// configureOptions are the flags of `docker vic configure`.
type configureOptions struct {
	conn     vsphere.Options
	networks networkFlags
	// containerVMs is --container-vms, when given.
	containerVMs *bool
	// endpoints is --endpoints, when given; ips are the --X-network-ip values by role.
	endpoints *int
	ips       map[string]*[]string
	// For the endpoints an appliance swarm gains: how long to wait for them, the VCH's TLS
	// directory (its CA signs their certificates) and their vSphere credentials.
	timeout    time.Duration
	tlsCertDir string
	ops        opsFlags
}

func newConfigureCommand(getDeps func() *deps) *cobra.Command {
	var opts configureOptions
	cmd := &cobra.Command{
		Use:   "configure [OPTIONS] VCH",
		Short: "Add container networks or change their firewall, ranges and DNS, or the count of endpoints, without recreating the VCH",
		Args:  exactlyOneVCH,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runConfigure(cmd.Context(), getDeps(), args[0], &opts)
		},
	}
	flags := cmd.Flags()
	flags.SortFlags = false
	opts.networks.register(flags)
	flags.Func(flagContainerVMs, "Keep a VM per container in vSphere: `true` or false (map the networks only; the VCH's container VMs go)", func(v string) error {
		on, err := strconv.ParseBool(v)
		if err != nil {
			return fmt.Errorf("%q is not true or false", v)
		}
		opts.containerVMs = &on
		return nil
	})
	flags.Lookup(flagContainerVMs).NoOptDefVal = "true"
	flags.Func(flagEndpoints, "Scale the VCH to `N` endpoint VMs: new ones like the first, or the highest-numbered removed", func(v string) error {
		n, err := strconv.Atoi(v)
		if err != nil {
			return fmt.Errorf("%q is not a number", v)
		}
		opts.endpoints = &n
		return nil
	})
	opts.ips = map[string]*[]string{}
	for _, role := range []string{"public", "client", "management"} {
		opts.ips[role] = new([]string)
		flags.StringArrayVar(opts.ips[role], role+"-network-ip", nil, "With --endpoints, the static `CIDR` of every endpoint on the "+role+" network, in endpoint order: those of the endpoints that stay first")
	}
	flags.DurationVar(&opts.timeout, "timeout", 5*time.Minute, "Give up after this long, the boot of an appliance swarm's new endpoints included")
	flags.StringVar(&opts.tlsCertDir, "tls-cert-dir", "", "With --endpoints on an appliance VCH: the VCH's certificates `DIR`, whose CA signs the new endpoints' (default ${DOCKER_CONFIG:-~/.docker}/vic/VCH)")
	flags.StringVar(&opts.ops.user, "ops-user", "", "With --endpoints on an appliance VCH: vSphere `USER` the new endpoints work with (default: yours)")
	flags.StringVar(&opts.ops.password, "ops-password", "", "Password of --ops-user (or $"+envOpsPassword+")")
	flags.StringVar(&opts.ops.file, "ops-credentials-file", "", "Private `FILE` of VIC_USER= and VIC_PASSWORD= lines for the new endpoints")
	registerConnectionFlags(flags, &opts.conn)
	cmd.ValidArgsFunction = completeVCHNames(getDeps, &opts.conn, 1)
	return cmd
}

// errNothingToChange is returned when configure gets no change.
var errNothingToChange = fmt.Errorf("nothing to change: give at least one of --%s, --%s, --%s, --%s, --%s, --%s, --%s or --%s",
	flagContainerNetwork, flagContainerGateway, flagContainerIPRange, flagContainerDNS, flagContainerFirewall, flagDNSServer, flagContainerVMs, flagEndpoints)

func runConfigure(ctx context.Context, d *deps, name string, opts *configureOptions) error {
	if opts.networks.empty() && opts.containerVMs == nil && opts.endpoints == nil && !opts.ipsGiven() {
		return errNothingToChange
	}
	if _, err := opts.roleAddresses(); err != nil {
		return err
	}
	// Check what needs no VCH before connecting: values that do not parse, keyed options for
	// port groups this command does not list are checked against the VCH below.
	if err := opts.networks.apply(config.New("probe")); err != nil && !isUnknownPortGroup(err) {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, opts.timeout)
	defer cancel()
	session, err := d.vsphere.Connect(ctx, opts.conn, true)
	if err != nil {
		return err
	}
	defer func() { _ = session.Logout(context.WithoutCancel(ctx)) }()
	m := &vch.Manager{Client: session.Client, Datacenter: session.Target.Datacenter}
	// An appliance swarm that gains endpoints signs their certificates and hands them
	// credentials: what that needs is checked before anything changes.
	var follow *swarmFollow
	if opts.endpoints != nil || opts.ops.given() {
		if follow, err = opts.swarmFollow(ctx, d, m, name, session.Target); err != nil {
			return err
		}
	}
	if follow != nil && opts.endpoints != nil && *opts.endpoints < follow.count {
		say := func(s string) { fmt.Fprintf(d.out, "  %s\n", s) }
		if err := drainLeaving(ctx, d, follow.tlsm, follow.manager, name, *opts.endpoints, say); err != nil {
			return fmt.Errorf("VCH %q is unchanged: %w", name, err)
		}
	}
	m.Progress = func(step string) { fmt.Fprintf(d.out, "  %s...\n", step) }
	v, err := m.Configure(ctx, name, func(cfg *config.Config) error {
		if err := opts.networks.apply(cfg); err != nil {
			return err
		}
		if opts.containerVMs != nil {
			cfg.NoContainerVMs = !*opts.containerVMs
		}
		if err := opts.applyEndpoints(cfg); err != nil {
			return err
		}
		cfg.ApplyDefaults()
		return cfg.Validate()
	})
	if err != nil {
		return err
	}
	if follow != nil {
		if err := followEndpoints(ctx, d, m, v, follow.certDir, follow.creds); err != nil {
			return fmt.Errorf("VCH %q is configured (revision %d), but its endpoints did not all join its swarm: %w; run the command again to retry", v.Name, v.Config.Revision, err)
		}
	}
	fmt.Fprintf(d.out, "VCH %q configured: revision %d\n", v.Name, v.Config.Revision)
	if n := v.Config.EndpointCount(); n > 1 || opts.endpoints != nil {
		fmt.Fprintf(d.out, "Endpoints: %d\n", n)
	}
	return nil
}

// swarmFollow is what configure needs to change the endpoints of an appliance swarm.
type swarmFollow struct {
	certDir string
	tlsm    *tlsMaterial
	creds   guestinfo.Credentials
	// count is the number of endpoints before the change; manager is endpoint 1's Docker API.
	count   int
	manager netip.Addr
}

// swarmFollow checks, before any change, what bringing new endpoints into VCH name's swarm
// needs: nil when the VCH is no appliance swarm, which refuses the endpoints' credentials.
func (o *configureOptions) swarmFollow(ctx context.Context, d *deps, m *vch.Manager, name string, t *vsphere.Target) (*swarmFollow, error) {
	inv, err := m.Scan(ctx)
	if err != nil {
		return nil, err
	}
	v, err := inv.VCH(name)
	if err != nil {
		return nil, err
	}
	if v.Config.Placement.ApplianceISO == "" || v.Config.EndpointCount() == 1 {
		if o.ops.given() {
			return nil, o.ops.refuseNewEndpoints()
		}
		return nil, nil
	}
	dir := o.tlsCertDir
	if dir == "" {
		dir = filepath.Join(d.configDir, "vic", name)
	}
	tlsm, err := loadTLS(dir)
	if err != nil {
		return nil, err
	}
	creds, err := o.ops.credentials(t)
	if err != nil {
		return nil, err
	}
	f := &swarmFollow{certDir: dir, tlsm: tlsm, creds: creds, count: v.Config.EndpointCount()}
	if e := v.Endpoint(1); e != nil && e.Appliance != nil {
		f.manager = applianceAPIAddr(v.Config.Endpoint(1), *e.Appliance)
	}
	if !f.manager.IsValid() && o.endpoints != nil && *o.endpoints < f.count {
		return nil, fmt.Errorf("VCH %q is unchanged: the Docker API address of its endpoint 1 is not known, and the nodes of the endpoints to remove must leave the swarm through it first", name)
	}
	return f, nil
}

// ipsGiven reports whether any --X-network-ip was given.
func (o *configureOptions) ipsGiven() bool {
	for _, ips := range o.ips {
		if len(*ips) > 0 {
			return true
		}
	}
	return false
}

// roleAddresses parses the --X-network-ip values, by role.
func (o *configureOptions) roleAddresses() (map[string][]netip.Prefix, error) {
	out := map[string][]netip.Prefix{}
	for role, ips := range o.ips {
		if len(*ips) == 0 {
			continue
		}
		as, err := config.ParseAddresses("--"+role+"-network-ip", *ips)
		if err != nil {
			return nil, err
		}
		out[role] = as
	}
	return out, nil
}

// applyEndpoints writes --endpoints and the addresses into cfg: the addresses given replace a
// role's, and a static role scaled down keeps those of the endpoints that stay.
func (o *configureOptions) applyEndpoints(cfg *config.Config) error {
	if o.endpoints == nil {
		for _, role := range []string{"public", "client", "management"} {
			if ips := *o.ips[role]; len(ips) > 0 {
				return &config.Error{Flag: "--" + role + "-network-ip", Value: strings.Join(ips, ","), Rule: "configure takes the addresses of the endpoints only with --endpoints, the count they are for"}
			}
		}
		return nil
	}
	n := *o.endpoints
	cfg.Endpoints = n
	given, err := o.roleAddresses()
	if err != nil {
		return err
	}
	for role, r := range map[string]*config.RoleNetwork{"public": &cfg.Public, "client": &cfg.Client, "management": &cfg.Management} {
		if as, ok := given[role]; ok {
			r.SetAddresses(as)
		} else if as := r.Addresses(); len(as) > n && n >= 1 {
			r.SetAddresses(as[:n])
		}
	}
	return nil
}
