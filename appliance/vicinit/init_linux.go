package vicinit

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"github.com/docker-vic/docker-vic/api/guestinfo"
	"github.com/docker-vic/docker-vic/appliance/guestchannel"
	"github.com/docker-vic/docker-vic/config"
)

// RunDir holds what lives in memory only: the opened credentials and the certificates.
const RunDir = "/run/vic"

// preload are modules vic-init loads although no device asks for them: the guestinfo
// transports, the data disk's file system, the power button's events.
var preload = []string{"qemu_fw_cfg", "virtio_console", "ext4", "evdev"}

// daemonModules are the modules of the daemons' storage and networking. They load in the
// background while vic-init reads its configuration, sets up the network and has its
// certificate signed, and before containerd starts.
var daemonModules = []string{"overlay", "br_netfilter", "bridge", "veth", "nf_tables", "ip_tables", "iptable_nat",
	"iptable_filter", "xt_MASQUERADE", "xt_conntrack", "xt_addrtype"}

// Main runs vic-init: stage 1 when it is the initramfs's /init, else stage 2. It never returns.
func Main(version string) {
	// The kernel starts init without a PATH; the children and exec.LookPath need one.
	os.Setenv("PATH", "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin")
	log := NewLog(os.Stdout) // the console: the last console= of the kernel's command line, ttyS0
	if os.Getpid() == 1 && isInitramfs() {
		log.Printf("stage 1: vic-init %s", version)
		err := Stage1(log)
		log.Printf("stage 1 failed: %v; rebooting in 30 s", err)
		time.Sleep(30 * time.Second)
		unix.Reboot(unix.LINUX_REBOOT_CMD_RESTART)
		select {}
	}
	in := &Init{version: version, log: log}
	in.run()
}

// isInitramfs reports whether the root is the initramfs: it holds the stage-1 module order.
func isInitramfs() bool {
	_, err := os.Stat(filepath.Join(stage1Modules, "order"))
	return err == nil
}

// Init is stage 2's state.
type Init struct {
	version string
	log     *Log
	procs   *Procs
	rep     *Reporter
	ch      guestinfo.Channel
	// cfg is the VCH's configuration as this endpoint sees itself (config.Config.Endpoint).
	cfg *config.Config
	// endpoint is this endpoint VM's number, from 1.
	endpoint int
	// roleAddrs are the addresses of the public, client and management roles.
	roleAddrs map[config.Role]netip.Prefix
	dns       []netip.Addr
	// shutdownCmd is the reboot(2) command that ends the appliance: power off or restart.
	shutdownCmd int
	mu          sync.Mutex
	svc         *services // once started
}

func (in *Init) run() {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	start := time.Now()
	if err := mountBase(); err != nil {
		in.log.Printf("mounting the base file systems: %v", err)
	}
	in.procs = NewProcs(in.log)
	in.rep = NewReporter(nil, in.log)
	in.watchShutdown()
	in.rep.Phase(ctx, guestinfo.PhaseBooting, fmt.Sprintf("vic-init %s: loading the drivers", in.version))
	in.loadDrivers(ctx)
	daemonsReady := make(chan struct{})
	go func() {
		defer close(daemonsReady)
		if err := in.procs.Run(ctx, "modprobe", append([]string{"-a", "-q"}, daemonModules...)...); err != nil {
			in.log.Printf("loading %v: %v", daemonModules, err)
		}
	}()
	unix.Sethostname([]byte("vic"))
	in.openChannel(ctx)
	in.rep.Phase(ctx, guestinfo.PhaseBooting, fmt.Sprintf("vic-init %s: reading the configuration", in.version))
	in.retry(ctx, in.readConfig)
	in.retry(ctx, func(ctx context.Context) error {
		disk, err := mountData(ctx, in.procs, in.log)
		if err == nil && disk != "" {
			in.log.Printf("data disk %s mounted at %s", disk, DataDir)
		}
		return err
	})
	boot := nextBoot()
	in.rep.Set(ctx, func(s *guestinfo.Status) { s.Boot = boot })
	in.rep.Phase(ctx, guestinfo.PhaseNetwork, "naming the network cards by role and applying their addresses")
	in.retry(ctx, in.network)
	in.log.Printf("network ready %.1fs after vic-init started", time.Since(start).Seconds())

	<-daemonsReady
	svc := &services{in: in}
	in.mu.Lock()
	in.svc = svc
	svc.startContainerd() // needs no certificate: it starts while the CLI signs
	in.mu.Unlock()
	var files TLSFiles
	in.retry(ctx, func(ctx context.Context) (err error) {
		files, err = Certify(ctx, in.ch, in.rep, filepath.Join(DataDir, "tls"), filepath.Join(RunDir, "tls"), in.cfg.Name, in.certIPs())
		return err
	})
	drivers := "vic-endpoint"
	if in.cfg.EndpointCount() > 1 {
		drivers = "the vic plugin"
	}
	in.rep.Phase(ctx, guestinfo.PhaseDocker, "starting dockerd and "+drivers)
	in.mu.Lock()
	svc.files = files
	svc.start()
	in.mu.Unlock()
	svc.watch(ctx, start)
}

