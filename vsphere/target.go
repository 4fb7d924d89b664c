package vsphere

import (
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
)

// Environment variables read by Options.Resolve, in order of precedence within each setting.
const (
	EnvTarget         = "VIC_TARGET"
	EnvUser           = "VIC_USER"
	EnvPassword       = "VIC_PASSWORD"
	EnvThumbprint     = "VIC_THUMBPRINT"
	EnvInsecure       = "VIC_INSECURE"
	EnvDatacenter     = "VIC_DATACENTER"
	EnvGovcURL        = "GOVC_URL"
	EnvGovcUsername   = "GOVC_USERNAME"
	EnvGovcPassword   = "GOVC_PASSWORD"
	EnvGovcInsecure   = "GOVC_INSECURE"
	EnvGovcDatacenter = "GOVC_DATACENTER"
)

// ErrNoTarget says that neither a flag nor the environment names a vSphere target.
var ErrNoTarget = errors.New("no vSphere target")

// Options are the connection settings given on a command line. Empty fields fall back to the
// environment in Resolve.
type Options struct {
	// Target is `https://user:pass@host[:port]/sdk`, `user:pass@host/DATACENTER` or `host`.
	Target     string
	User       string
	Password   string
	Thumbprint string
	Insecure   bool
	Datacenter string
}

// Target is a resolved vSphere endpoint with its credentials.
type Target struct {
	// URL is the SDK URL without user information (https://host/sdk).
	URL *url.URL
	// User and Password are the credentials; Password may be empty until the caller prompts.
	User     string
	Password string
	// Thumbprint is the normalized SHA-1 or SHA-256 thumbprint the user trusts, if any.
	Thumbprint string
	Insecure   bool
	// Datacenter is the datacenter's name or path; empty means the only one.
	Datacenter string
}

// Host returns host:port of the target, with the https port when none was given.
func (t *Target) Host() string {
	if t.URL.Port() != "" {
		return t.URL.Host
	}
	if t.URL.Scheme == "http" {
		return t.URL.Host + ":80"
	}
	return t.URL.Host + ":443"
}

// String returns the target URL without credentials.
func (t *Target) String() string { return t.URL.String() }

// Resolve merges o with the environment read through getenv (flags first, then VIC_*, then
// GOVC_*; credentials embedded in the target URL come right after the flags) and parses the
// target.
func (o Options) Resolve(getenv func(string) string) (*Target, error) {
	raw := first(o.Target, getenv(EnvTarget), getenv(EnvGovcURL))
	if raw == "" {
		return nil, fmt.Errorf("%w: give --target or set %s or %s", ErrNoTarget, EnvTarget, EnvGovcURL)
	}
	u, urlDC, err := ParseTarget(raw)
	if err != nil {
		return nil, err
	}
	var urlUser, urlPass string
	if u.User != nil {
		urlUser = u.User.Username()
		urlPass, _ = u.User.Password()
		u.User = nil
	}
	tp := first(o.Thumbprint, getenv(EnvThumbprint))
	if tp != "" {
		if tp, err = NormalizeThumbprint(tp); err != nil {
			return nil, err
		}
	}
	insecure := o.Insecure
	for _, name := range []string{EnvInsecure, EnvGovcInsecure} {
		if insecure {
			break
		}
		if v := getenv(name); v != "" {
			b, err := strconv.ParseBool(v)
			if err != nil {
				return nil, fmt.Errorf("invalid %s %q: use true or false", name, v)
			}
			insecure = b
		}
	}
	return &Target{
		URL:        u,
		User:       first(o.User, urlUser, getenv(EnvUser), getenv(EnvGovcUsername)),
		Password:   first(o.Password, urlPass, getenv(EnvPassword), getenv(EnvGovcPassword)),
		Thumbprint: tp,
		Insecure:   insecure,
		Datacenter: first(o.Datacenter, urlDC, getenv(EnvDatacenter), getenv(EnvGovcDatacenter)),
	}, nil
}

// ParseTarget parses a target written `[https://][user[:pass]@]host[:port][/sdk|/DATACENTER]`.
// It returns the SDK URL (user information kept) and the datacenter named by the path, if any.
func ParseTarget(s string) (*url.URL, string, error) {
	raw := strings.TrimSpace(s)
	if !strings.Contains(raw, "://") {
		raw = "https://" + raw
	}
	u, err := url.Parse(raw)
	if err != nil {
		return nil, "", fmt.Errorf("invalid --target %q: not a URL", redact(s))
	}
	if u.Scheme != "https" && u.Scheme != "http" {
		return nil, "", fmt.Errorf("invalid --target %q: the scheme must be https", redact(s))
	}
	if u.Hostname() == "" {
		return nil, "", fmt.Errorf("invalid --target %q: no host", redact(s))
	}
	dc := ""
	if p := strings.Trim(u.Path, "/"); p != "" && p != "sdk" {
		dc = p
	}
	u.Path = "/sdk"
	u.RawPath = ""
	u.RawQuery = ""
	u.Fragment = ""
	return u, dc, nil
}

// redact hides the password of a target that failed to parse.
func redact(s string) string {
	at := strings.LastIndex(s, "@")
	if at < 0 {
		return s
	}
	userinfo := s[:at]
	if i := strings.Index(userinfo, "://"); i >= 0 {
		userinfo = userinfo[i+3:]
	}
	if user, _, ok := strings.Cut(userinfo, ":"); ok {
		return strings.Replace(s, userinfo, user+":xxxxx", 1)
	}
	return s
}

func first(vs ...string) string {
	for _, v := range vs {
		if v != "" {
			return v
		}
	}
	return ""
}
