package main

import (
	"bufio"
	"context"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/vmware/govmomi/find"
	"github.com/vmware/govmomi/object"
	"github.com/vmware/govmomi/session"
	"github.com/vmware/govmomi/vim25"
	"github.com/vmware/govmomi/vim25/mo"
	"github.com/vmware/govmomi/vim25/soap"
	"github.com/vmware/govmomi/vim25/types"
	"gotest.tools/v3/assert"
	is "gotest.tools/v3/assert/cmp"
)

var exportLine = regexp.MustCompile(`^export VIC_TARGET=(\S+) VIC_THUMBPRINT=((?:[0-9A-F]{2}:){19}[0-9A-F]{2})\n$`)

// start runs vcsim in-process with args and returns the target URL and thumbprint it printed.
func start(t *testing.T, args ...string) (*url.URL, string) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		err := run(ctx, args, pw)
		pw.CloseWithError(io.EOF)
		done <- err
	}()
	t.Cleanup(func() {
		cancel()
		assert.NilError(t, <-done)
	})

	line, err := bufio.NewReader(pr).ReadString('\n')
	assert.NilError(t, err, "vcsim printed no export line")
	go func() { _, _ = io.Copy(io.Discard, pr) }()
	m := exportLine.FindStringSubmatch(line)
	assert.Assert(t, m != nil, "unexpected export line %q", line)
	u, err := url.Parse(m[1])
	assert.NilError(t, err)
	return u, m[2]
}

// connect logs in to target trusting only the thumbprint, as docker-vic does.
func connect(t *testing.T, target *url.URL, thumbprint string) (*vim25.Client, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	sc := soap.NewClient(target, false)
	sc.SetThumbprint(target.Host, thumbprint)
	c, err := vim25.NewClient(ctx, sc)
	if err != nil {
		return nil, err
	}
	if err := session.NewManager(c).Login(ctx, target.User); err != nil {
		return nil, err
	}
	return c, nil
}

func TestRunServesPortgroupsForContainerNetworks(t *testing.T) {
	pidfile := filepath.Join(t.TempDir(), "vcsim.pid")
	target, thumbprint := start(t, "--username", "admin", "--password", "s3cret",
		"--portgroup", "VIC-Bridge", "--portgroup", "External-Consumer", "--pidfile", pidfile)

	assert.Check(t, is.Equal(target.Scheme, "https"))
	assert.Check(t, is.Equal(target.Path, "/sdk"))
	assert.Check(t, is.Equal(target.User.String(), "admin:s3cret"))
	pid, err := os.ReadFile(pidfile)
	assert.NilError(t, err)
	assert.Check(t, is.Equal(strings.TrimSpace(string(pid)), strconv.Itoa(os.Getpid())))

	c, err := connect(t, target, thumbprint)
	assert.NilError(t, err)
	ctx := context.Background()
	for _, name := range []string{"VIC-Bridge", "External-Consumer"} {
		ref, err := find.NewFinder(c).Network(ctx, name)
		assert.NilError(t, err)
		pg, ok := ref.(*object.DistributedVirtualPortgroup)
		assert.Assert(t, ok, "%s is a %T, want a distributed port group", name, ref)
		var props mo.DistributedVirtualPortgroup
		assert.NilError(t, pg.Properties(ctx, pg.Reference(), []string{"config"}, &props))
		setting := props.Config.DefaultPortConfig.(*types.VMwareDVSPortSetting)
		assert.Check(t, *setting.SecurityPolicy.ForgedTransmits.Value, name)
		assert.Check(t, *setting.SecurityPolicy.AllowPromiscuous.Value, name)
		assert.Check(t, setting.MacManagementPolicy.MacLearningPolicy.Enabled, name)
	}
}

func TestRunServesTheClusterHostsAsked(t *testing.T) {
	target, thumbprint := start(t, "--cluster-hosts", "3")
	c, err := connect(t, target, thumbprint)
	assert.NilError(t, err)
	hosts, err := find.NewFinder(c).HostSystemList(context.Background(), "/DC0/host/DC0_C0/*")
	assert.NilError(t, err)
	assert.Check(t, is.Len(hosts, 3))
}

func TestRunRefusesWrongCredentialsAndThumbprint(t *testing.T) {
	target, thumbprint := start(t, "--username", "admin", "--password", "s3cret")

	wrong := *target
	wrong.User = url.UserPassword("admin", "guess")
	_, err := connect(t, &wrong, thumbprint)
	assert.ErrorContains(t, err, "Login failure")

	_, err = connect(t, target, strings.Repeat("00:", 19)+"00")
	assert.ErrorContains(t, err, "thumbprint does not match")
}

func TestRunRejectsBadFlags(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"EmptyPortgroup", []string{"--portgroup", " "}, "needs a name"},
		{"EmptyPassword", []string{"--password", ""}, "must not be empty"},
		{"BadListen", []string{"--listen", "nowhere"}, "parsing --listen"},
		{"ExtraArgument", []string{"serve"}, `unexpected argument "serve"`},
		{"DuplicatePortgroup", []string{"--portgroup", "DC0_DVPG0"}, "adding port groups DC0_DVPG0"},
		{"NoClusterHost", []string{"--cluster-hosts", "0"}, "--cluster-hosts 0 must lie between 1 and 32"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := run(context.Background(), tc.args, io.Discard)
			assert.ErrorContains(t, err, tc.want)
		})
	}
}

func TestShellQuoteKeepsURLsReadable(t *testing.T) {
	tests := []struct{ in, want string }{
		{"https://user:pass@127.0.0.1:8989/sdk", "https://user:pass@127.0.0.1:8989/sdk"},
		{"https://user:p%20w@[::1]:8989/sdk", "'https://user:p%20w@[::1]:8989/sdk'"},
		{"https://user:it's@h/sdk", `'https://user:it'\''s@h/sdk'`},
	}
	for _, tc := range tests {
		assert.Check(t, is.Equal(shellQuote(tc.in), tc.want))
	}
}
