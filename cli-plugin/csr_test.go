package main

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"net"
	"net/netip"
	"strings"
	"testing"

	"gotest.tools/v3/assert"

	"github.com/docker-vic/docker-vic/api/guestinfo"
	"github.com/docker-vic/docker-vic/config"
)

func makeCSR(t *testing.T, key crypto.Signer, cn string, dns []string, ips ...string) string {
	t.Helper()
	tmpl := &x509.CertificateRequest{Subject: pkix.Name{CommonName: cn}, DNSNames: dns}
	for _, s := range ips {
		tmpl.IPAddresses = append(tmpl.IPAddresses, net.ParseIP(s))
	}
	der, err := x509.CreateCertificateRequest(rand.Reader, tmpl, key)
	assert.NilError(t, err)
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der}))
}

func TestCheckRequest(t *testing.T) {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	p384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	rsaKey, _ := rsa.GenerateKey(rand.Reader, 2048)
	cfg := config.New("vch1")
	cfg.Public.IP = netip.MustParsePrefix("198.51.100.10/24")
	cfg.ApplyDefaults()
	// The guest reports the public address it has, and claims another: a static role's address
	// is the configured one, whatever the guest reports.
	st := guestinfo.Status{Addresses: map[string]string{"management": "203.0.113.98/27", "public": "198.51.100.99/24"}}
	allowed := allowedNames(cfg, st, mustAddr("198.51.100.10"))

	good := makeCSR(t, key, "vch1", []string{"vch1"}, "198.51.100.10", "203.0.113.98")
	tampered := strings.Replace(good, good[len(good)/2:len(good)/2+4], "AAAA", 1)
	const refuse = `refusing the certificate request of VCH "vch1": `
	for _, tc := range []struct {
		name, csr, want string
	}{
		{"Good", good, ""},
		{"NotPEM", "hello", "it is not a PEM CERTIFICATE REQUEST"},
		{"Tampered", tampered, ""}, // refused one way or another, checked below
		{"RSA", makeCSR(t, rsaKey, "vch1", nil, "198.51.100.10"), "its key is not an ECDSA P-256 key"},
		{"P384", makeCSR(t, p384, "vch1", nil, "198.51.100.10"), "its key is not an ECDSA P-256 key"},
		{"OtherName", makeCSR(t, key, "vch2", nil, "198.51.100.10"), `its common name is "vch2", not the VCH's name`},
		{"ForeignDNS", makeCSR(t, key, "vch1", []string{"vcenter.example.com"}, "198.51.100.10"), `it names "vcenter.example.com", which is not the VCH's name or localhost`},
		{"ForeignIP", makeCSR(t, key, "vch1", nil, "198.51.100.10", "192.0.2.1"), "it names 192.0.2.1, which is not an address of the VCH"},
		{"ClaimedStaticRole", makeCSR(t, key, "vch1", nil, "198.51.100.10", "198.51.100.99"), "it names 198.51.100.99, which is not an address of the VCH"},
		{"NoAPIAddress", makeCSR(t, key, "vch1", []string{"vch1"}), "it does not name 198.51.100.10, where the Docker API is reached"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := checkRequest("vch1", tc.csr, allowed)
			switch {
			case tc.name == "Good":
				assert.NilError(t, err)
			case tc.name == "Tampered":
				assert.ErrorContains(t, err, refuse)
			default:
				assert.Error(t, err, refuse+tc.want)
			}
		})
	}
}

func TestSignRequestChainsToTheCA(t *testing.T) {
	m, err := newPKI("vch1")
	assert.NilError(t, err)
	assert.Assert(t, m.ServerKey == nil, "the server's key is the guest's to make")
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	csrPEM := makeCSR(t, key, "vch1", []string{"vch1"}, "198.51.100.10")
	b, _ := pem.Decode([]byte(csrPEM))
	csr, err := x509.ParseCertificateRequest(b.Bytes)
	assert.NilError(t, err)
	_, chain, err := m.signRequest(csr)
	assert.NilError(t, err)

	leaf := parseCert(t, string(chain))
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(m.CACert)
	_, err = leaf.Verify(x509.VerifyOptions{DNSName: "198.51.100.10", Roots: roots, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}})
	assert.NilError(t, err)
	assert.Assert(t, leaf.PublicKey.(*ecdsa.PublicKey).Equal(&key.PublicKey))
	assert.Assert(t, strings.HasSuffix(string(chain), string(m.CACert)))
}
