package vicinit

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
)

// LoadOrCreateKey reads the Docker API's private key from path, or makes an ECDSA P-256 key
// and writes it there (0600) when there is none: at first boot. created says which.
func LoadOrCreateKey(path string) (key *ecdsa.PrivateKey, created bool, err error) {
	b, err := os.ReadFile(path)
	if err == nil {
		blk, _ := pem.Decode(b)
		if blk == nil || blk.Type != "EC PRIVATE KEY" {
			return nil, false, fmt.Errorf("key file %s holds no PEM EC PRIVATE KEY", path)
		}
		key, err := x509.ParseECPrivateKey(blk.Bytes)
		if err != nil {
			return nil, false, fmt.Errorf("key file %s: %w", path, err)
		}
		return key, false, nil
	}
	if !errors.Is(err, os.ErrNotExist) {
		return nil, false, fmt.Errorf("reading the key: %w", err)
	}
	key, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, false, err
	}
	der, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return nil, false, err
	}
	if err := writeFile(path, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: der}), 0o600); err != nil {
		return nil, false, err
	}
	return key, true, nil
}

// MakeCSR returns the PEM request for the Docker API's server certificate: CN and DNS name the
// VCH's name, IP SANs the addresses clients reach it at.
func MakeCSR(key *ecdsa.PrivateKey, name string, ips []netip.Addr) (string, error) {
	tmpl := &x509.CertificateRequest{
		Subject:  pkix.Name{CommonName: name},
		DNSNames: []string{name},
	}
	for _, a := range ips {
		tmpl.IPAddresses = append(tmpl.IPAddresses, net.IP(a.AsSlice()))
	}
	der, err := x509.CreateCertificateRequest(rand.Reader, tmpl, key)
	if err != nil {
		return "", fmt.Errorf("making the certificate request: %w", err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der})), nil
}

// CertFor checks that chain (PEM, the leaf first) certifies key: a certificate signed for an
// earlier key (a reinstalled data disk) is not ours. It returns the leaf.
func CertFor(chain string, key *ecdsa.PrivateKey) (*x509.Certificate, error) {
	blk, _ := pem.Decode([]byte(chain))
	if blk == nil || blk.Type != "CERTIFICATE" {
		return nil, errors.New("the signed certificate is not PEM")
	}
	leaf, err := x509.ParseCertificate(blk.Bytes)
	if err != nil {
		return nil, fmt.Errorf("the signed certificate: %w", err)
	}
	pub, ok := leaf.PublicKey.(*ecdsa.PublicKey)
	if !ok || !pub.Equal(&key.PublicKey) {
		return nil, errors.New("the signed certificate is for another key than this VCH's")
	}
	return leaf, nil
}

// writeFile writes data to path through a temporary file, with mode, making the directory.
func writeFile(path string, data []byte, mode os.FileMode) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, mode); err != nil {
		return err
	}
	if err := os.Chmod(tmp, mode); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}
