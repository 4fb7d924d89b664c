package vsphere

import (
	"context"
	"crypto/tls"
	"errors"
	"net/url"
	"strings"
	"testing"

	"github.com/vmware/govmomi/simulator"
	"gotest.tools/v3/assert"
	is "gotest.tools/v3/assert/cmp"
)

// tlsServer starts a vCenter simulator over https that accepts only admin/secret.
func tlsServer(t *testing.T) (*simulator.Server, Thumbprints) {
	t.Helper()
	m := simulator.VPX()
	assert.NilError(t, m.Create())
	t.Cleanup(m.Remove)
	m.Service.TLS = new(tls.Config)
	m.Service.Listen = &url.URL{User: url.UserPassword("admin", "secret")}
	s := m.Service.NewServer()
	t.Cleanup(s.Close)
	return s, ThumbprintsOf(s.Certificate())
}

func noEnv(string) string { return "" }

func env(vars map[string]string) func(string) string {
	return func(k string) string { return vars[k] }
}

func connect(t *testing.T, o Options, getenv func(string) string) (*Session, error) {
	t.Helper()
	target, err := o.Resolve(getenv)
	if err != nil {
		return nil, err
	}
	s, err := Connect(context.Background(), target)
	if err == nil {
		t.Cleanup(func() { _ = s.Logout(context.Background()) })
	}
	return s, err
}

func TestConnectUntrustedCertificateRefused(t *testing.T) {
	s, tp := tlsServer(t)
	_, err := connect(t, Options{Target: "admin:secret@" + s.URL.Host}, noEnv)
	var untrusted *UntrustedError
	assert.Assert(t, errors.As(err, &untrusted), "got %v", err)
	assert.Equal(t, untrusted.SHA1, tp.SHA1)
	assert.Equal(t, untrusted.SHA256, tp.SHA256)
	assert.Equal(t, err.Error(), "the certificate of "+s.URL.Host+" is not trusted: check its thumbprint SHA-1 "+
		tp.SHA1+" (SHA-256 "+tp.SHA256+") and pass --thumbprint "+tp.SHA1+", or --insecure")
	assert.Assert(t, !strings.Contains(err.Error(), "secret"))
}

func TestConnectThumbprintAccepted(t *testing.T) {
	s, tp := tlsServer(t)
	for name, given := range map[string]string{
		"sha1":           tp.SHA1,
		"sha256":         tp.SHA256,
		"sha1-lower":     strings.ToLower(tp.SHA1),
		"sha256-nocolon": strings.ReplaceAll(strings.ToLower(tp.SHA256), ":", ""),
	} {
		t.Run(name, func(t *testing.T) {
			sess, err := connect(t, Options{Target: "https://admin:secret@" + s.URL.Host + "/sdk", Thumbprint: given}, noEnv)
			assert.NilError(t, err)
			assert.Assert(t, is.Contains(sess.About().FullName, "vCenter"))
		})
	}
}

func TestConnectWrongThumbprintRefused(t *testing.T) {
	s, tp := tlsServer(t)
	wrong := strings.Repeat("AB:", 19) + "AB"
	_, err := connect(t, Options{Target: s.URL.Host, User: "admin", Password: "secret", Thumbprint: wrong}, noEnv)
	var mismatch *ThumbprintMismatchError
	assert.Assert(t, errors.As(err, &mismatch), "got %v", err)
	assert.Equal(t, err.Error(), "the certificate of "+s.URL.Host+" does not match --thumbprint "+wrong+
		": its thumbprint is "+tp.SHA1+"; check that you reach the right server")
}

func TestConnectInsecureAccepted(t *testing.T) {
	s, _ := tlsServer(t)
	_, err := connect(t, Options{Target: "admin:secret@" + s.URL.Host, Insecure: true}, noEnv)
	assert.NilError(t, err)
}

func TestConnectBadPasswordRefused(t *testing.T) {
	s, _ := tlsServer(t)
	_, err := connect(t, Options{Target: s.URL.Host, User: "admin", Password: "hunter2", Insecure: true}, noEnv)
	assert.Error(t, err, "logging in to "+s.URL.Host+" as \"admin\": the user name or password is incorrect")
	assert.Assert(t, errors.Is(err, ErrBadLogin), "callers branch on ErrBadLogin")
}

