package liveconfig

import (
	"context"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"testing"

	"github.com/vmware/govmomi"
	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25"
	"gotest.tools/v3/assert"

	"github.com/docker-vic/docker-vic/api/vchdoc"
	"github.com/docker-vic/docker-vic/config"
	"github.com/docker-vic/docker-vic/endpoint/uplink"
	"github.com/docker-vic/docker-vic/vsphere"
	"github.com/docker-vic/docker-vic/vsphere/sim"
)

// simVCH starts the in-process vCenter with port groups, places VCH cfg in it, and returns the
// options that reach it with credentials in a root-only file, and a client of its own.
func simVCH(t *testing.T, cfg *config.Config, portGroups ...string) (Options, *vim25.Client) {
	t.Helper()
	b := startSim(t, cfg, "", portGroups...)
	return b.opts, b.client
}

// simBed is an in-process vCenter holding a VCH.
type simBed struct {
	opts   Options
	client *vim25.Client
	model  *simulator.Model
	server *simulator.Server
}

// startSim is simVCH listening on listen ("": a free port of 127.0.0.1), where it accepts only
// the login simLogin.
func startSim(t *testing.T, cfg *config.Config, listen string, portGroups ...string) *simBed {
	t.Helper()
	ctx := context.Background()
	m := sim.Model()
	assert.NilError(t, m.Create())
	t.Cleanup(m.Remove)
	m.Service.Listen = &url.URL{Host: listen, User: simLogin}
	s := m.Service.NewServer()
	t.Cleanup(s.Close)

	c, err := govmomi.NewClient(ctx, s.URL, true)
	assert.NilError(t, err)
	assert.NilError(t, sim.AddPortGroups(ctx, c.Client, nil, portGroups...))
	_, err = sim.AddVCH(ctx, c.Client, cfg)
	assert.NilError(t, err)
	return &simBed{opts: simOptions(t, cfg.Name, s.URL.Host), client: c.Client, model: m, server: s}
}

// simLogin is the user and password of the in-process vCenter.
var simLogin = url.UserPassword("vic-test", "s3cret-vic")

// simOptions reach VCH name at host with simLogin from a root-only credentials file.
func simOptions(t *testing.T, name, host string) Options {
	t.Helper()
	pass, _ := simLogin.Password()
	creds := filepath.Join(t.TempDir(), "credentials")
	assert.NilError(t, os.WriteFile(creds, []byte("VIC_USER="+simLogin.Username()+"\nVIC_PASSWORD="+pass+"\n"), 0o600))
	return Options{VCH: name, Target: "http://" + host + "/sdk", Credentials: creds}
}

// nicMAC returns the MAC of the endpoint VM's NIC on port group pg, or "".
func nicMAC(nics []vchdoc.NIC, pg string) string {
	for _, n := range nics {
		if n.PortGroup == pg {
			return n.MAC
		}
	}
	return ""
}

// TestVSphereReadsVCH reads a VCH created in the in-process vCenter with credentials from a
// root-only file, and maps its public NIC to the local link carrying that NIC's MAC.
func TestVSphereReadsVCH(t *testing.T) {
	ctx := context.Background()
	cfg := config.New("vch1")
	cfg.ApplyDefaults()
	opts, c := simVCH(t, cfg, "vch1")
	created, err := vsphere.ReadVCH(ctx, c, "", "vch1")
	assert.NilError(t, err)

	src, target, err := Open(opts)
	assert.NilError(t, err)
	assert.Equal(t, target.String(), opts.Target)
	defer src.Close(ctx)
	v, err := src.Read(ctx)
	assert.NilError(t, err)
	assert.Equal(t, v.Name, "vch1")
	assert.Equal(t, v.Config.Public.PortGroup, "VM Network")
	publicMAC := nicMAC(v.NICs, "VM Network")
	assert.Assert(t, publicMAC != "" && publicMAC == nicMAC(created.NICs, "VM Network"), "public NIC MAC %q", publicMAC)

	links := []uplink.Link{{Name: "ens192", MAC: publicMAC, Addrs: []netip.Prefix{netip.MustParsePrefix("198.51.100.7/24")}}}
	up, err := uplink.Match(v, links, nil, func(string, ...any) {})
	assert.NilError(t, err)
	assert.Equal(t, up.String(), "public,client,management=ens192")
	assert.Equal(t, up.Address, netip.MustParseAddr("198.51.100.7"))

	opts.VCH = "nothere"
	other, _, err := Open(opts)
	assert.NilError(t, err)
	defer other.Close(ctx)
	_, err = other.Read(ctx)
	assert.ErrorContains(t, err, "nothere")
}

// TestVSphereKeepsOneSession: readings share one login; a failed reading drops it, and the next
// logs in again; Close logs out.
func TestVSphereKeepsOneSession(t *testing.T) {
	ctx := context.Background()
	cfg := config.New("vch1")
	cfg.ApplyDefaults()
	opts, _ := simVCH(t, cfg, "vch1")
	src, _, err := Open(opts)
	assert.NilError(t, err)
	s := src.(*VSphere)

	_, err = s.Read(ctx)
	assert.NilError(t, err)
	first := s.sess
	_, err = s.Read(ctx)
	assert.NilError(t, err)
	assert.Assert(t, s.sess == first, "the second reading logged in again")

	s.VCH = "nothere"
	_, err = s.Read(ctx)
	assert.ErrorContains(t, err, "nothere")
	assert.Assert(t, s.sess == nil, "a failed reading kept its session")

	s.VCH = "vch1"
	_, err = s.Read(ctx)
	assert.NilError(t, err)
	assert.Assert(t, s.sess != nil && s.sess != first)
	assert.NilError(t, s.Close(ctx))
	assert.Assert(t, s.sess == nil)
	assert.NilError(t, s.Close(ctx), "a second Close")
}

// TestOpenRefusesOpenCredentials: a credentials file others can read is refused before vSphere
// is asked.
func TestOpenRefusesOpenCredentials(t *testing.T) {
	creds := filepath.Join(t.TempDir(), "credentials")
	assert.NilError(t, os.WriteFile(creds, []byte("VIC_USER=u\n"), 0o600))
	assert.NilError(t, os.Chmod(creds, 0o640))
	_, _, err := Open(Options{VCH: "vch1", Target: "https://vc.example.com/sdk", Credentials: creds})
	assert.ErrorContains(t, err, "is open to group or others")
}
