//go:build linux

package main

import (
	"context"
	"net/netip"
	"os"
	"path/filepath"
	"testing"

	"gotest.tools/v3/assert"
)

func TestSourceURIsReadsBothFormats(t *testing.T) {
	dir := t.TempDir()
	deb822 := filepath.Join(dir, "debian.sources")
	assert.NilError(t, os.WriteFile(deb822, []byte("Types: deb\nURIs: http://mirror.invalid/debian\nSuites: bookworm\n"), 0o644))
	oneLine := filepath.Join(dir, "sources.list")
	assert.NilError(t, os.WriteFile(oneLine, []byte("# a comment\ndeb https://other.invalid/debian bookworm main\n"), 0o644))
	assert.DeepEqual(t, sourceURIs(deb822), []string{"http://mirror.invalid/debian"})
	assert.DeepEqual(t, sourceURIs(oneLine), []string{"https://other.invalid/debian"})
}

// TestCheckPackageSourcesRefusesHidingThem: a subnet holding the proxy's address is refused,
// naming both; subnets elsewhere pass.
func TestCheckPackageSourcesRefusesHidingThem(t *testing.T) {
	t.Setenv("GOPROXY", "http://127.0.0.1:3000,direct")
	err := checkPackageSources(context.Background(), []netip.Prefix{netip.MustParsePrefix("127.0.0.0/29")})
	assert.ErrorContains(t, err, "the testbed's subnet 127.0.0.0/29 holds 127.0.0.1, where this machine reaches its package source 127.0.0.1")
	assert.NilError(t, checkPackageSources(context.Background(), []netip.Prefix{netip.MustParsePrefix("198.51.100.0/24")}))
}

// TestTestbedSubnetsKeepThisMachinesSourcesReachable runs the check on the real plan.
func TestTestbedSubnetsKeepThisMachinesSourcesReachable(t *testing.T) {
	assert.NilError(t, checkPackageSources(context.Background(), hostSubnets()))
}