// retry runs step until it succeeds, reporting each failure and waiting longer after each.
func (in *Init) retry(ctx context.Context, step func(context.Context) error) {
	wait := 2 * time.Second
	for {
		err := step(ctx)
		if err == nil {
			return
		}
		in.rep.Fail(ctx, err)
		time.Sleep(wait)
		wait = min(2*wait, 30*time.Second)
	}
}

// loadDrivers loads the modules of preload and the drivers of the devices present, again
// while loading some shows more devices (a PCI bus shows virtio devices, a SCSI host disks).
func (in *Init) loadDrivers(ctx context.Context) {
	start, before := time.Now(), loadedModules()
	if err := in.procs.Run(ctx, "modprobe", append([]string{"-a", "-q"}, preload...)...); err != nil {
		in.log.Printf("loading %v: %v", preload, err)
	}
	asked := map[string]bool{}
	for pass := 0; pass < 4 && coldplug(ctx, in.procs, asked) > 0; pass++ {
		time.Sleep(100 * time.Millisecond) // the devices a driver finds show up asynchronously
	}
	var loaded []string
	for m := range loadedModules() {
		if !before[m] {
			loaded = append(loaded, m)
		}
	}
	slices.Sort(loaded)
	in.log.Printf("drivers: %d modules for %d device aliases in %.1fs: %s", len(loaded), len(asked),
		time.Since(start).Seconds(), strings.Join(loaded, " "))
}

// loadedModules returns the names of the modules loaded, from /proc/modules.
func loadedModules() map[string]bool {
	b, _ := os.ReadFile("/proc/modules")
	names := map[string]bool{}
	for _, l := range strings.Split(string(b), "\n") {
		if name, _, ok := strings.Cut(l, " "); ok {
			names[name] = true
		}
	}
	return names
}

// openChannel opens the guestinfo channel, waiting for it: its port may show up late.
func (in *Init) openChannel(ctx context.Context) {
	for i := 0; ; i++ {
		ch, tr, err := guestchannel.Open(guestchannel.DefaultDirs)
		if err == nil {
			in.ch = ch
			in.log.Printf("guestinfo channel: %s", tr)
			in.rep.SetChannel(ctx, ch)
			return
		}
		if i%20 == 0 {
			in.log.Printf("opening the guestinfo channel: %v; trying again", err)
		}
		time.Sleep(500 * time.Millisecond)
	}
}

// readConfig waits for the VCH's configuration, then names the host after the VCH.
func (in *Init) readConfig(ctx context.Context) error {
	raw, err := waitKey(ctx, in.ch, guestinfo.KeyConfig, func() { in.log.Printf("waiting for %s", guestinfo.KeyConfig) })
	if err != nil {
		return err
	}
	version, err := in.ch.Get(ctx, guestinfo.KeyVersion)
	if err != nil {
		return fmt.Errorf("reading %s: %w", guestinfo.KeyVersion, err)
	}
	cfg, err := config.Decode(map[string]string{guestinfo.KeyConfig: raw, guestinfo.KeyVersion: version})
	if err != nil {
		return err
	}
	cfg.ApplyDefaults()
	raw, err = in.ch.Get(ctx, config.KeyEndpoint)
	if err != nil && !errors.Is(err, guestinfo.ErrNoValue) {
		return fmt.Errorf("reading %s: %w", config.KeyEndpoint, err)
	}
	i, err := EndpointNumber(raw, cfg.EndpointCount())
	if err != nil {
		return err
	}
	// From here on the role networks carry this endpoint's own static addresses.
	in.cfg, in.endpoint = cfg.Endpoint(i), i
	// Each endpoint VM's host is named after the VM, so that the swarm's nodes tell apart.
	host := config.EndpointVMName(cfg.Name, i)
	if err := unix.Sethostname([]byte(host)); err != nil {
		return fmt.Errorf("naming the host %q: %w", host, err)
	}
	os.WriteFile("/etc/hostname", []byte(host+"\n"), 0o644)
	os.WriteFile("/etc/hosts", []byte(fmt.Sprintf("127.0.0.1 localhost\n127.0.1.1 %s\n", host)), 0o644)
	in.log.Printf("VCH %q, configuration revision %d, endpoint %d of %d", cfg.Name, cfg.Revision, i, cfg.EndpointCount())
	return nil
}

