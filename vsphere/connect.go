package vsphere

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/url"
	"time"

	"github.com/vmware/govmomi/fault"
	"github.com/vmware/govmomi/session"
	"github.com/vmware/govmomi/vim25"
	"github.com/vmware/govmomi/vim25/soap"
	"github.com/vmware/govmomi/vim25/types"
)

// dialTimeout bounds the certificate probe.
const dialTimeout = 15 * time.Second

// Session is a logged-in connection to vCenter or ESXi.
type Session struct {
	Client *vim25.Client
	Target *Target
	// Certificate holds the thumbprints of the server's certificate; empty over http or with
	// --insecure when the certificate was not checked.
	Certificate Thumbprints
	manager     *session.Manager
}

// Connect checks the server's certificate, connects and logs in. An untrusted certificate
// yields an *UntrustedError, a certificate that does not match t.Thumbprint a
// *ThumbprintMismatchError, both carrying the certificate's thumbprints.
func Connect(ctx context.Context, t *Target) (*Session, error) {
	s := &Session{Target: t}
	if err := s.verifyCertificate(ctx); err != nil {
		return nil, err
	}
	if t.User == "" {
		return nil, fmt.Errorf("no user for %s: give --user, a target like user@host, or set %s or %s", t.Host(), EnvUser, EnvGovcUsername)
	}
	if t.Password == "" {
		return nil, fmt.Errorf("no password for %s at %s: give --password or set %s or %s", t.User, t.Host(), EnvPassword, EnvGovcPassword)
	}

	sc := soap.NewClient(t.URL, t.Insecure)
	if t.Thumbprint != "" {
		sc.SetThumbprint(t.URL.Host, t.Thumbprint)
	}
	vc, err := vim25.NewClient(ctx, sc)
	if err != nil {
		return nil, fmt.Errorf("connecting to %s: %w", t.Host(), err)
	}
	s.Client = vc
	s.manager = session.NewManager(vc)
	if err := s.manager.Login(ctx, url.UserPassword(t.User, t.Password)); err != nil {
		if fault.Is(err, &types.InvalidLogin{}) {
			return nil, fmt.Errorf("logging in to %s as %q: %w", t.Host(), t.User, ErrBadLogin)
		}
		return nil, fmt.Errorf("logging in to %s as %q: %w", t.Host(), t.User, err)
	}
	return s, nil
}

// Logout ends the session. It is safe on a nil session.
func (s *Session) Logout(ctx context.Context) error {
	if s == nil || s.manager == nil {
		return nil
	}
	if err := s.manager.Logout(ctx); err != nil {
		return fmt.Errorf("logging out of %s: %w", s.Target.Host(), err)
	}
	return nil
}

// About describes the product behind the session ("VMware vCenter Server 8.0.3 build-...").
func (s *Session) About() types.AboutInfo { return s.Client.ServiceContent.About }

// verifyCertificate refuses a certificate that neither the system trusts nor the thumbprint
// vouches for, unless the target is insecure.
func (s *Session) verifyCertificate(ctx context.Context) error {
	t := s.Target
	if t.URL.Scheme != "https" || (t.Insecure && t.Thumbprint == "") {
		return nil
	}
	cert, trusted, err := probeCertificate(ctx, t.Host(), t.URL.Hostname())
	if err != nil {
		return fmt.Errorf("connecting to %s: %w", t.Host(), err)
	}
	s.Certificate = ThumbprintsOf(cert)
	switch {
	case t.Thumbprint != "" && !s.Certificate.Matches(t.Thumbprint):
		return &ThumbprintMismatchError{Host: t.Host(), Given: t.Thumbprint, Thumbprints: s.Certificate}
	case trusted || t.Thumbprint != "" || t.Insecure:
		return nil
	}
	return &UntrustedError{Host: t.Host(), Thumbprints: s.Certificate}
}

// probeCertificate fetches the leaf certificate of addr and reports whether the system roots
// trust it for serverName.
func probeCertificate(ctx context.Context, addr, serverName string) (*x509.Certificate, bool, error) {
	d := &tls.Dialer{NetDialer: &net.Dialer{Timeout: dialTimeout}, Config: &tls.Config{ServerName: serverName}}
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err == nil {
		defer conn.Close()
		return conn.(*tls.Conn).ConnectionState().PeerCertificates[0], true, nil
	}
	if !soap.IsCertificateUntrusted(err) && !errors.As(err, new(x509.CertificateInvalidError)) {
		return nil, false, err
	}
	d.Config = &tls.Config{ServerName: serverName, InsecureSkipVerify: true} //nolint:gosec // only to show the thumbprint
	conn, err = d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, false, err
	}
	defer conn.Close()
	return conn.(*tls.Conn).ConnectionState().PeerCertificates[0], false, nil
}
