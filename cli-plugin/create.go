package main

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/docker-vic/docker-vic/api/guestinfo"
	"github.com/docker-vic/docker-vic/api/vchdoc"
	"github.com/docker-vic/docker-vic/cli-plugin/vch"
	"github.com/docker-vic/docker-vic/config"
	"github.com/docker-vic/docker-vic/vsphere"
)

// roleFlags are the flags of one role network (public, client, management), as typed.
type roleFlags struct {
	portGroup, gateway string
	// ips are the static addresses, one per endpoint: the flag repeated, or comma lists.
	ips []string
}

// createOptions are the flags of `docker vic create`.
type createOptions struct {
	conn vsphere.Options

	name            string
	computeResource string
	imageStore      string
	containerVMs    bool
	useVApp         bool
	applianceISO    string
	cpus, memoryMB  int
	endpoints       int
	timeout         time.Duration

	public, client, management roleFlags
	bridgeNetwork              string
	bridgeRange                string
	bridgeWidth                int
	networks                   networkFlags

	tlsCertDir    string
	noContext     bool
	ops           opsFlags
	keepOnFailure bool
}

func newCreateCommand(getDeps func() *deps) *cobra.Command {
	var opts createOptions
	cmd := &cobra.Command{
		Use:   "create --name NAME [OPTIONS]",
		Short: "Create a Virtual Container Host",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runCreate(cmd.Context(), getDeps(), &opts)
		},
	}
	flags := cmd.Flags()
	flags.SortFlags = false
	opts.register(flags)
	registerConnectionFlags(flags, &opts.conn)
	return cmd
}

// register adds the create flags (without the connection flags) to flags.
func (o *createOptions) register(flags *pflag.FlagSet) {
	flags.StringVar(&o.name, "name", "", "Name of the VCH (required, at most 31 characters)")
	flags.StringVar(&o.computeResource, "compute-resource", "", "Cluster, host or resource pool `PATH` (default: the only one)")
	flags.StringVar(&o.imageStore, "image-store", "", "`DATASTORE` of the endpoint and container VMs (default: the only one)")
	flags.BoolVar(&o.useVApp, "use-vapp", false, "Create a vApp rather than a resource pool")
	flags.BoolVar(&o.containerVMs, flagContainerVMs, true, "Keep a VM per container in vSphere (false: map the networks only)")
	flags.StringVar(&o.applianceISO, "appliance-iso", "", "The endpoint's boot image: a local `FILE`, a datastore path like \"[LocalDS_0] vic/appliance.iso\", or none (default: the installed image)")
	flags.IntVar(&o.cpus, "endpoint-cpu", 0, "Virtual CPUs of the endpoint VM")
	flags.IntVar(&o.memoryMB, "endpoint-memory", 0, "Memory of the endpoint VM in `MB`")
	flags.IntVar(&o.endpoints, flagEndpoints, 1, "Number `N` of endpoint VMs, each on a host of its own; above 1 they form a Docker swarm")
	flags.DurationVar(&o.timeout, "timeout", 5*time.Minute, "Give up creating after this long, the appliance's boot included")

	for _, r := range []struct {
		role, what string
		f          *roleFlags
		def        string
	}{
		{"public", "default route, image pulls and published ports", &o.public, config.DefaultPublicNetwork},
		{"client", "Docker API (default: the public port group)", &o.client, ""},
		{"management", "vSphere traffic (default: the client port group)", &o.management, ""},
	} {
		flags.StringVar(&r.f.portGroup, r.role+"-network", r.def, "Port group `PG` of the "+r.role+" network: "+r.what)
		flags.StringArrayVar(&r.f.ips, r.role+"-network-ip", nil, "Static `CIDR` of the endpoint on the "+r.role+" network, one per endpoint in endpoint order: repeated or comma-separated (default: DHCP)")
		flags.StringVar(&r.f.gateway, r.role+"-network-gateway", "", "Gateway of the "+r.role+" network, `[CIDR,CIDR:]IP`")
	}
	flags.StringVar(&o.bridgeNetwork, "bridge-network", "", "Port group `PG` dedicated to this VCH's bridge networks (default: the VCH name)")
	flags.StringVar(&o.bridgeRange, "bridge-network-range", config.DefaultBridgeRange, "`CIDR` carved into the bridge networks")
	flags.IntVar(&o.bridgeWidth, "bridge-network-width", config.DefaultBridgeWidth, "Prefix length `N` of each bridge network")
	o.networks.register(flags)
	flags.StringVar(&o.tlsCertDir, "tls-cert-dir", "", "`DIR` for the Docker API certificates (default ${DOCKER_CONFIG:-~/.docker}/vic/NAME)")
	flags.BoolVar(&o.noContext, "no-context", false, "Do not create a Docker context for the VCH")
	flags.StringVar(&o.ops.user, "ops-user", "", "vSphere `USER` the endpoint works with (default: yours)")
	flags.StringVar(&o.ops.password, "ops-password", "", "Password of --ops-user (or $"+envOpsPassword+", which ps and shell history do not show)")
	flags.StringVar(&o.ops.file, "ops-credentials-file", "", "Private `FILE` of VIC_USER= and VIC_PASSWORD= lines for the endpoint")
	flags.BoolVar(&o.keepOnFailure, "keep-on-failure", false, "Keep the VCH when its appliance does not come up, to look into it")
}