func TestConnectNoPassword(t *testing.T) {
	s, _ := tlsServer(t)
	_, err := connect(t, Options{Target: "admin@" + s.URL.Host, Insecure: true}, noEnv)
	assert.ErrorContains(t, err, "no password for admin at "+s.URL.Host)
}

func TestConnectEnvironmentFallbacks(t *testing.T) {
	s, tp := tlsServer(t)
	cases := map[string]struct {
		opts Options
		env  map[string]string
	}{
		"govc": {env: map[string]string{EnvGovcURL: s.URL.Host, EnvGovcUsername: "admin", EnvGovcPassword: "secret", EnvGovcInsecure: "1"}},
		"vic-over-govc": {env: map[string]string{
			EnvTarget: "admin:secret@" + s.URL.Host, EnvThumbprint: tp.SHA256,
			EnvGovcURL: "nowhere.invalid", EnvGovcPassword: "wrong",
		}},
		"flags-over-env": {
			opts: Options{Target: s.URL.Host, Password: "secret"},
			env:  map[string]string{EnvGovcURL: "nowhere.invalid", EnvGovcUsername: "admin", EnvGovcPassword: "wrong", EnvGovcInsecure: "true"},
		},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := connect(t, c.opts, env(c.env))
			assert.NilError(t, err)
		})
	}
}

func TestResolveTarget(t *testing.T) {
	cases := []struct {
		in                  string
		url, user, pass, dc string
	}{
		{in: "https://u:p@vc.example.com:8443/sdk", url: "https://vc.example.com:8443/sdk", user: "u", pass: "p"},
		{in: "u:p@vc.example.com/DC1", url: "https://vc.example.com/sdk", user: "u", pass: "p", dc: "DC1"},
		{in: "vc.example.com", url: "https://vc.example.com/sdk"},
		{in: "https://vc.example.com/Folder/DC2/", url: "https://vc.example.com/sdk", dc: "Folder/DC2"},
	}
	for _, c := range cases {
		t.Run(c.in, func(t *testing.T) {
			target, err := Options{Target: c.in}.Resolve(noEnv)
			assert.NilError(t, err)
			assert.Equal(t, target.URL.String(), c.url)
			assert.Equal(t, target.User, c.user)
			assert.Equal(t, target.Password, c.pass)
			assert.Equal(t, target.Datacenter, c.dc)
		})
	}
}

func TestResolveBadInput(t *testing.T) {
	cases := []struct {
		name string
		opts Options
		env  map[string]string
		want string
	}{
		{name: "no-target", want: "no vSphere target: give --target or set VIC_TARGET or GOVC_URL"},
		{name: "scheme", opts: Options{Target: "ftp://u:pw@host"}, want: `invalid --target "ftp://u:xxxxx@host": the scheme must be https`},
		{name: "thumbprint-length", opts: Options{Target: "h", Thumbprint: "AB:CD"}, want: `invalid --thumbprint "AB:CD": a thumbprint is a SHA-1 (20 bytes) or SHA-256 (32 bytes) hash in hex`},
		{name: "thumbprint-hex", opts: Options{Target: "h", Thumbprint: strings.Repeat("zz", 20)}, want: `invalid --thumbprint "` + strings.Repeat("zz", 20) + `": 'Z' is not a hex digit`},
		{name: "insecure-env", opts: Options{Target: "h"}, env: map[string]string{EnvGovcInsecure: "maybe"}, want: `invalid GOVC_INSECURE "maybe": use true or false`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := c.opts.Resolve(env(c.env))
			assert.Error(t, err, c.want)
		})
	}
}

func TestNormalizeThumbprint(t *testing.T) {
	got, err := NormalizeThumbprint("ab:cd:ef:01:23:45:67:89:ab:cd:ef:01:23:45:67:89:ab:cd:ef:01")
	assert.NilError(t, err)
	assert.Equal(t, got, "AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89:AB:CD:EF:01")
	got, err = NormalizeThumbprint("abcdef0123456789abcdef0123456789abcdef01")
	assert.NilError(t, err)
	assert.Equal(t, got, "AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89:AB:CD:EF:01")
}
