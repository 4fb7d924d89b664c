//go:build linux

package main

import (
	"net/url"
	"os"
	"testing"

	"gotest.tools/v3/assert"
	"gotest.tools/v3/golden"
)

func testVsphere(t *testing.T) vsphere {
	t.Helper()
	u, err := url.Parse("https://user:pass@127.0.0.1:8989/sdk")
	assert.NilError(t, err)
	return vsphere{target: u, thumbprint: "AA:BB:CC"}
}

// The export lines are the testbed's contract with the README, the demo, the end-to-end
// scripts and CI.
func TestExportLinesKeepTheirContract(t *testing.T) {
	tb := &testbed{dir: "/tmp/vic-testbed"}
	golden.Assert(t, renderExports(tb.exports(testVsphere(t))), "exports.golden")
}

// The appliance mode's lines are what scripts/e2e-appliance.sh reads.
func TestApplianceExportLinesKeepTheirContract(t *testing.T) {
	tb := &testbed{dir: "/tmp/vic-testbed"}
	golden.Assert(t, renderExports(tb.applianceExports(testVsphere(t))), "exports-appliance.golden")
}

func TestEnvIsRootOnlyAndReadsBack(t *testing.T) {
	tb := &testbed{dir: t.TempDir()}
	// A file left with a wider mode must not keep it.
	assert.NilError(t, os.WriteFile(tb.path(envFile), []byte("old"), 0o644))
	vs := testVsphere(t)
	assert.NilError(t, tb.writeEnv(vs))

	st, err := os.Stat(tb.path(envFile))
	assert.NilError(t, err)
	assert.Equal(t, st.Mode().Perm(), os.FileMode(0o600))
	_, vars, err := tb.readEnv()
	assert.NilError(t, err)
	back, err := vsphereFromEnv(vars)
	assert.NilError(t, err)
	assert.Equal(t, back.target.String(), vs.target.String())
	assert.Equal(t, back.thumbprint, vs.thumbprint)
	assert.Equal(t, vars["VIC_DOCKER_CONFIG"], tb.path("docker"))
}

func TestReadEnvWithoutTestbedSaysSo(t *testing.T) {
	tb := &testbed{dir: t.TempDir()}
	_, _, err := tb.readEnv()
	assert.ErrorContains(t, err, "no testbed is up in")
}

func TestShellQuoteRoundTrips(t *testing.T) {
	for _, s := range []string{"plain", "/tmp/vic testbed", "it's", "", "a'b c\\d", "$HOME", "x=y"} {
		words, err := shellWords("export V=" + shellQuote(s))
		assert.NilError(t, err)
		assert.DeepEqual(t, words, []string{"export", "V=" + s})
	}
	assert.Equal(t, shellQuote("https://user:pass@127.0.0.1:1/sdk"), "https://user:pass@127.0.0.1:1/sdk")
}

func TestParseVcsimLine(t *testing.T) {
	tests := []struct {
		line, target, bare string
		err                string
	}{
		{line: "export VIC_TARGET=https://user:pass@127.0.0.1:41/sdk VIC_THUMBPRINT=AB:CD",
			target: "https://user:pass@127.0.0.1:41/sdk", bare: "https://127.0.0.1:41/sdk"},
		{line: "export VIC_TARGET='https://u:p!q@127.0.0.1:41/sdk' VIC_THUMBPRINT=AB:CD",
			target: "https://u:p%21q@127.0.0.1:41/sdk", bare: "https://127.0.0.1:41/sdk"},
		{line: "export VIC_TARGET=https://127.0.0.1:41/sdk VIC_THUMBPRINT=AB", err: "with a user"},
		{line: "export VIC_TARGET=https://u:p@127.0.0.1:41/sdk", err: "no VIC_THUMBPRINT"},
		{line: "export VIC_TARGET='https://u", err: "unterminated quote"},
	}
	for _, tt := range tests {
		vs, err := parseVcsimLine(tt.line)
		if tt.err != "" {
			assert.ErrorContains(t, err, tt.err, tt.line)
			continue
		}
		assert.NilError(t, err, tt.line)
		assert.Equal(t, vs.target.String(), tt.target)
		assert.Equal(t, vs.bare(), tt.bare)
		assert.Equal(t, vs.thumbprint, "AB:CD")
	}
}