// network reads the cards, plans and applies the links, and writes resolv.conf.
func (in *Init) network(ctx context.Context) (err error) {
	// The DHCP clients of an attempt renew their leases on actx: a failed attempt ends them
	// before the next one takes its own.
	actx, cancel := context.WithCancel(ctx)
	defer func() {
		if err != nil {
			cancel()
		}
	}()
	raw, err := waitKey(ctx, in.ch, guestinfo.KeyNICs, func() { in.log.Printf("waiting for %s", guestinfo.KeyNICs) })
	if err != nil {
		return err
	}
	nics, err := guestinfo.DecodeNICs(raw)
	if err != nil {
		return err
	}
	plans, missing, err := Plan(in.cfg, nics)
	if err != nil {
		return err
	}
	for _, pg := range missing {
		in.log.Printf("port group %q has no card: the networks on it do not work on this VCH", pg)
	}
	applied, err := applyNetwork(actx, plans, in.log)
	if err != nil {
		return err
	}
	in.roleAddrs = map[config.Role]netip.Prefix{}
	addrs := map[string]string{}
	for _, r := range []struct {
		role config.Role
		pg   string
	}{{config.RolePublic, in.cfg.Public.PortGroup}, {config.RoleClient, in.cfg.Client.PortGroup}, {config.RoleManagement, in.cfg.Management.PortGroup}} {
		for _, p := range plans {
			if p.PortGroup != r.pg {
				continue
			}
			a := applied.Addrs[p.Name]
			if rn := in.roleNet(r.role); rn.Static() {
				a = rn.IP
			}
			if a.IsValid() {
				in.roleAddrs[r.role] = a
				addrs[string(r.role)] = a.String()
			}
		}
	}
	if _, ok := in.roleAddrs[config.RoleClient]; !ok {
		return errors.New("the client network has no address: the Docker API has nothing to listen on")
	}
	in.dns = in.cfg.DNS
	if len(in.dns) == 0 {
		in.dns = applied.DNS
	}
	if err := os.WriteFile("/etc/resolv.conf", []byte(ResolvConf(in.dns)), 0o644); err != nil {
		return fmt.Errorf("writing /etc/resolv.conf: %w", err)
	}
	in.rep.Set(ctx, func(s *guestinfo.Status) { s.Addresses = addrs })
	in.log.Printf("addresses: %s; DNS: %v", fmtAddrs(addrs), in.dns)
	return nil
}

func (in *Init) roleNet(r config.Role) config.RoleNetwork {
	switch r {
	case config.RolePublic:
		return in.cfg.Public
	case config.RoleClient:
		return in.cfg.Client
	}
	return in.cfg.Management
}

// certIPs are the addresses the Docker API's certificate names: the client's, and the
// public one when it differs.
func (in *Init) certIPs() []netip.Addr {
	ips := []netip.Addr{in.roleAddrs[config.RoleClient].Addr()}
	if pub, ok := in.roleAddrs[config.RolePublic]; ok && pub.Addr() != ips[0] {
		ips = append(ips, pub.Addr())
	}
	return ips
}

func fmtAddrs(m map[string]string) string {
	var s []string
	for _, r := range []string{"public", "client", "management"} {
		if a, ok := m[r]; ok {
			s = append(s, r+" "+a)
		}
	}
	return strings.Join(s, ", ")
}

// watchShutdown turns SIGTERM and the power button into a power-off, SIGINT (ctrl-alt-del)
// into a reboot, whatever the step vic-init is at.
func (in *Init) watchShutdown() {
	unix.Reboot(unix.LINUX_REBOOT_CMD_CAD_OFF) // ctrl-alt-del sends SIGINT to PID 1
	req := in.shutdownRequests()
	go func() {
		in.shutdownCmd = <-req
		in.mu.Lock() // no service starts from now on
		in.shutdown(in.svc)
	}()
}
