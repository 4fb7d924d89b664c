package main

import (
	"context"
	"net/netip"
	"os"
	"path/filepath"
	"testing"

	"github.com/vmware/govmomi"
	"gotest.tools/v3/assert"

	"github.com/docker-vic/docker-vic/api/vchdoc"
	"github.com/docker-vic/docker-vic/config"
	"github.com/docker-vic/docker-vic/endpoint/uplink"
	"github.com/docker-vic/docker-vic/vsphere"
	"github.com/docker-vic/docker-vic/vsphere/sim"
)

// TestFetchVCHFromVSphere reads a VCH created in the in-process vCenter with credentials from
// a root-only file, and maps its public NIC to the local link carrying that NIC's MAC.
func TestFetchVCHFromVSphere(t *testing.T) {
	ctx := context.Background()
	m := sim.Model()
	assert.NilError(t, m.Create())
	t.Cleanup(m.Remove)
	s := m.Service.NewServer()
	t.Cleanup(s.Close)

	c, err := govmomi.NewClient(ctx, s.URL, true)
	assert.NilError(t, err)
	assert.NilError(t, sim.AddPortGroups(ctx, c.Client, nil, "vch1"))
	cfg := config.New("vch1")
	cfg.ApplyDefaults()
	_, err = sim.AddVCH(ctx, c.Client, cfg)
	assert.NilError(t, err)
	created, err := vsphere.ReadVCH(ctx, c.Client, "", "vch1")
	assert.NilError(t, err)

	user := s.URL.User.Username()
	pass, _ := s.URL.User.Password()
	creds := filepath.Join(t.TempDir(), "credentials")
	assert.NilError(t, os.WriteFile(creds, []byte("VIC_USER="+user+"\nVIC_PASSWORD="+pass+"\n"), 0o600))
	target := *s.URL
	target.User = nil

	v, _, err := loadVCH(ctx, &options{vch: "vch1", target: target.String(), credentials: creds})
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

	_, _, err = loadVCH(ctx, &options{vch: "nothere", target: target.String(), credentials: creds})
	assert.ErrorContains(t, err, "nothere")
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
