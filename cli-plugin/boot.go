package main

import (
	"bytes"
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode"

	"github.com/vmware/govmomi/vim25/types"

	"github.com/docker-vic/docker-vic/api/guestinfo"
	"github.com/docker-vic/docker-vic/cli-plugin/vch"
	"github.com/docker-vic/docker-vic/config"
)

// defaultBootPoll is how often create reads the appliance's guestinfo while it boots: one
// property read of the endpoint VM each time, for the half minute of the boot.
const defaultBootPoll = 250 * time.Millisecond

// bootWatch follows the appliance of one endpoint VM from power-on to a Docker API answering
// over TLS and the vic drivers serving: it signs the guest's certificate request and hands it
// the sealed credentials on the way.
type bootWatch struct {
	d  *deps
	ep *vch.EndpointVM
	// cfg is the VCH's configuration as this endpoint sees itself (config.Endpoint).
	cfg   *config.Config
	tlsm  *tlsMaterial
	creds guestinfo.Credentials
	say   func(string)

	// last is what the guest last reported; signed is the request already answered.
	last      guestinfo.Status
	signed    string
	signedKey []byte // the public key of the request signed: another key is refused
	cert      []byte // the certificate signed, PEM
	lastProbe error
	lastRead  error // the last failed reading of the endpoint VM
	// api is where the Docker API answered, once it did; version is the engine's.
	api     netip.Addr
	version string
	// done says that the watch saw the appliance through.
	done bool
}

// refusal is a failure the guest caused and waiting cannot mend: a request create refuses.
type refusal struct{ err error }

func (r *refusal) Error() string { return r.err.Error() }
func (r *refusal) Unwrap() error { return r.err }

// run waits until the Docker API answers and vic-endpoint serves the vic drivers, and returns
// the API's address and the engine's version. At the first boot vic-endpoint starts once the
// Docker API answers: until it serves, `docker network create -d vic` would wait for it.
func (w *bootWatch) run(ctx context.Context) (netip.Addr, string, error) {
	poll := w.d.bootPoll
	if poll <= 0 {
		poll = defaultBootPoll
	}
	booted := false
	var lastFailure string
	for {
		keys, power, err := w.ep.Keys(ctx)
		if err != nil {
			// vSphere may fail a reading now and then during a boot of minutes: only the
			// deadline ends the wait, with the last error.
			w.lastRead = err
			if !sleepCtx(ctx, poll) {
				return netip.Addr{}, "", fmt.Errorf("%w (last reading of the endpoint VM: %v)", ctx.Err(), err)
			}
			continue
		}
		if power == types.VirtualMachinePowerStatePoweredOff {
			return netip.Addr{}, "", errors.New("the endpoint VM is powered off")
		}
		if v := keys[guestinfo.KeyStatus]; !guestinfo.IsUnset(v) {
			if st, err := guestinfo.DecodeStatus(v); err == nil {
				st.Message = printable(st.Message) // the guest writes it; the admin's terminal shows it
				w.last = st
			}
		}
		st := w.last
		if !booted && st.Phase != "" && st.Phase != guestinfo.PhaseBooting {
			booted = true
			w.say(fmt.Sprintf("the appliance booted (boot %d)", st.Boot))
		}
		if st.Phase == guestinfo.PhaseFailed && st.Message != lastFailure {
			lastFailure = st.Message
			w.say("the appliance reports: " + st.Message)
		}
		if csr := keys[guestinfo.KeyCSR]; !guestinfo.IsUnset(csr) && csr != w.signed {
			w.say("certificate request received")
			if err := w.sign(ctx, csr, st); err != nil {
				return netip.Addr{}, "", err
			}
			w.signed = csr
		}
		if st.Phase == guestinfo.PhaseReady && w.signed != "" && !w.api.IsValid() {
			api := applianceAPIAddr(w.cfg, st)
			if api.IsValid() {
				version, err := probeDocker(ctx, w.d.dialDocker, api, w.tlsm)
				if err == nil {
					w.say(fmt.Sprintf("Docker API answering over TLS at %s (Docker %s)", dockerHost(api), version))
					w.api, w.version = api, version
				}
				w.lastProbe = err
			}
		}
		if w.api.IsValid() && st.Endpoint == guestinfo.EndpointServing {
			if w.cfg.EndpointCount() > 1 {
				w.say("vic drivers serving (the vic plugin)")
			} else {
				w.say("vic drivers serving (vic-endpoint)")
			}
			return w.api, w.version, nil
		}
		if !sleepCtx(ctx, poll) {
			return netip.Addr{}, "", ctx.Err()
		}
	}
}