// config builds and validates the VCH configuration from the flags, without vSphere.
func (o *createOptions) config() (*config.Config, error) {
	if err := config.ValidateNewName(o.name); err != nil {
		return nil, err
	}
	cfg := config.New(o.name)
	cfg.Endpoints = o.endpoints
	cfg.NoContainerVMs = !o.containerVMs
	cfg.Placement = config.Placement{
		ComputeResource: o.computeResource,
		ImageStore:      o.imageStore,
		UseVApp:         o.useVApp,
		CPUs:            o.cpus,
		MemoryMB:        o.memoryMB,
	}
	if strings.HasPrefix(o.applianceISO, "[") {
		cfg.Placement.ApplianceISO = o.applianceISO
	}
	if o.cpus < 0 {
		return nil, &config.Error{Flag: "--endpoint-cpu", Value: strconv.Itoa(o.cpus), Rule: "the endpoint needs at least one CPU"}
	}
	if o.memoryMB < 0 {
		return nil, &config.Error{Flag: "--endpoint-memory", Value: strconv.Itoa(o.memoryMB), Rule: "the memory size cannot be negative"}
	}
	for _, r := range []struct {
		role string
		f    roleFlags
		net  *config.RoleNetwork
	}{
		{"public", o.public, &cfg.Public},
		{"client", o.client, &cfg.Client},
		{"management", o.management, &cfg.Management},
	} {
		if err := r.f.apply(r.role, r.net); err != nil {
			return nil, err
		}
	}
	if o.bridgeNetwork != "" {
		cfg.Bridge.PortGroup = o.bridgeNetwork
	}
	rng, err := netip.ParsePrefix(o.bridgeRange)
	if err != nil {
		return nil, &config.Error{Flag: "--bridge-network-range", Value: o.bridgeRange, Rule: "the range must be an IPv4 CIDR such as 172.16.0.0/12"}
	}
	cfg.Bridge.Range = rng
	cfg.Bridge.Width = o.bridgeWidth
	if o.bridgeWidth <= 0 {
		return nil, &config.Error{Flag: "--bridge-network-width", Value: strconv.Itoa(o.bridgeWidth), Rule: "the width is a prefix length between the range's and 30"}
	}
	if err := o.networks.apply(cfg); err != nil {
		return nil, err
	}
	cfg.ApplyDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return cfg, nil
}

// apply parses the static address and gateway of one role network into n.
func (r roleFlags) apply(role string, n *config.RoleNetwork) error {
	flag := "--" + role + "-network"
	if r.portGroup != "" {
		n.PortGroup = r.portGroup
	}
	if len(r.ips) > 0 {
		as, err := config.ParseAddresses(flag+"-ip", r.ips)
		if err != nil {
			return err
		}
		n.SetAddresses(as)
	}
	if r.gateway != "" {
		g, err := config.ParseGateway(r.gateway)
		if err != nil {
			return &config.Error{Flag: flag + "-gateway", Value: r.gateway, Rule: err.Error()}
		}
		n.Gateway = g
	}
	return nil
}

