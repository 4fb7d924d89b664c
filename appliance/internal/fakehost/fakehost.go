// Package fakehost plays the CLI's side of guestinfo for the appliance's tests: a map of keys
// that signs the guest's certificate request as soon as it is published, and seals the vSphere
// credentials to its key, as `docker vic create` does.
package fakehost

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
	"math/big"
	"sync"
	"time"

	"github.com/docker-vic/docker-vic/api/guestinfo"
)

// CA is a throwaway certificate authority.
type CA struct {
	Cert *x509.Certificate
	Key  *ecdsa.PrivateKey
	PEM  string
}

// NewCA makes a CA called name.
func NewCA(name string) (*CA, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, err
	}
	cert, _ := x509.ParseCertificate(der)
	return &CA{Cert: cert, Key: key, PEM: string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))}, nil
}

// SignCSR signs a PEM request as a server certificate with its names, and returns the
// certificate followed by the CA's, and the request's public key.
func (ca *CA) SignCSR(csrPEM string) (string, *ecdsa.PublicKey, error) {
	blk, _ := pem.Decode([]byte(csrPEM))
	if blk == nil {
		return "", nil, errors.New("the request is not PEM")
	}
	req, err := x509.ParseCertificateRequest(blk.Bytes)
	if err != nil {
		return "", nil, err
	}
	if err := req.CheckSignature(); err != nil {
		return "", nil, err
	}
	pub, ok := req.PublicKey.(*ecdsa.PublicKey)
	if !ok {
		return "", nil, errors.New("the request's key is not ECDSA")
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: req.Subject,
		DNSNames: req.DNSNames, IPAddresses: req.IPAddresses,
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.Cert, pub, ca.Key)
	if err != nil {
		return "", nil, err
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})) + ca.PEM, pub, nil
}

// ClientCert makes a client certificate signed by the CA.
func (ca *CA) ClientCert(name string) (certPEM, keyPEM string, pair tls.Certificate, err error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return "", "", pair, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.Cert, &key.PublicKey, ca.Key)
	if err != nil {
		return "", "", pair, err
	}
	kder, _ := x509.MarshalECPrivateKey(key)
	certPEM = string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
	keyPEM = string(pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}))
	pair, err = tls.X509KeyPair([]byte(certPEM), []byte(keyPEM))
	return certPEM, keyPEM, pair, err
}

// Host is the keys of one VM, answering like the CLI: a request set under KeyCSR is signed
// by CA at once, and Credentials are sealed to its key.
type Host struct {
	CA          *CA
	Credentials guestinfo.Credentials

	mu       sync.Mutex
	keys     map[string]string
	statuses []guestinfo.Status
	changed  chan struct{}
}

// New returns a host with keys set.
func New(ca *CA, creds guestinfo.Credentials, keys map[string]string) *Host {
	h := &Host{CA: ca, Credentials: creds, keys: map[string]string{}, changed: make(chan struct{})}
	for k, v := range keys {
		h.keys[k] = v
	}
	return h
}

// Get implements guestinfo.Store.
func (h *Host) Get(_ context.Context, key string) (string, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.keys[key], nil
}

// Set implements guestinfo.Store.
func (h *Host) Set(_ context.Context, key, value string) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.keys[key] = value
	switch key {
	case guestinfo.KeyStatus:
		if st, err := guestinfo.DecodeStatus(value); err == nil {
			h.statuses = append(h.statuses, st)
		}
	case guestinfo.KeyCSR:
		if value == "" {
			break
		}
		chain, pub, err := h.CA.SignCSR(value)
		if err != nil {
			return fmt.Errorf("signing the request: %w", err)
		}
		sealed, err := guestinfo.SealCredentials(pub, h.Credentials)
		if err != nil {
			return err
		}
		h.keys[guestinfo.KeyCert], h.keys[guestinfo.KeyClientCA], h.keys[guestinfo.KeyCredentials] = chain, h.CA.PEM, sealed
	}
	close(h.changed)
	h.changed = make(chan struct{})
	return nil
}

// Keys returns a copy of the keys.
func (h *Host) Keys() map[string]string {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := map[string]string{}
	for k, v := range h.keys {
		out[k] = v
	}
	return out
}

// Statuses returns the statuses the guest wrote, in order.
func (h *Host) Statuses() []guestinfo.Status {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]guestinfo.Status(nil), h.statuses...)
}

// WaitStatus waits until the guest's last status satisfies ok, and returns it.
func (h *Host) WaitStatus(ctx context.Context, ok func(guestinfo.Status) bool) (guestinfo.Status, error) {
	for {
		h.mu.Lock()
		var last guestinfo.Status
		if n := len(h.statuses); n > 0 {
			last = h.statuses[n-1]
		}
		changed := h.changed
		h.mu.Unlock()
		if ok(last) {
			return last, nil
		}
		select {
		case <-ctx.Done():
			return last, fmt.Errorf("the guest's last status is %+v: %w", last, ctx.Err())
		case <-changed:
		}
	}
}

// SetRaw stores a key as a guest would set it, without signing a request.
func (h *Host) SetRaw(key, value string) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.keys[key] = value
	close(h.changed)
	h.changed = make(chan struct{})
	return nil
}