// orNothing is s, or "nothing reported" when s is empty.
func orNothing(s string) string {
	if s == "" {
		return "nothing reported"
	}
	return s
}

// printable replaces the control characters of s with spaces.
func printable(s string) string {
	return strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return ' '
		}
		return r
	}, s)
}

// sleepCtx waits d, or less when ctx ends first; it reports whether ctx is still live.
func sleepCtx(ctx context.Context, d time.Duration) bool {
	select {
	case <-ctx.Done():
		return false
	case <-time.After(d):
		return true
	}
}

// sign checks the guest's request, signs it with the VCH's CA and writes the certificate and
// the credentials sealed to the request's key.
func (w *bootWatch) sign(ctx context.Context, csrPEM string, st guestinfo.Status) error {
	csr, err := checkRequest(w.cfg.Name, csrPEM, allowedNames(w.cfg, st, applianceAPIAddr(w.cfg, st)))
	if err != nil {
		return &refusal{err}
	}
	cert, chain, err := w.tlsm.signRequest(csr)
	if err != nil {
		return err
	}
	key, err := requestKey(csr)
	if err != nil {
		return err
	}
	der, err := x509.MarshalPKIXPublicKey(key)
	if err != nil {
		return err
	}
	if w.signedKey != nil && !bytes.Equal(der, w.signedKey) {
		// The credentials went to the first key: a second one is someone else's.
		return &refusal{fmt.Errorf("refusing the certificate request of VCH %q: its key is not the key of the request signed before", w.cfg.Name)}
	}
	w.signedKey, w.cert = der, cert
	sealed, err := guestinfo.SealCredentials(key, w.creds)
	if err != nil {
		return err
	}
	if err := w.ep.SetKeys(ctx, map[string]string{guestinfo.KeyCert: string(chain), guestinfo.KeyCredentials: sealed}); err != nil {
		return err
	}
	w.say("certificate signed for " + certNames(cert))
	return nil
}

// applianceAPIAddr is where the appliance's Docker API listens: the static client address,
// else the client address the guest reports, else its public one when client and public
// share a port group.
func applianceAPIAddr(cfg *config.Config, st guestinfo.Status) netip.Addr {
	if cfg.Client.Static() {
		return cfg.Client.IP.Addr()
	}
	if a := statusAddr(st, config.RoleClient); a.IsValid() {
		return a
	}
	if cfg.Client.PortGroup == cfg.Public.PortGroup {
		if cfg.Public.Static() {
			return cfg.Public.IP.Addr()
		}
		return statusAddr(st, config.RolePublic)
	}
	return netip.Addr{}
}

// statusAddr is the address the guest reports for role, with or without its prefix length.
func statusAddr(st guestinfo.Status, role config.Role) netip.Addr {
	s := st.Addresses[string(role)]
	if p, err := netip.ParsePrefix(s); err == nil {
		return p.Addr()
	}
	a, _ := netip.ParseAddr(s)
	return a
}

