package vicinit

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/pem"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"gotest.tools/v3/assert"

	"github.com/docker-vic/docker-vic/api/guestinfo"
	"github.com/docker-vic/docker-vic/appliance/internal/fakehost"
)

// guest returns a channel to host over guestinfo's wire, as the guest has it under qemu.
func guest(t *testing.T, host guestinfo.Store) guestinfo.Channel {
	ctx, cancel := context.WithCancel(context.Background())
	h, g := net.Pipe()
	go guestinfo.ServeWire(ctx, h, host) //nolint:errcheck // ends with the pipe
	ch := guestinfo.NewWireChannel(g)
	t.Cleanup(func() { cancel(); ch.Close(); h.Close() })
	return ch
}

func newHost(t *testing.T) *fakehost.Host {
	ca, err := fakehost.NewCA("test CA")
	assert.NilError(t, err)
	return fakehost.New(ca, guestinfo.Credentials{User: "ops@vsphere.local", Password: "pa ss=word"}, nil)
}

// TestCertifyPublishesARequestAndWritesTheSignedFiles: a first boot makes the key, publishes
// a request with the VCH's names, and writes what the host signed; the private key never
// reaches guestinfo, and the credentials open into a root-only file.
func TestCertifyPublishesARequestAndWritesTheSignedFiles(t *testing.T) {
	PollInterval = 10 * time.Millisecond
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	host := newHost(t)
	ch := guest(t, host)
	var console bytes.Buffer
	rep := NewReporter(ch, NewLog(&console))
	dir := t.TempDir()
	ips := []netip.Addr{netip.MustParseAddr("198.51.100.2"), netip.MustParseAddr("203.0.113.2")}

	files, err := Certify(ctx, ch, rep, filepath.Join(dir, "data"), filepath.Join(dir, "run"), "vch1", ips)
	assert.NilError(t, err)

	blk, _ := pem.Decode([]byte(host.Keys()[guestinfo.KeyCSR]))
	assert.Assert(t, blk != nil, "no request published")
	req, err := x509.ParseCertificateRequest(blk.Bytes)
	assert.NilError(t, err)
	assert.Equal(t, req.Subject.CommonName, "vch1")
	assert.DeepEqual(t, req.DNSNames, []string{"vch1"})
	assert.Equal(t, len(req.IPAddresses), 2)
	assert.Equal(t, req.IPAddresses[0].String(), "198.51.100.2")
	assert.Equal(t, req.IPAddresses[1].String(), "203.0.113.2")

	st, err := os.Stat(files.Key)
	assert.NilError(t, err)
	assert.Equal(t, st.Mode().Perm(), os.FileMode(0o600))
	key, _ := os.ReadFile(files.Key)
	for k, v := range host.Keys() {
		assert.Assert(t, !strings.Contains(v, "PRIVATE KEY") && !strings.Contains(v, string(key)), "key %s holds the private key", k)
	}
	cert, _ := os.ReadFile(files.Cert)
	assert.Equal(t, string(cert), host.Keys()[guestinfo.KeyCert])
	ca, _ := os.ReadFile(files.ClientCA)
	assert.Equal(t, string(ca), host.CA.PEM)
	statuses := host.Statuses()
	assert.Assert(t, len(statuses) > 0)
	assert.Equal(t, statuses[0].Phase, guestinfo.PhaseCertificate)

	// The next boot keeps the key and the request.
	csr := host.Keys()[guestinfo.KeyCSR]
	_, err = Certify(ctx, ch, rep, filepath.Join(dir, "data"), filepath.Join(dir, "run"), "vch1", ips)
	assert.NilError(t, err)
	assert.Equal(t, host.Keys()[guestinfo.KeyCSR], csr)

	pk, _, err := LoadOrCreateKey(files.Key)
	assert.NilError(t, err)
	creds := filepath.Join(dir, "run", "credentials")
	assert.NilError(t, WaitCredentials(ctx, ch, pk, creds))
	b, _ := os.ReadFile(creds)
	assert.Equal(t, string(b), "VIC_USER=ops@vsphere.local\nVIC_PASSWORD=pa ss=word\n")
	st, _ = os.Stat(creds)
	assert.Equal(t, st.Mode().Perm(), os.FileMode(0o600))
}

