package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"

	"github.com/docker-vic/docker-vic/api/guestinfo"
	"github.com/docker-vic/docker-vic/config"
)

// serverNames are the names the appliance's server certificate may carry: the VCH's name,
// localhost, and its addresses. need are those it must carry: where the Docker API is reached.
type serverNames struct {
	dns  []string
	ips  []netip.Addr
	need []netip.Addr
}

// allowedNames lists what the certificate of VCH cfg may name: the VCH name and localhost,
// 127.0.0.1, the static public, client and management addresses, and the addresses the guest
// reports for the roles that have no static one (DHCP). api, when valid, must be named.
func allowedNames(cfg *config.Config, st guestinfo.Status, api netip.Addr) serverNames {
	n := serverNames{dns: []string{"localhost"}, ips: []netip.Addr{netip.AddrFrom4([4]byte{127, 0, 0, 1})}}
	if hostnameRE.MatchString(cfg.Name) {
		n.dns = append(n.dns, cfg.Name)
	}
	for _, r := range []config.RoleNetwork{cfg.Public, cfg.Client, cfg.Management} {
		if r.Static() {
			n.ips = append(n.ips, r.IP.Addr())
		}
	}
	// A reported address counts only for a role without a static one: the guest writes its
	// status, and must not get a certificate for an address it merely claims.
	for role, r := range map[config.Role]config.RoleNetwork{config.RolePublic: cfg.Public, config.RoleClient: cfg.Client, config.RoleManagement: cfg.Management} {
		if a := statusAddr(st, role); a.IsValid() && !r.Static() {
			n.ips = append(n.ips, a)
		}
	}
	if api.IsValid() {
		n.need = append(n.need, api)
	}
	return n
}

// checkRequest parses the appliance's PEM certificate request for VCH name and checks its
// signature, its key (P-256, as sealing needs) and its names against allowed. Every refusal is
// one sentence.
func checkRequest(name, csrPEM string, allowed serverNames) (*x509.CertificateRequest, error) {
	refuse := func(why string) error {
		return fmt.Errorf("refusing the certificate request of VCH %q: %s", name, why)
	}
	b, _ := pem.Decode([]byte(csrPEM))
	if b == nil || b.Type != "CERTIFICATE REQUEST" {
		return nil, refuse("it is not a PEM CERTIFICATE REQUEST")
	}
	csr, err := x509.ParseCertificateRequest(b.Bytes)
	if err != nil {
		return nil, refuse("it does not parse: " + err.Error())
	}
	if err := csr.CheckSignature(); err != nil {
		return nil, refuse("its signature does not match its key")
	}
	if k, ok := csr.PublicKey.(*ecdsa.PublicKey); !ok || k.Curve != elliptic.P256() {
		return nil, refuse("its key is not an ECDSA P-256 key")
	}
	if csr.Subject.CommonName != name {
		return nil, refuse(fmt.Sprintf("its common name is %q, not the VCH's name", csr.Subject.CommonName))
	}
	if len(csr.EmailAddresses) > 0 || len(csr.URIs) > 0 {
		return nil, refuse("it names e-mail addresses or URIs, which a Docker API has not")
	}
	for _, d := range csr.DNSNames {
		if !slices.Contains(allowed.dns, d) {
			return nil, refuse(fmt.Sprintf("it names %q, which is not the VCH's name or localhost", d))
		}
	}
	var ips []netip.Addr
	for _, ip := range csr.IPAddresses {
		a, ok := netip.AddrFromSlice(ip)
		if !ok || !slices.Contains(allowed.ips, a.Unmap()) {
			return nil, refuse(fmt.Sprintf("it names %s, which is not an address of the VCH", ip))
		}
		ips = append(ips, a.Unmap())
	}
	for _, a := range allowed.need {
		if !slices.Contains(ips, a) {
			return nil, refuse(fmt.Sprintf("it does not name %s, where the Docker API is reached", a))
		}
	}
	return csr, nil
}

// signRequest issues the Docker API's server certificate for a checked request, and returns
// it, and it followed by the CA's certificate: KeyCert's value.
func (m *tlsMaterial) signRequest(csr *x509.CertificateRequest) (cert, chain []byte, err error) {
	tmpl := &x509.Certificate{
		Subject:     pkix.Name{CommonName: csr.Subject.CommonName},
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		DNSNames:    csr.DNSNames,
		IPAddresses: csr.IPAddresses,
	}
	cert, err = m.sign(tmpl, csr.PublicKey)
	if err != nil {
		return nil, nil, fmt.Errorf("signing the certificate request of VCH %q: %w", csr.Subject.CommonName, err)
	}
	return cert, append(slices.Clip(cert), m.CACert...), nil
}

// certNames lists what a PEM certificate names, for progress lines.
func certNames(certPEM []byte) string {
	b, _ := pem.Decode(certPEM)
	if b == nil {
		return ""
	}
	c, err := x509.ParseCertificate(b.Bytes)
	if err != nil {
		return ""
	}
	names := slices.Clone(c.DNSNames)
	for _, ip := range c.IPAddresses {
		names = append(names, ip.String())
	}
	return strings.Join(names, ", ")
}

// requestKey is the public key of a checked request, which the credentials are sealed to.
func requestKey(csr *x509.CertificateRequest) (*ecdsa.PublicKey, error) {
	k, ok := csr.PublicKey.(*ecdsa.PublicKey)
	if !ok {
		return nil, errors.New("the certificate request's key is not ECDSA")
	}
	return k, nil
}