// certDir returns the TLS directory of the VCH.
func (o *createOptions) certDir(d *deps) string {
	if o.tlsCertDir != "" {
		return o.tlsCertDir
	}
	return filepath.Join(d.configDir, "vic", o.name)
}

func runCreate(ctx context.Context, d *deps, opts *createOptions) error {
	cfg, err := opts.config()
	if err != nil {
		return err
	}
	img, err := resolveImage(opts.applianceISO, d.isoPaths, func(s string) { fmt.Fprintln(d.err, s) })
	if err != nil {
		return err
	}
	if img.none() && opts.ops.given() {
		return opts.ops.refuseWithoutAppliance()
	}
	ctx, cancel := context.WithTimeout(ctx, opts.timeout)
	defer cancel()

	s, err := d.vsphere.Connect(ctx, opts.conn, true)
	if err != nil {
		return err
	}
	defer func() { _ = s.Logout(context.WithoutCancel(ctx)) }()
	cfg.Server = config.Server{URL: s.Target.URL.String(), Thumbprint: s.Target.Thumbprint, Insecure: s.Target.Insecure}
	var creds guestinfo.Credentials
	if !img.none() {
		if creds, err = opts.ops.credentials(s.Target); err != nil {
			return err
		}
	}

	m := &vch.Manager{
		Client:     s.Client,
		Datacenter: s.Target.Datacenter,
		Progress:   func(step string) { fmt.Fprintf(d.out, "  %s...\n", step) },
	}
	inv, err := m.Scan(ctx)
	if err != nil {
		return err
	}
	if _, err := inv.VCH(cfg.Name); err == nil {
		return &config.Error{Flag: "--name", Value: cfg.Name, Rule: "a VCH of that name already exists"}
	} else if !errors.Is(err, vsphere.ErrNotFound) {
		return err
	}
	certDir := opts.certDir(d)
	if hasTLSFiles(certDir) {
		return fmt.Errorf("invalid --tls-cert-dir %q: it already holds the certificates of a VCH; remove it or give another directory", certDir)
	}

	fmt.Fprintf(d.out, "Creating VCH %q\n", cfg.Name)
	if !img.none() {
		return createAppliance(ctx, d, opts, m, cfg, img, creds, certDir)
	}
	// The certificates are made in memory and written only once the VCH exists: validation
	// changes nothing, not even a local directory.
	tlsm, err := newTLSMaterial(cfg.Name, staticAddrs(cfg))
	if err != nil {
		return err
	}
	cfg.TLS = config.TLS{CACert: string(tlsm.CACert), ServerCert: string(tlsm.ServerCert)}

	v, err := m.Create(ctx, cfg)
	if err != nil {
		return err
	}
	m.Progress("writing TLS certificates to " + certDir)
	if err := tlsm.write(certDir); err != nil {
		_ = removeTLSDir(certDir)
		if rmErr := m.Remove(context.WithoutCancel(ctx), cfg.Name, true); rmErr != nil {
			return fmt.Errorf("%w; removing VCH %q again also failed: %v", err, cfg.Name, rmErr)
		}
		return fmt.Errorf("%w; VCH %q was removed again", err, cfg.Name)
	}
	return finishHostCreate(d, opts, m, v, tlsm, certDir)
}

// finishHostCreate finishes a VCH whose endpoint boots nothing: it fits the server
// certificate, made here, to the address the endpoint reported, then runs finishCreate.
func finishHostCreate(d *deps, opts *createOptions, m *vch.Manager, v *vchdoc.VCH, tlsm *tlsMaterial, certDir string) error {
	api, published := dockerAddr(v), publicAddr(v)
	if api.IsValid() && !tlsm.serverCovers(api) {
		m.Progress("reissuing the server certificate for " + api.String())
		if err := reissueServer(v, tlsm, certDir, api); err != nil {
			return fmt.Errorf("VCH %q was created, but its server certificate does not name %s: %w; rerun `docker vic rm %s` and `docker vic create`", v.Name, api, err, v.Name)
		}
	}
	return finishCreate(d, opts, v, tlsm, certDir, api, published)
}

