package main

import (
	"context"
	"net/netip"
	"os"
	"path/filepath"
	"testing"

	"github.com/vmware/govmomi"
	"github.com/vmware/govmomi/find"
	"github.com/vmware/govmomi/object"
	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25/types"
	"gotest.tools/v3/assert"

	"github.com/docker-vic/docker-vic/cli-plugin/vch"
	"github.com/docker-vic/docker-vic/config"
)

// TestFetchVCHFromVSphere reads a VCH created in the in-process vCenter with credentials from
// a root-only file, and maps its public NIC to the local link carrying that NIC's MAC.
func TestFetchVCHFromVSphere(t *testing.T) {
	ctx := context.Background()
	m := simulator.VPX()
	m.Host, m.ClusterHost, m.Machine = 0, 2, 1
	assert.NilError(t, m.Create())
	t.Cleanup(m.Remove)
	s := m.Service.NewServer()
	t.Cleanup(s.Close)

	c, err := govmomi.NewClient(ctx, s.URL, true)
	assert.NilError(t, err)
	n, err := find.NewFinder(c.Client).Network(ctx, "DVS0")
	assert.NilError(t, err)
	task, err := n.(*object.DistributedVirtualSwitch).AddPortgroup(ctx, []types.DVPortgroupConfigSpec{{
		Name: "vch1", NumPorts: 16, Type: string(types.DistributedVirtualPortgroupPortgroupTypeEarlyBinding)}})
	assert.NilError(t, err)
	assert.NilError(t, task.Wait(ctx))
	cfg := config.New("vch1")
	cfg.ApplyDefaults()
	created, err := (&vch.Manager{Client: c.Client}).Create(ctx, cfg)
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

	links := []localLink{{Name: "ens192", MAC: publicMAC, Addrs: []netip.Prefix{netip.MustParsePrefix("198.51.100.7/24")}}}
	up, err := matchUplinks(v, links, nil, func(string, ...any) {})
	assert.NilError(t, err)
	assert.Equal(t, up.String(), "public,client,management=ens192")
	assert.Equal(t, up.Address, netip.MustParseAddr("198.51.100.7"))

	_, _, err = loadVCH(ctx, &options{vch: "nothere", target: target.String(), credentials: creds})
	assert.ErrorContains(t, err, "nothere")
}
