package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"time"

	"github.com/vmware/govmomi/find"
	"github.com/vmware/govmomi/object"
	"github.com/vmware/govmomi/vim25"
	"github.com/vmware/govmomi/vim25/mo"
	"github.com/vmware/govmomi/vim25/soap"
	"github.com/vmware/govmomi/vim25/types"

	"github.com/docker-vic/docker-vic/api/guestinfo"
	"github.com/docker-vic/docker-vic/config"
	"github.com/docker-vic/docker-vic/vsphere"
)

// fakeGuest plays the appliance of VCH name through the vSphere API, as the qemu harness
// relays it: it reads its configuration, makes its key and request, reports its status with
// ReconfigVM, waits for its certificate, opens the credentials and serves GET /info over TLS
// on a loopback listener.
type fakeGuest struct {
	client *vim25.Client
	name   string
	// names returns the DNS names and addresses the request asks for; nil asks for the VCH's.
	names func(cfg *config.Config) ([]string, []net.IP)
	// stall, when set, is the status the guest stops at after publishing its request; serial
	// is what it writes to its serial log then.
	stall  *guestinfo.Status
	serial string
	// addrs are the addresses the guest reports by role; nil reports the static public one.
	addrs map[string]string
	// endpoint is vic-endpoint's state once the Docker API answers; "" is serving.
	endpoint string

	ln net.Listener
	// key is the guest's private key; creds what it opened; done says how the guest ended.
	key   *ecdsa.PrivateKey
	creds guestinfo.Credentials
	done  chan error
}

// startGuest starts playing the appliance of VCH name; dial reaches its Docker API.
func (e *testEnv) startGuest(g *fakeGuest) {
	e.t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		e.t.Fatal(err)
	}
	g.client, g.ln, g.done = e.client, ln, make(chan error, 1)
	e.dial = func(ctx context.Context, network, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, network, ln.Addr().String())
	}
	ctx, cancel := context.WithTimeout(e.ctx, 30*time.Second)
	e.t.Cleanup(func() { cancel(); ln.Close() })
	go func() { g.done <- g.run(ctx) }()
}

func (g *fakeGuest) run(ctx context.Context) error {
	vm, err := g.waitPoweredOn(ctx)
	if err != nil {
		return err
	}
	keys, err := g.keys(ctx, vm)
	if err != nil {
		return err
	}
	cfg, err := config.Decode(keys)
	if err != nil {
		return err
	}
	clientCA := keys[guestinfo.KeyClientCA]
	if _, err := guestinfo.DecodeNICs(keys[guestinfo.KeyNICs]); err != nil {
		return err
	}
	// The backdoor sets only keys that exist: create made them.
	for _, k := range guestinfo.GuestKeys {
		if _, ok := keys[k]; !ok {
			return fmt.Errorf("guest key %s does not exist", k)
		}
	}
	addrs := g.addrs
	if addrs == nil {
		addrs = map[string]string{"public": cfg.Public.IP.String()}
	}
	if err := g.set(ctx, vm, guestinfo.KeyStatus, guestinfo.Status{Phase: guestinfo.PhaseBooting, Boot: 1, Time: time.Now()}.Encode()); err != nil {
		return err
	}
	if err := g.set(ctx, vm, guestinfo.KeyStatus, guestinfo.Status{Phase: guestinfo.PhaseNetwork, Boot: 1, Time: time.Now(), Addresses: addrs}.Encode()); err != nil {
		return err
	}

	g.key, _ = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	dns, ips := []string{cfg.Name, "localhost"}, []net.IP{net.IPv4(127, 0, 0, 1)}
	for _, a := range addrs {
		ips = append(ips, net.IP(netip.MustParsePrefix(a).Addr().AsSlice()))
	}
	if g.names != nil {
		dns, ips = g.names(cfg)
	}
	der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{
		Subject: pkix.Name{CommonName: cfg.Name}, DNSNames: dns, IPAddresses: ips,
	}, g.key)
	if err != nil {
		return err
	}
	if err := g.set(ctx, vm, guestinfo.KeyCSR, string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der}))); err != nil {
		return err
	}
	waiting := guestinfo.Status{Phase: guestinfo.PhaseCertificate, Boot: 1, Time: time.Now(), Addresses: addrs, Message: "waiting for the signed certificate"}
	if g.stall != nil {
		waiting = *g.stall
	}
	if err := g.set(ctx, vm, guestinfo.KeyStatus, waiting.Encode()); err != nil {
		return err
	}
	if g.stall != nil {
		return g.writeSerial(ctx, cfg)
	}

	var certPEM, sealed string
	for certPEM == "" || sealed == "" {
		if keys, err = g.keys(ctx, vm); err != nil {
			return err
		}
		certPEM, sealed = keys[guestinfo.KeyCert], keys[guestinfo.KeyCredentials]
		if err := sleep(ctx, 20*time.Millisecond); err != nil {
			return fmt.Errorf("no certificate came: %w", err)
		}
	}
	if g.creds, err = guestinfo.OpenCredentials(g.key, sealed); err != nil {
		return err
	}
	if err := g.serve(certPEM, clientCA); err != nil {
		return err
	}
	ep := g.endpoint
	if ep == "" {
		ep = guestinfo.EndpointServing
	}
	ready := guestinfo.Status{Phase: guestinfo.PhaseReady, Boot: 1, Time: time.Now(), Addresses: addrs, Docker: "26.1.5", Endpoint: ep}
	return g.set(ctx, vm, guestinfo.KeyStatus, ready.Encode())
}

