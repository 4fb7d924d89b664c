package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"
)

// Files of a VCH's TLS directory, named as Docker expects them (DOCKER_CERT_PATH).
const (
	fileCA         = "ca.pem"
	fileCAKey      = "ca-key.pem"
	fileServerCert = "server-cert.pem"
	fileServerKey  = "server-key.pem"
	fileClientCert = "cert.pem"
	fileClientKey  = "key.pem"
)

var tlsFiles = []string{fileCA, fileCAKey, fileServerCert, fileServerKey, fileClientCert, fileClientKey}

const (
	caValidity   = 10 * 365 * 24 * time.Hour
	certValidity = 3 * 365 * 24 * time.Hour
)

// hostnameRE is what may go in a certificate's DNS names.
var hostnameRE = regexp.MustCompile(`^[a-zA-Z0-9]([a-zA-Z0-9.-]*[a-zA-Z0-9])?$`)

// tlsMaterial is the Docker API's PKI of one VCH: a CA, the endpoint's server certificate and
// the admin's client certificate, all PEM.
type tlsMaterial struct {
	CACert, CAKey         []byte
	ServerCert, ServerKey []byte
	ClientCert, ClientKey []byte

	ca    *x509.Certificate
	caKey *ecdsa.PrivateKey
}

// newTLSMaterial creates a CA and issues the server certificate (for name, localhost and
// addrs) and a client certificate: the PKI of a VCH whose endpoint boots nothing, where the
// server's key is made here.
func newTLSMaterial(name string, addrs []netip.Addr) (*tlsMaterial, error) {
	m, err := newPKI(name)
	if err != nil {
		return nil, err
	}
	if err := m.issueServer(name, addrs); err != nil {
		return nil, err
	}
	return m, nil
}

// newPKI creates a CA and a client certificate. The appliance makes the server's key itself
// and sends a request for its certificate (signRequest).
func newPKI(name string) (*tlsMaterial, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("generating the CA key of VCH %q: %w", name, err)
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber:          serial(),
		Subject:               pkix.Name{CommonName: "docker-vic CA for VCH " + name, Organization: []string{"docker-vic"}},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(caValidity),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, fmt.Errorf("creating the CA of VCH %q: %w", name, err)
	}
	m := &tlsMaterial{caKey: key}
	if m.ca, err = x509.ParseCertificate(der); err != nil {
		return nil, err
	}
	m.CACert = pemBlock("CERTIFICATE", der)
	if m.CAKey, err = pemKey(key); err != nil {
		return nil, err
	}
	m.ClientCert, m.ClientKey, err = m.issue(&x509.Certificate{
		Subject:     pkix.Name{CommonName: "docker-vic client of VCH " + name},
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	})
	if err != nil {
		return nil, fmt.Errorf("issuing the client certificate of VCH %q: %w", name, err)
	}
	return m, nil
}

// issueServer (re)issues the server certificate for name, localhost and addrs.
func (m *tlsMaterial) issueServer(name string, addrs []netip.Addr) error {
	tmpl := &x509.Certificate{
		Subject:     pkix.Name{CommonName: name},
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		DNSNames:    []string{"localhost"},
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)},
	}
	if hostnameRE.MatchString(name) && !slices.Contains(tmpl.DNSNames, name) {
		tmpl.DNSNames = append(tmpl.DNSNames, name)
	}
	for _, a := range addrs {
		if a.IsValid() && !a.IsLoopback() {
			tmpl.IPAddresses = append(tmpl.IPAddresses, net.IP(a.AsSlice()))
		}
	}
	cert, key, err := m.issue(tmpl)
	if err != nil {
		return fmt.Errorf("issuing the server certificate of VCH %q: %w", name, err)
	}
	m.ServerCert, m.ServerKey = cert, key
	return nil
}

