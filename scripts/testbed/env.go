//go:build linux

package main

import (
	"errors"
	"fmt"
	"net/url"
	"os"
	"strings"
)

// envFile holds the export lines of the running testbed. They carry the vSphere password in
// VIC_TARGET, so the file is root-only.
const envFile = "env"

// export is one line `export NAME=VALUE`.
type export struct{ Name, Value string }

// exports are the testbed's export lines, in the order scripts and the README know them.
func (tb *testbed) exports(vs vsphere) []export {
	ex := []export{
		{"VIC_TARGET", vs.target.String()},
		{"VIC_THUMBPRINT", vs.thumbprint},
		{"VIC_VCH", vchName},
		{"VIC_PUBLIC_IP", publicAddr.Addr().String()},
		{"VIC_CLIENT_IP", clientAddr.Addr().String()},
		{"VIC_MANAGEMENT_IP", mgmtAddr.Addr().String()},
		{"VIC_OUTSIDE_NS", prefix + "outside"},
		{"VIC_OUTSIDE_IP", outsideAddr.Addr().String()},
		{"VIC_CLIENTSIDE_NS", prefix + "clientside"},
	}
	for _, c := range containerNets {
		ex = append(ex, export{"VIC_NET_" + envName(c.Alias) + "_NS", netNS(c.Alias)})
	}
	// The endpoint's own link on each container network's port group: the parent of its
	// containers' macvlans, and of a Docker macvlan network that `make bench` compares them with.
	for _, c := range containerNets {
		ex = append(ex, export{"VIC_NET_" + envName(c.Alias) + "_LINK", hostLink(nil, []string{c.Alias})})
	}
	return append(ex,
		export{"VIC_TESTBED_DIR", tb.dir},
		export{"VIC_ENDPOINT_LOG", tb.path("endpoint.log")},
		export{"VIC_DOCKER_CONFIG", tb.path("docker")},
	)
}

func renderExports(ex []export) string {
	var b strings.Builder
	for _, e := range ex {
		fmt.Fprintf(&b, "export %s=%s\n", e.Name, shellQuote(e.Value))
	}
	return b.String()
}

func (tb *testbed) writeEnv(vs vsphere) error {
	return writePrivate(tb.path(envFile), []byte(renderExports(tb.exports(vs))))
}

// readEnv reads back the running testbed's export lines.
func (tb *testbed) readEnv() (string, map[string]string, error) {
	b, err := os.ReadFile(tb.path(envFile))
	if errors.Is(err, os.ErrNotExist) {
		return "", nil, fmt.Errorf("no testbed is up in %q", tb.dir)
	}
	if err != nil {
		return "", nil, fmt.Errorf("reading the testbed's env: %w", err)
	}
	vars, err := parseExports(string(b))
	if err != nil {
		return "", nil, fmt.Errorf("reading %q: %w", tb.path(envFile), err)
	}
	return string(b), vars, nil
}

func (tb *testbed) printEnv() error {
	text, _, err := tb.readEnv()
	if err != nil {
		return err
	}
	_, err = fmt.Fprint(tb.stdout, text)
	return err
}

// vsphereFromEnv is where the running testbed's vcsim serves, from its export lines.
func vsphereFromEnv(vars map[string]string) (vsphere, error) {
	u, err := url.Parse(vars["VIC_TARGET"])
	if err != nil || u.Host == "" {
		return vsphere{}, fmt.Errorf("the testbed's env has no usable VIC_TARGET")
	}
	if vars["VIC_THUMBPRINT"] == "" {
		return vsphere{}, errors.New("the testbed's env has no VIC_THUMBPRINT")
	}
	return vsphere{target: u, thumbprint: vars["VIC_THUMBPRINT"]}, nil
}

// parseExports reads lines `export NAME=VALUE [NAME=VALUE]...` as a shell would; other lines
// are ignored.
func parseExports(text string) (map[string]string, error) {
	vars := map[string]string{}
	for _, line := range strings.Split(text, "\n") {
		words, err := shellWords(line)
		if err != nil {
			return nil, err
		}
		if len(words) == 0 || words[0] != "export" {
			continue
		}
		for _, w := range words[1:] {
			name, value, ok := strings.Cut(w, "=")
			if !ok || name == "" {
				return nil, fmt.Errorf("export %q has no value", w)
			}
			vars[name] = value
		}
	}
	return vars, nil
}

// shellWords splits one line into words as a shell would, for single quotes, backslashes and
// blanks: enough for the lines of shellQuote and of vcsim.
func shellWords(line string) ([]string, error) {
	var words []string
	var w strings.Builder
	inWord, quoted, escaped := false, false, false
	for _, r := range line {
		switch {
		case escaped:
			w.WriteRune(r)
			escaped = false
		case quoted:
			if r == '\'' {
				quoted = false
			} else {
				w.WriteRune(r)
			}
		case r == '\'':
			quoted, inWord = true, true
		case r == '\\':
			escaped, inWord = true, true
		case r == ' ' || r == '\t':
			if inWord {
				words = append(words, w.String())
				w.Reset()
				inWord = false
			}
		default:
			w.WriteRune(r)
			inWord = true
		}
	}
	if quoted || escaped {
		return nil, fmt.Errorf("unterminated quote in %q", line)
	}
	if inWord {
		words = append(words, w.String())
	}
	return words, nil
}

// shellQuote single-quotes s when a shell would otherwise split or expand it.
func shellQuote(s string) string {
	if s != "" && strings.IndexFunc(s, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("-_./:@%+=,", r))
	}) < 0 {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