// finishCreate runs once the VCH exists and its Docker API address api is known (or not:
// DHCP without the appliance): it prints how to reach the VCH and creates its Docker context.
// A failure here leaves the VCH in place and says how to finish by hand.
func finishCreate(d *deps, opts *createOptions, v *vchdoc.VCH, tlsm *tlsMaterial, certDir string, api, published netip.Addr) error {
	name := v.Name
	fmt.Fprintf(d.out, "VCH %q created: endpoint VM %s in %s\n", name, v.ID, v.Path)
	if api.IsValid() {
		fmt.Fprintf(d.out, "Docker endpoint: %s (TLS)\n", dockerHost(api))
	} else {
		fmt.Fprintf(d.out, "Docker endpoint: not known yet (DHCP): see `docker vic inspect %s` once the endpoint has an address\n", name)
	}
	if published.IsValid() {
		fmt.Fprintf(d.out, "Published ports: %s\n", published)
	} else {
		fmt.Fprintf(d.out, "Published ports: not known yet (DHCP)\n")
	}
	fmt.Fprintf(d.out, "TLS certificates: %s\n", certDir)

	if !api.IsValid() || opts.noContext {
		if api.IsValid() {
			fmt.Fprintf(d.out, "Use it with: docker -H %s --tlsverify --tlscacert %s --tlscert %s --tlskey %s info\n", dockerHost(api),
				filepath.Join(certDir, fileCA), filepath.Join(certDir, fileClientCert), filepath.Join(certDir, fileClientKey))
		}
		return nil
	}
	if err := ensureContext(d.contexts, name, api, certDir, tlsm); err != nil {
		return fmt.Errorf("VCH %q was created, but its Docker context was not: %w; create it with: %s", name, err, retryContextHint(name, api, certDir))
	}
	fmt.Fprintf(d.out, "Docker context %q created: docker --context %s info\n", name, name)
	return nil
}

// reissueServer issues a server certificate that also names api, the address the endpoint got
// from DHCP, into certDir. The configuration keeps the certificate issued before creation:
// configure cannot change a VCH's TLS material.
func reissueServer(v *vchdoc.VCH, tlsm *tlsMaterial, certDir string, api netip.Addr) error {
	if err := tlsm.issueServer(v.Name, append(staticAddrs(v.Config), api)); err != nil {
		return err
	}
	return tlsm.write(certDir)
}

// staticAddrs are the endpoints' static addresses on the client and public networks: the
// server certificate, which every endpoint shares, names them all.
func staticAddrs(cfg *config.Config) []netip.Addr {
	var out []netip.Addr
	for _, n := range []config.RoleNetwork{cfg.Client, cfg.Public} {
		for _, a := range n.Addresses() {
			out = append(out, a.Addr())
		}
	}
	return out
}

// dockerAddr is where the Docker API of v listens: the static client address, else the
// address of the client NIC, else the public one when client and public share a port group.
func dockerAddr(v *vchdoc.VCH) netip.Addr {
	cfg := v.Config
	if cfg.Client.Static() {
		return cfg.Client.IP.Addr()
	}
	if a := nicAddr(v, config.RoleClient); a.IsValid() {
		return a
	}
	if cfg.Client.PortGroup == cfg.Public.PortGroup {
		return publicAddr(v)
	}
	return netip.Addr{}
}

// publicAddr is the address of v's published ports.
func publicAddr(v *vchdoc.VCH) netip.Addr {
	if v.Config.Public.Static() {
		return v.Config.Public.IP.Addr()
	}
	if v.PublicAddress.IsValid() {
		return v.PublicAddress
	}
	return nicAddr(v, config.RolePublic)
}

func nicAddr(v *vchdoc.VCH, role config.Role) netip.Addr {
	for _, n := range v.NICs {
		for _, r := range n.Roles {
			if r == role && n.Address.IsValid() {
				return n.Address
			}
		}
	}
	return netip.Addr{}
}
