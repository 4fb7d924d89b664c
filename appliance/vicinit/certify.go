package vicinit

import (
	"context"
	"crypto/ecdsa"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/docker-vic/docker-vic/api/guestinfo"
)

// TLSFiles are the Docker API's files that dockerd reads.
type TLSFiles struct {
	Key, Cert, ClientCA string
}

// Certify gets the Docker API a certificate: it reads the key in keyDir, or makes it there at
// first boot, publishes the certificate request for name and ips (kept in keyDir while they
// stay the same), and waits for guestinfo.KeyCert to hold a certificate for that key and
// guestinfo.KeyClientCA the client CA. It writes both in runDir.
func Certify(ctx context.Context, ch guestinfo.Channel, rep *Reporter, keyDir, runDir, name string, ips []netip.Addr) (TLSFiles, error) {
	files := TLSFiles{Key: filepath.Join(keyDir, "server-key.pem"), Cert: filepath.Join(runDir, "server-cert.pem"), ClientCA: filepath.Join(runDir, "client-ca.pem")}
	key, created, err := LoadOrCreateKey(files.Key)
	if err != nil {
		return files, err
	}
	if created {
		rep.log.Printf("made the Docker API's private key %s (first boot)", files.Key)
	}
	csr, err := requestFor(key, filepath.Join(keyDir, "server.csr"), name, ips)
	if err != nil {
		return files, err
	}
	if err := ch.Set(ctx, guestinfo.KeyCSR, csr); err != nil {
		return files, fmt.Errorf("publishing the certificate request: %w", err)
	}
	var chain string
	for {
		rep.Phase(ctx, guestinfo.PhaseCertificate, fmt.Sprintf("published the certificate request for %s; waiting for the signed certificate", describe(name, ips)))
		chain, err = waitKey(ctx, ch, guestinfo.KeyCert, nil)
		if err != nil {
			return files, err
		}
		leaf, err := CertFor(chain, key)
		if err == nil {
			err = covers(leaf, ips)
		}
		if err == nil {
			break
		}
		rep.Fail(ctx, fmt.Errorf("%s: %w; waiting for a new one", guestinfo.KeyCert, err))
		if err := sleepCtx(ctx, 5*PollInterval); err != nil {
			return files, err
		}
	}
	ca, err := waitKey(ctx, ch, guestinfo.KeyClientCA, nil)
	if err != nil {
		return files, err
	}
	if blk, _ := pem.Decode([]byte(ca)); blk == nil || blk.Type != "CERTIFICATE" {
		return files, fmt.Errorf("%s holds no PEM certificate", guestinfo.KeyClientCA)
	}
	if err := writeFile(files.Cert, []byte(chain), 0o644); err != nil {
		return files, err
	}
	return files, writeFile(files.ClientCA, []byte(ca), 0o644)
}

// requestFor returns the request kept in path when it is for key, name and ips, else makes
// one and keeps it there.
func requestFor(key *ecdsa.PrivateKey, path, name string, ips []netip.Addr) (string, error) {
	if b, err := os.ReadFile(path); err == nil {
		if blk, _ := pem.Decode(b); blk != nil {
			if r, err := x509.ParseCertificateRequest(blk.Bytes); err == nil && sameRequest(r, key, name, ips) {
				return string(b), nil
			}
		}
	}
	csr, err := MakeCSR(key, name, ips)
	if err != nil {
		return "", err
	}
	return csr, writeFile(path, []byte(csr), 0o644)
}

func sameRequest(r *x509.CertificateRequest, key *ecdsa.PrivateKey, name string, ips []netip.Addr) bool {
	pub, ok := r.PublicKey.(*ecdsa.PublicKey)
	if !ok || !pub.Equal(&key.PublicKey) || r.Subject.CommonName != name || len(r.IPAddresses) != len(ips) {
		return false
	}
	for i, ip := range r.IPAddresses {
		if a, _ := netip.AddrFromSlice(ip); a.Unmap() != ips[i] {
			return false
		}
	}
	return true
}

// covers checks that the certificate names every address clients reach the VCH at.
func covers(leaf *x509.Certificate, ips []netip.Addr) error {
	var have []netip.Addr
	for _, ip := range leaf.IPAddresses {
		a, _ := netip.AddrFromSlice(ip)
		have = append(have, a.Unmap())
	}
	for _, ip := range ips {
		if !slices.Contains(have, ip) {
			return fmt.Errorf("the signed certificate does not name %s", ip)
		}
	}
	return nil
}

func describe(name string, ips []netip.Addr) string {
	s := make([]string, len(ips))
	for i, a := range ips {
		s[i] = a.String()
	}
	return fmt.Sprintf("%q (%s)", name, strings.Join(s, ", "))
}

// WaitCredentials waits for guestinfo.KeyCredentials, opens it with key and writes the vSphere
// user and password to path as vic-endpoint's --credentials file (0600; path is on a tmpfs).
func WaitCredentials(ctx context.Context, ch guestinfo.Channel, key *ecdsa.PrivateKey, path string) error {
	sealed, err := waitKey(ctx, ch, guestinfo.KeyCredentials, nil)
	if err != nil {
		return err
	}
	c, err := guestinfo.OpenCredentials(key, sealed)
	if err != nil {
		return err
	}
	if strings.ContainsAny(c.User+c.Password, "\n\r") {
		return fmt.Errorf("the vSphere credentials hold a line break, which vic-endpoint's credentials file cannot carry")
	}
	return writeFile(path, []byte(fmt.Sprintf("VIC_USER=%s\nVIC_PASSWORD=%s\n", c.User, c.Password)), 0o600)
}

// sleepCtx waits d, or returns ctx's error when it ends first.
func sleepCtx(ctx context.Context, d time.Duration) error {
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(d):
		return nil
	}
}