// serve answers GET /info over TLS with the signed certificate, to clients of clientCA only.
func (g *fakeGuest) serve(certPEM, clientCA string) error {
	keyDER, err := x509.MarshalECPrivateKey(g.key)
	if err != nil {
		return err
	}
	pair, err := tls.X509KeyPair([]byte(certPEM), pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}))
	if err != nil {
		return fmt.Errorf("the signed certificate: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM([]byte(clientCA)) {
		return errors.New("the client CA does not parse")
	}
	srv := &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path != "/info" {
				http.NotFound(w, r)
				return
			}
			fmt.Fprint(w, `{"ServerVersion":"26.1.5","Name":"`+g.name+`"}`)
		}),
		TLSConfig:         &tls.Config{Certificates: []tls.Certificate{pair}, ClientCAs: pool, ClientAuth: tls.RequireAndVerifyClientCert},
		ReadHeaderTimeout: 5 * time.Second,
	}
	go srv.Serve(tls.NewListener(g.ln, srv.TLSConfig)) //nolint:errcheck // ends with the listener
	return nil
}

// writeSerial puts the guest's console log where the endpoint VM's serial port writes it.
func (g *fakeGuest) writeSerial(ctx context.Context, cfg *config.Config) error {
	if g.serial == "" {
		return nil
	}
	ds, err := find.NewFinder(g.client).Datastore(ctx, cfg.Placement.ImageStore)
	if err != nil {
		return err
	}
	return ds.Upload(ctx, strings.NewReader(g.serial), cfg.Name+"/serial.log", &soap.DefaultUpload)
}

func (g *fakeGuest) waitPoweredOn(ctx context.Context) (*object.VirtualMachine, error) {
	for {
		vms, _ := find.NewFinder(g.client).VirtualMachineList(ctx, "/DC0/vm/...")
		for _, vm := range vms {
			if vm.Name() != g.name {
				continue
			}
			if st, err := vm.PowerState(ctx); err == nil && st == types.VirtualMachinePowerStatePoweredOn {
				return vm, nil
			}
		}
		if err := sleep(ctx, 20*time.Millisecond); err != nil {
			return nil, fmt.Errorf("endpoint VM %q never powered on: %w", g.name, err)
		}
	}
}

func (g *fakeGuest) keys(ctx context.Context, vm *object.VirtualMachine) (map[string]string, error) {
	var m mo.VirtualMachine
	if err := vm.Properties(ctx, vm.Reference(), []string{"config.extraConfig"}, &m); err != nil {
		return nil, err
	}
	out := map[string]string{}
	for _, o := range m.Config.ExtraConfig {
		if v, ok := o.GetOptionValue().Value.(string); ok {
			out[o.GetOptionValue().Key] = v
		}
	}
	return out, nil
}

// set writes a guest key, as the harness does for the guest's info-set.
func (g *fakeGuest) set(ctx context.Context, vm *object.VirtualMachine, key, value string) error {
	if !guestinfo.GuestWritable(key) {
		return fmt.Errorf("the guest may not set %s", key)
	}
	task, err := vm.Reconfigure(ctx, types.VirtualMachineConfigSpec{ExtraConfig: vsphere.OptionValues(map[string]string{key: value})})
	return vsphere.Wait(ctx, task, err)
}

func sleep(ctx context.Context, d time.Duration) error {
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(d):
		return nil
	}
}
