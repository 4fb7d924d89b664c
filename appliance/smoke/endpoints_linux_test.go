package smoke

import (
	"context"
	"net/netip"
	"strings"
	"testing"
	"time"

	"gotest.tools/v3/assert"

	"github.com/docker-vic/docker-vic/api/guestinfo"
	"github.com/docker-vic/docker-vic/appliance/internal/fakehost"
	"github.com/docker-vic/docker-vic/config"
	"github.com/docker-vic/docker-vic/endpoint/testns"
)

// TestApplianceEndpointTwoInstallsThePlugin boots endpoint VM 2 of a VCH of two endpoints: it
// takes endpoint 2's own address and is named after its VM, and it runs the vic drivers as the
// managed plugin vic:latest in its dockerd, made from the CD and set for the VCH with swarm
// scope, state on the data disk and the credentials file alone in its config mount. Nothing
// answers as vSphere here, so the plugin does not serve and the status says why.
func TestApplianceEndpointTwoInstallsThePlugin(t *testing.T) {
	iso := applianceISO(t)
	ns := testns.New(t, "vicsmk")
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()

	cfg := config.New("vch-smoke")
	cfg.Endpoints = 2
	cfg.Server.URL = "https://198.51.100.1/sdk" // nothing answers
	cfg.Placement.Datacenter = "DC0"
	cfg.Public = config.RoleNetwork{PortGroup: "VM Network", IP: netip.MustParsePrefix(guestAddr),
		MoreIPs: []netip.Prefix{netip.MustParsePrefix("198.51.100.3/24")},
		Gateway: config.Gateway{IP: netip.MustParsePrefix(hostAddr).Addr()}}
	cfg.ApplyDefaults()
	keys, err := cfg.Encode()
	assert.NilError(t, err)
	for k, v := range config.EndpointKeys(2) {
		if strings.HasPrefix(k, guestinfo.GuestPrefix) {
			keys[k] = v
		}
	}
	keys[guestinfo.KeyNICs] = guestinfo.EncodeNICs([]guestinfo.NIC{{MAC: guestMAC, PortGroup: "VM Network"}})
	ca, err := fakehost.NewCA("vch-smoke CA")
	assert.NilError(t, err)
	host := fakehost.New(ca, guestinfo.Credentials{User: "ops@vsphere.local", Password: "smoke-s3cret"}, keys)
	vm := bootVM(t, ctx, ns, iso, emptyDisk(t, dir), dir, host, 1)
	st := vm.waitReady(t, ctx, host, 1)
	assert.Equal(t, st.Addresses["public"], "198.51.100.3/24")
	addr := netip.MustParseAddr("198.51.100.3")
	certs := writeClientCerts(t, dir, "good", ca)
	out, err := dockerAt(ctx, ns, addr, certs, "info", "--format", "{{.Name}}")
	assert.NilError(t, err, out)
	assert.Equal(t, strings.TrimSpace(out), "vch-smoke-2")

	// The plugin, as the engine shows it once vic-init made and set it.
	format := `{{.Config.Description}}|{{range .Settings.Env}}{{.}} {{end}}|{{range .Settings.Mounts}}{{.Name}}={{.Source}} {{end}}`
	for {
		out, err = dockerAt(ctx, ns, addr, certs, "plugin", "inspect", "vic:latest", "--format", format)
		if err == nil && strings.Contains(out, "VIC_VCH=vch-smoke ") {
			break
		}
		select {
		case <-ctx.Done():
			t.Fatalf("the engine never showed the vic plugin set for the VCH: %s", out)
		case <-time.After(2 * time.Second):
		}
	}
	t.Logf("the plugin %.1fs after power-on: %s", time.Since(vm.start).Seconds(), out)
	for _, want := range []string{"docker-vic: the vic network and IPAM drivers", ", rootfs ", "VIC_TARGET=https://198.51.100.1/sdk ",
		"VIC_DATACENTER=DC0 ", "VIC_SWARM=true ", "VIC_CREDENTIALS=/etc/docker-vic/credentials ",
		"state=/var/lib/vic-data/vic ", "config=/run/vic/plugin-config "} {
		assert.Assert(t, strings.Contains(out, want), "the plugin lacks %q: %s", want, out)
	}
	st, err = host.WaitStatus(ctx, func(s guestinfo.Status) bool { return strings.Contains(s.Endpoint, "the vic plugin is not serving") })
	assert.NilError(t, err)
	t.Logf("endpoint state %q", st.Endpoint)
	vm.powerOff(t)
}
