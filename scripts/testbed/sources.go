//go:build linux

package main

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// hostSubnets are the subnets the testbed routes on this machine's own links.
func hostSubnets() []netip.Prefix {
	return []netip.Prefix{publicAddr.Masked(), clientAddr.Masked(), mgmtAddr.Masked()}
}

// checkPackageSources refuses to route a subnet that holds an address of one of this machine's
// package sources (Debian's mirrors, the Go module proxy): the testbed's on-link route would
// send the machine's downloads into a namespace for as long as it is up. Names that do not
// resolve are skipped: an offline machine downloads nothing anyway.
func checkPackageSources(ctx context.Context, subnets []netip.Prefix) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	for _, host := range packageSourceHosts(ctx) {
		addrs, err := net.DefaultResolver.LookupNetIP(ctx, "ip4", host)
		if err != nil {
			continue
		}
		for _, a := range addrs {
			for _, s := range subnets {
				if s.Contains(a.Unmap()) {
					return fmt.Errorf("the testbed's subnet %s holds %s, where this machine reaches its package source %s: change the testbed's addresses in scripts/testbed/plan.go", s, a.Unmap(), host)
				}
			}
		}
	}
	return nil
}

// packageSourceHosts lists the hosts of apt's sources and of the Go proxy, without repeats.
func packageSourceHosts(ctx context.Context) []string {
	seen := map[string]bool{}
	var out []string
	add := func(raw string) {
		u, err := url.Parse(strings.TrimSpace(raw))
		if err != nil || u.Hostname() == "" || seen[u.Hostname()] {
			return
		}
		seen[u.Hostname()] = true
		out = append(out, u.Hostname())
	}
	files, _ := filepath.Glob("/etc/apt/sources.list.d/*")
	for _, f := range append(files, "/etc/apt/sources.list") {
		for _, field := range sourceURIs(f) {
			add(field)
		}
	}
	proxy := os.Getenv("GOPROXY")
	if proxy == "" {
		if b, err := exec.CommandContext(ctx, "go", "env", "GOPROXY").Output(); err == nil {
			proxy = string(b)
		}
	}
	for _, p := range strings.FieldsFunc(proxy, func(r rune) bool { return r == ',' || r == '|' }) {
		add(p)
	}
	return out
}

// sourceURIs reads the http(s) URIs of one apt source file, in either format.
func sourceURIs(path string) []string {
	f, err := os.Open(path)
	if err != nil {
		return nil
	}
	defer f.Close()
	var out []string
	s := bufio.NewScanner(f)
	for s.Scan() {
		for _, field := range strings.Fields(s.Text()) {
			if strings.HasPrefix(field, "http://") || strings.HasPrefix(field, "https://") {
				out = append(out, field)
			}
		}
	}
	return out
}
