package vsphere

import (
	"crypto/x509"
	"fmt"
	"strings"

	"github.com/vmware/govmomi/vim25/soap"
)

// NormalizeThumbprint returns a SHA-1 or SHA-256 certificate thumbprint in the form vSphere
// shows it: upper-case hex pairs joined by colons. It accepts any case, with or without colons.
func NormalizeThumbprint(s string) (string, error) {
	hex := strings.ToUpper(strings.NewReplacer(":", "", " ", "").Replace(strings.TrimSpace(s)))
	if len(hex) != 40 && len(hex) != 64 {
		return "", fmt.Errorf("invalid --thumbprint %q: a thumbprint is a SHA-1 (20 bytes) or SHA-256 (32 bytes) hash in hex", s)
	}
	for _, r := range hex {
		if !(r >= '0' && r <= '9' || r >= 'A' && r <= 'F') {
			return "", fmt.Errorf("invalid --thumbprint %q: %q is not a hex digit", s, r)
		}
	}
	pairs := make([]string, 0, len(hex)/2)
	for i := 0; i < len(hex); i += 2 {
		pairs = append(pairs, hex[i:i+2])
	}
	return strings.Join(pairs, ":"), nil
}

// Thumbprints are the SHA-1 and SHA-256 thumbprints of a certificate.
type Thumbprints struct {
	SHA1   string
	SHA256 string
}

// ThumbprintsOf returns the thumbprints of cert.
func ThumbprintsOf(cert *x509.Certificate) Thumbprints {
	return Thumbprints{SHA1: soap.ThumbprintSHA1(cert), SHA256: soap.ThumbprintSHA256(cert)}
}

// Matches reports whether the normalized thumbprint tp is one of t.
func (t Thumbprints) Matches(tp string) bool {
	return tp != "" && (tp == t.SHA1 || tp == t.SHA256)
}

// UntrustedError says that the server's certificate is not trusted and no thumbprint vouches
// for it.
type UntrustedError struct {
	// Host is host:port of the server.
	Host string
	Thumbprints
}

func (e *UntrustedError) Error() string {
	return fmt.Sprintf("the certificate of %s is not trusted: check its thumbprint SHA-1 %s (SHA-256 %s) and pass --thumbprint %s, or --insecure",
		e.Host, e.SHA1, e.SHA256, e.SHA1)
}

// ThumbprintMismatchError says that the server's certificate does not match the thumbprint
// the user gave.
type ThumbprintMismatchError struct {
	Host  string
	Given string
	Thumbprints
}

func (e *ThumbprintMismatchError) Error() string {
	actual := e.SHA1
	if len(e.Given) == len(e.SHA256) {
		actual = e.SHA256
	}
	return fmt.Sprintf("the certificate of %s does not match --thumbprint %s: its thumbprint is %s; check that you reach the right server", e.Host, e.Given, actual)
}