// serverCovers reports whether the server certificate is valid for a.
func (m *tlsMaterial) serverCovers(a netip.Addr) bool {
	b, _ := pem.Decode(m.ServerCert)
	if b == nil {
		return false
	}
	c, err := x509.ParseCertificate(b.Bytes)
	if err != nil {
		return false
	}
	return c.VerifyHostname(a.String()) == nil
}

func (m *tlsMaterial) issue(tmpl *x509.Certificate) (cert, key []byte, err error) {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	cert, err = m.sign(tmpl, &k.PublicKey)
	if err != nil {
		return nil, nil, err
	}
	key, err = pemKey(k)
	return cert, key, err
}

// sign issues tmpl for pub with the CA, valid from an hour ago for certValidity.
func (m *tlsMaterial) sign(tmpl *x509.Certificate, pub any) ([]byte, error) {
	now := time.Now()
	tmpl.SerialNumber = serial()
	tmpl.NotBefore = now.Add(-time.Hour)
	tmpl.NotAfter = now.Add(certValidity)
	tmpl.KeyUsage = x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment
	der, err := x509.CreateCertificate(rand.Reader, tmpl, m.ca, pub, m.caKey)
	if err != nil {
		return nil, err
	}
	return pemBlock("CERTIFICATE", der), nil
}

// write stores the material in dir (created 0700; keys 0600, certificates 0644). What the
// material lacks (the server's key, made by the appliance) is not written.
func (m *tlsMaterial) write(dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("creating TLS directory %s: %w", dir, err)
	}
	for _, f := range []struct {
		name string
		data []byte
		mode os.FileMode
	}{
		{fileCA, m.CACert, 0o644}, {fileCAKey, m.CAKey, 0o600},
		{fileServerCert, m.ServerCert, 0o644}, {fileServerKey, m.ServerKey, 0o600},
		{fileClientCert, m.ClientCert, 0o644}, {fileClientKey, m.ClientKey, 0o600},
	} {
		if f.data == nil {
			continue
		}
		if err := writeFileAtomic(filepath.Join(dir, f.name), f.data, f.mode); err != nil {
			return err
		}
	}
	return nil
}

func writeFileAtomic(path string, data []byte, mode os.FileMode) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, mode); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err := os.Chmod(tmp, mode); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	return nil
}

// removeTLSDir removes the files docker-vic writes in dir, then dir itself when it is empty.
// Missing files are fine.
func removeTLSDir(dir string) error {
	var errs []error
	for _, f := range tlsFiles {
		if err := os.Remove(filepath.Join(dir, f)); err != nil && !errors.Is(err, os.ErrNotExist) {
			errs = append(errs, err)
		}
	}
	if entries, err := os.ReadDir(dir); err == nil && len(entries) == 0 {
		if err := os.Remove(dir); err != nil && !errors.Is(err, os.ErrNotExist) {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// hasTLSFiles reports whether dir already holds a docker-vic CA.
func hasTLSFiles(dir string) bool {
	_, err := os.Stat(filepath.Join(dir, fileCA))
	return err == nil
}

// caFingerprint returns the SHA-256 fingerprint of a PEM certificate, colon hex, or "".
func caFingerprint(certPEM string) string {
	b, _ := pem.Decode([]byte(certPEM))
	if b == nil {
		return ""
	}
	sum := sha256.Sum256(b.Bytes)
	hex := make([]string, len(sum))
	for i, c := range sum {
		hex[i] = fmt.Sprintf("%02X", c)
	}
	return strings.Join(hex, ":")
}

func pemBlock(kind string, der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: kind, Bytes: der})
}

func pemKey(k *ecdsa.PrivateKey) ([]byte, error) {
	der, err := x509.MarshalECPrivateKey(k)
	if err != nil {
		return nil, fmt.Errorf("encoding a private key: %w", err)
	}
	return pemBlock("EC PRIVATE KEY", der), nil
}

func serial() *big.Int {
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return big.NewInt(time.Now().UnixNano())
	}
	return n
}