// TestCertifyWaitsForACertificateOfItsOwnKey: a certificate left from an earlier key is
// reported as failed, and the guest waits for its own.
func TestCertifyWaitsForACertificateOfItsOwnKey(t *testing.T) {
	PollInterval = 10 * time.Millisecond
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	host := newHost(t)
	// A certificate for another key, before the guest publishes its request.
	other := t.TempDir()
	okey, _, _ := LoadOrCreateKey(filepath.Join(other, "k.pem"))
	ocsr, _ := MakeCSR(okey, "vch1", []netip.Addr{netip.MustParseAddr("198.51.100.2")})
	stale, _, err := host.CA.SignCSR(ocsr)
	assert.NilError(t, err)
	host = fakehost.New(host.CA, host.Credentials, map[string]string{guestinfo.KeyCert: stale, guestinfo.KeyClientCA: host.CA.PEM})
	// This host signs only when told: the guest first sees the stale certificate.
	ch := guest(t, slowSigner{host})
	var console bytes.Buffer
	rep := NewReporter(ch, NewLog(&console))
	done := make(chan error, 1)
	dir := t.TempDir()
	go func() {
		_, err := Certify(ctx, ch, rep, dir, dir, "vch1", []netip.Addr{netip.MustParseAddr("198.51.100.2")})
		done <- err
	}()
	st, err := host.WaitStatus(ctx, func(s guestinfo.Status) bool { return s.Phase == guestinfo.PhaseFailed })
	assert.NilError(t, err)
	assert.Assert(t, strings.Contains(st.Message, "for another key"), st.Message)
	// Now the host signs the guest's request.
	assert.NilError(t, host.Set(ctx, guestinfo.KeyCSR, host.Keys()[guestinfo.KeyCSR]))
	assert.NilError(t, <-done)
	assert.Assert(t, strings.Contains(console.String(), "failed: guestinfo.vic.tls.cert: the signed certificate is for another key"), console.String())
}

// slowSigner stores the guest's request without signing it.
type slowSigner struct{ *fakehost.Host }

func (s slowSigner) Set(ctx context.Context, key, value string) error {
	if key == guestinfo.KeyCSR {
		return s.Host.SetRaw(key, value)
	}
	return s.Host.Set(ctx, key, value)
}

// TestReporterWritesEachChange: the status goes to guestinfo at each change only, in order.
func TestReporterWritesEachChange(t *testing.T) {
	ctx := context.Background()
	host := newHost(t)
	var console bytes.Buffer
	rep := NewReporter(nil, NewLog(&console))
	rep.Phase(ctx, guestinfo.PhaseBooting, "loading the drivers")
	rep.SetChannel(ctx, guest(t, host))
	rep.Set(ctx, func(s *guestinfo.Status) { s.Boot = 1 })
	rep.Set(ctx, func(s *guestinfo.Status) { s.Boot = 1 })
	rep.Phase(ctx, guestinfo.PhaseNetwork, "applying addresses")
	rep.Set(ctx, func(s *guestinfo.Status) { s.Addresses = map[string]string{"client": "198.51.100.2/24"} })
	rep.Fail(ctx, errNoDocker)
	rep.Phase(ctx, guestinfo.PhaseReady, "the Docker API answers")
	var got []string
	for _, s := range host.Statuses() {
		got = append(got, string(s.Phase)+" "+s.Message+" "+s.Addresses["client"])
		assert.Assert(t, !s.Time.IsZero())
	}
	assert.DeepEqual(t, got, []string{
		"booting loading the drivers ",
		"booting loading the drivers ", // boot 1
		"network applying addresses ",
		"network applying addresses 198.51.100.2/24",
		"failed dockerd does not answer 198.51.100.2/24",
		"ready the Docker API answers 198.51.100.2/24",
	})
	assert.Equal(t, host.Statuses()[1].Boot, 1)
	assert.Assert(t, strings.Contains(console.String(), "] failed: dockerd does not answer\n"), console.String())
}

var errNoDocker = errString("dockerd does not answer")

type errString string

func (e errString) Error() string { return string(e) }