// report says what the guest last reported, and the serial log's last lines when the CLI can
// read them, after a failed boot.
func (w *bootWatch) report(ctx context.Context, m *vch.Manager) string {
	var b strings.Builder
	if w.last.Phase == "" {
		b.WriteString("the appliance reported nothing\n")
	} else {
		fmt.Fprintf(&b, "the appliance last reported: phase %s (boot %d)", w.last.Phase, w.last.Boot)
		if w.last.Message != "" {
			b.WriteString(": " + w.last.Message)
		}
		b.WriteString("\n")
	}
	if w.lastProbe != nil {
		fmt.Fprintf(&b, "the Docker API did not answer: %v\n", w.lastProbe)
	}
	if w.api.IsValid() && w.last.Endpoint != guestinfo.EndpointServing {
		fmt.Fprintf(&b, "the Docker API answered, vic-endpoint did not serve: %s\n", orNothing(printable(w.last.Endpoint)))
	}
	if w.lastRead != nil {
		fmt.Fprintf(&b, "the last reading of the endpoint VM failed: %v\n", w.lastRead)
	}
	log := vch.EndpointFile(w.cfg, w.ep.Number, vch.SerialLogFile)
	if tail, err := m.ReadFile(ctx, log, 4096); err == nil && len(strings.TrimSpace(string(tail))) > 0 {
		lines := strings.Split(strings.TrimRight(string(tail), "\n"), "\n")
		if len(lines) > 20 {
			lines = lines[len(lines)-20:]
		}
		fmt.Fprintf(&b, "last lines of %s:\n", log)
		for _, l := range lines {
			b.WriteString("  " + l + "\n")
		}
	}
	return b.String()
}

// bootWatches follow the appliances of a VCH's endpoint VMs, in endpoint order.
type bootWatches []*bootWatch

// reportUnfinished writes to w the report of each appliance that did not finish its boot,
// named when there are several, after a failed wait; ctx may have ended, removeTimeout bounds
// the readings.
func (ws bootWatches) reportUnfinished(ctx context.Context, w io.Writer, m *vch.Manager) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), removeTimeout)
	defer cancel()
	for _, bw := range ws {
		if bw.done {
			continue
		}
		if len(ws) > 1 {
			fmt.Fprintf(w, "endpoint VM %q:\n", bw.ep.Name())
		}
		fmt.Fprint(w, bw.report(ctx, m))
	}
}

// newBootWatches are the watches of endpoint VMs eps of the VCH configured by cfg. In a VCH of
// several endpoints, each one's lines say which.
func newBootWatches(d *deps, eps []*vch.EndpointVM, cfg *config.Config, tlsm *tlsMaterial, creds guestinfo.Credentials) bootWatches {
	var mu sync.Mutex // the watches run at once and share d.out
	ws := make(bootWatches, len(eps))
	for j, ep := range eps {
		prefix := ""
		if cfg.EndpointCount() > 1 {
			prefix = fmt.Sprintf("endpoint %d: ", ep.Number)
		}
		say := func(s string) {
			mu.Lock()
			defer mu.Unlock()
			fmt.Fprintf(d.out, "  %s%s\n", prefix, s)
		}
		ws[j] = &bootWatch{d: d, ep: ep, cfg: cfg.Endpoint(ep.Number), tlsm: tlsm, creds: creds, say: say}
	}
	return ws
}

// runBootWatches runs the watches at once until each one's Docker API answers and its vic
// drivers serve. The first failure ends them all and is returned.
func runBootWatches(ctx context.Context, ws bootWatches) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	var wg sync.WaitGroup
	for _, w := range ws {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, _, err := w.run(ctx); err != nil {
				if w.cfg.EndpointCount() > 1 {
					err = fmt.Errorf("endpoint VM %q: %w", w.ep.Name(), err)
				}
				cancel(err)
				return
			}
			w.done = true
		}()
	}
	wg.Wait()
	return context.Cause(ctx)
}

// answered reports whether some watch saw its Docker API answer.
func (ws bootWatches) answered() bool {
	return slices.ContainsFunc(ws, func(w *bootWatch) bool { return w.api.IsValid() })
}

// names are the endpoint VMs' names, apis the addresses where their Docker APIs answered.
func (ws bootWatches) names() []string {
	out := make([]string, len(ws))
	for i, w := range ws {
		out[i] = w.ep.Name()
	}
	return out
}

func (ws bootWatches) apis() []netip.Addr {
	out := make([]netip.Addr, len(ws))
	for i, w := range ws {
		out[i] = w.api
	}
	return out
}
