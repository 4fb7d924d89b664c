package main

import (
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"io"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/docker/cli/cli/context/docker"
	"github.com/vmware/govmomi/find"
	"github.com/vmware/govmomi/object"
	"github.com/vmware/govmomi/vim25/mo"
	"github.com/vmware/govmomi/vim25/soap"
	"github.com/vmware/govmomi/vim25/types"
	"gotest.tools/v3/assert"
	is "gotest.tools/v3/assert/cmp"
	"gotest.tools/v3/golden"

	"github.com/docker-vic/docker-vic/api/guestinfo"
	"github.com/docker-vic/docker-vic/config"
	"github.com/docker-vic/docker-vic/vsphere"
)

// spaces are the runs of blanks a table aligns with.
var spaces = regexp.MustCompile(` +`)

const (
	opsUser     = "ops@vsphere.local"
	opsPassword = "0ps-s3cret-pass"
)

// applianceArgs create vch1 with the appliance, a static public address and the endpoint's
// own vSphere user.
var applianceArgs = []string{
	"create", "--name", "vch1",
	"--public-network-ip", "198.51.100.10/24", "--public-network-gateway", "198.51.100.1",
	"--ops-user", opsUser, "--ops-password", opsPassword,
}

// installISO puts a stand-in appliance image where create looks for the installed one, and
// masks its directory as $PLUGINS in outputs.
func (e *testEnv) installISO() []byte {
	e.t.Helper()
	plugins := e.t.TempDir()
	e.maskPaths = append(e.maskPaths, [2]string{plugins, "$PLUGINS"})
	iso := filepath.Join(plugins, "docker-vic.d", "appliance.iso")
	content := []byte("CD001 a stand-in for the appliance image\n")
	assert.NilError(e.t, os.MkdirAll(filepath.Dir(iso), 0o755))
	assert.NilError(e.t, os.WriteFile(iso, content, 0o644))
	e.isoPaths = []string{filepath.Join(e.t.TempDir(), "absent.iso"), iso}
	return content
}

func TestCreateApplianceGolden(t *testing.T) {
	e := newTestEnv(t)
	iso := e.installISO()
	before := e.inventory()
	g := &fakeGuest{name: "vch1"}
	e.startGuest(g)

	r := e.mustRun(applianceArgs...)
	assert.NilError(t, <-g.done)
	assert.Equal(t, r.err, "")
	golden.Assert(t, e.mask(r.out), "create-appliance.golden")

	// The guest opened the credentials create sealed to its key.
	assert.Equal(t, g.creds, guestinfo.Credentials{User: opsUser, Password: opsPassword})

	// The context works: it points at the public address with the client certificate that the
	// guest's Docker API accepts.
	meta, err := e.contexts.GetMetadata("vch1")
	assert.NilError(t, err)
	assert.Equal(t, meta.Endpoints[docker.DockerEndpoint].(docker.EndpointMeta).Host, "tcp://198.51.100.10:2376")
	tlsm := e.contextTLS("vch1")
	version, err := probeDocker(e.ctx, e.dial, mustAddr("198.51.100.10"), tlsm)
	assert.NilError(t, err)
	assert.Equal(t, version, "26.1.5")

	// The signed certificate names the VCH and its address, and chains to the VCH's CA.
	keys := e.extraConfig("vch1")
	cert := parseCert(t, keys[guestinfo.KeyCert])
	assert.DeepEqual(t, cert.DNSNames, []string{"vch1", "localhost"})
	assert.DeepEqual(t, ipStrings(cert), []string{"127.0.0.1", "198.51.100.10"})
	assert.Assert(t, is.Contains(keys[guestinfo.KeyCert], strings.TrimSpace(string(tlsm.CACert))))

	// No private key, no password, in clear anywhere in extraConfig; the TLS directory has no
	// server key: the guest made it.
	keyDER, err := x509.MarshalECPrivateKey(g.key)
	assert.NilError(t, err)
	for k, v := range keys {
		for _, secret := range []string{"PRIVATE KEY", opsPassword, base64.StdEncoding.EncodeToString(keyDER)[:40], "pass"} {
			assert.Assert(t, !strings.Contains(v, secret), "extraConfig %s holds %q", k, secret)
		}
	}
	_, err = os.Stat(filepath.Join(e.certDir("vch1"), fileServerKey))
	assert.Assert(t, os.IsNotExist(err))

	// The datastore folder holds the uploaded image, the VM and its data disk; the VM boots
	// the image, logs its console there and has an 8 GB thin data disk.
	files := e.datastoreFiles("vch1")
	for _, f := range []string{"appliance.iso", "vch1-data.vmdk", "vch1.vmx"} {
		assert.Assert(t, is.Contains(files, f))
	}
	assert.DeepEqual(t, e.download("[LocalDS_0] vch1/appliance.iso"), iso)
	devices := e.devices("vch1")
	cd := devices.SelectByType((*types.VirtualCdrom)(nil))
	assert.Equal(t, len(cd), 1)
	assert.Equal(t, cd[0].GetVirtualDevice().Backing.(*types.VirtualCdromIsoBackingInfo).FileName, "[LocalDS_0] vch1/appliance.iso")
	serial := devices.SelectByType((*types.VirtualSerialPort)(nil))
	assert.Equal(t, len(serial), 1)
	assert.Equal(t, serial[0].GetVirtualDevice().Backing.(*types.VirtualSerialPortFileBackingInfo).FileName, "[LocalDS_0] vch1/serial.log")
	disks := devices.SelectByType((*types.VirtualDisk)(nil))
	assert.Equal(t, len(disks), 1)
	disk := disks[0].(*types.VirtualDisk)
	assert.Equal(t, disk.CapacityInKB, int64(8<<20))
	assert.Equal(t, *disk.Backing.(*types.VirtualDiskFlatVer2BackingInfo).ThinProvisioned, true)

	// inspect shows what the guest reports.
	r = e.mustRun("inspect", "vch1")
	out := spaces.ReplaceAllString(r.out, " ")
	for _, want := range []string{"Appliance ISO: [LocalDS_0] vch1/appliance.iso", "Appliance:\n Phase: ready (boot 1, reported ",
		"Public address: 198.51.100.10/24", "Docker: 26.1.5", "Endpoint: serving"} {
		assert.Assert(t, is.Contains(out, want))
	}

	// rm takes the datastore folder with it.
	e.mustRun("rm", "vch1")
	assert.Equal(t, e.inventory(), before)
	assert.Assert(t, e.datastoreFiles("vch1") == nil)
}

// TestCreateApplianceDHCP: the Docker API's address comes from what the guest reports.
func TestCreateApplianceDHCP(t *testing.T) {
	e := newTestEnv(t)
	e.installISO()
	g := &fakeGuest{name: "vch2", addrs: map[string]string{"public": "198.51.100.77/24"}}
	e.startGuest(g)

	r := e.mustRun("create", "--name", "vch2")
	assert.NilError(t, <-g.done)
	assert.Assert(t, is.Contains(r.out, "  certificate signed for vch2, localhost, 127.0.0.1, 198.51.100.77\n"))
	assert.Assert(t, is.Contains(r.out, "Published ports: 198.51.100.77\n"))
	meta, err := e.contexts.GetMetadata("vch2")
	assert.NilError(t, err)
	assert.Equal(t, meta.Endpoints[docker.DockerEndpoint].(docker.EndpointMeta).Host, "tcp://198.51.100.77:2376")
	// Without --ops-* flags the endpoint works with the creator's own credentials.
	assert.Equal(t, g.creds.User, "user")
}

func TestCreateApplianceRefusesForeignName(t *testing.T) {
	e := newTestEnv(t)
	e.installISO()
	g := &fakeGuest{name: "vch1", names: func(cfg *config.Config) ([]string, []net.IP) {
		return []string{"vch1", "evil.example.com"}, []net.IP{net.IP(cfg.Public.IP.Addr().AsSlice())}
	}}
	e.startGuest(g)

	r := e.run(applianceArgs...)
	assert.Error(t, r.status, `VCH "vch1" did not come up: refusing the certificate request of VCH "vch1": `+
		`it names "evil.example.com", which is not the VCH's name or localhost; it was removed`)
	assert.Assert(t, is.Contains(r.out, "certificate request received"))
	assert.Assert(t, !strings.Contains(r.out, "certificate signed"))
	e.assertNothingLeft("vch1")
}

func TestCreateApplianceTimeout(t *testing.T) {
	for _, keep := range []bool{false, true} {
		t.Run(map[bool]string{false: "Removed", true: "Kept"}[keep], func(t *testing.T) {
			e := newTestEnv(t)
			e.installISO()
			g := &fakeGuest{name: "vch1",
				stall:  &guestinfo.Status{Phase: guestinfo.PhaseFailed, Boot: 1, Time: time.Now(), Message: "dockerd exited: no space left on device"},
				serial: "vic-init: data disk mounted\nvic-init: dockerd exited: no space left on device\n",
			}
			e.startGuest(g)

			// The timeout covers the creation too: leave room for a loaded machine.
			args := append(slices.Clone(applianceArgs), "--timeout", "10s")
			if keep {
				args = append(args, "--keep-on-failure")
			}
			r := e.run(args...)
			assert.NilError(t, <-g.done)
			assert.Assert(t, is.Contains(r.out, "the appliance reports: dockerd exited: no space left on device"))
			assert.Assert(t, is.Contains(r.err, "the appliance last reported: phase failed (boot 1): dockerd exited: no space left on device\n"))
			assert.Assert(t, is.Contains(r.err, "last lines of [LocalDS_0] vch1/serial.log:\n  vic-init: data disk mounted\n  vic-init: dockerd exited: no space left on device\n"))
			if !keep {
				assert.Error(t, r.status, `VCH "vch1" did not come up: the appliance's Docker API did not answer within 10s; it was removed`)
				e.assertNothingLeft("vch1")
				return
			}
			assert.Error(t, r.status, `VCH "vch1" did not come up: the appliance's Docker API did not answer within 10s; it is kept (--keep-on-failure): `+
				"look at it with `docker vic inspect vch1`, remove it with `docker vic rm vch1`")
			out := spaces.ReplaceAllString(e.mustRun("inspect", "vch1").out, " ")
			assert.Assert(t, is.Contains(out, "Message: dockerd exited: no space left on device"))
			assert.Assert(t, e.datastoreFiles("vch1") != nil)
			e.mustRun("rm", "vch1")
			e.assertNothingLeft("vch1")
		})
	}
}

func TestCreateApplianceEndpointNotServing(t *testing.T) {
	e := newTestEnv(t)
	e.installISO()
	g := &fakeGuest{name: "vch1", endpoint: "restarting: vSphere refuses the credentials of user ops"}
	e.startGuest(g)

	r := e.run(append(slices.Clone(applianceArgs), "--timeout", "10s")...)
	assert.NilError(t, <-g.done)
	assert.Assert(t, is.Contains(r.out, "Docker API answering over TLS"))
	assert.Assert(t, !strings.Contains(r.out, "vic drivers serving"))
	assert.Assert(t, is.Contains(r.err, "the Docker API answered, vic-endpoint did not serve: restarting: vSphere refuses the credentials of user ops\n"))
	assert.Error(t, r.status, `VCH "vch1" did not come up: the appliance's vic drivers did not serve within 10s; it was removed`)
	e.assertNothingLeft("vch1")
}

func TestCreateApplianceBadFlags(t *testing.T) {
	e := newTestEnv(t)
	creds := filepath.Join(t.TempDir(), "creds")
	assert.NilError(t, os.WriteFile(creds, []byte("VIC_USER=a\nVIC_PASSWORD=b\n"), 0o644))
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--appliance-iso", "/no/such.iso"}, `invalid --appliance-iso "/no/such.iso": no such file: give a local ISO file, a datastore path such as "[datastore1] vic/appliance.iso", or none`},
		{[]string{"--appliance-iso", "none", "--ops-user", "u"}, `invalid --ops-user "u": the endpoint's credentials are for the appliance, and this endpoint VM boots none`},
		{[]string{"--appliance-iso", "none", "--ops-password", "secret"}, `invalid --ops-password: the endpoint's credentials are for the appliance, and this endpoint VM boots none`},
		{[]string{"--appliance-iso", "[LocalDS_0] x.iso", "--ops-user", "u"}, `invalid --ops-user "u": the user needs --ops-password or an --ops-credentials-file`},
		{[]string{"--appliance-iso", "[LocalDS_0] x.iso", "--ops-credentials-file", creds}, `invalid --ops-credentials-file "` + creds + `": the file is open to group or others (mode 0644): chmod 600 it`},
	} {
		r := e.run(append([]string{"create", "--name", "vch1"}, tc.args...)...)
		assert.Error(t, r.status, tc.want)
	}
	assert.Assert(t, !strings.Contains(e.inventory(), "vch1"), e.inventory())
}

func TestReadOpsCredentials(t *testing.T) {
	path := filepath.Join(t.TempDir(), "creds")
	assert.NilError(t, os.WriteFile(path, []byte("# the endpoint's user\nGOVC_USERNAME=ops\nVIC_PASSWORD='p w'\n"), 0o600))
	c, err := readOpsCredentials(path)
	assert.NilError(t, err)
	assert.Equal(t, c, guestinfo.Credentials{User: "ops", Password: "p w"})
}

// TestOpsPasswordFromTheEnvironment: --ops-user takes its password from VIC_OPS_PASSWORD when
// --ops-password is not given, and the variable alone, without --ops-user, changes nothing.
func TestOpsPasswordFromTheEnvironment(t *testing.T) {
	t.Setenv(envOpsPassword, "from env")
	mine := &vsphere.Target{User: "admin", Password: "mine"}
	c, err := opsFlags{user: "ops"}.credentials(mine)
	assert.NilError(t, err)
	assert.Equal(t, c, guestinfo.Credentials{User: "ops", Password: "from env"})
	c, err = opsFlags{user: "ops", password: "flag"}.credentials(mine)
	assert.NilError(t, err)
	assert.Equal(t, c.Password, "flag")
	c, err = opsFlags{}.credentials(mine)
	assert.NilError(t, err)
	assert.Equal(t, c, guestinfo.Credentials{User: "admin", Password: "mine"})
}

// assertNothingLeft checks that VCH name left no VM, pool, folder, datastore folder or TLS
// directory behind.
func (e *testEnv) assertNothingLeft(name string) {
	e.t.Helper()
	assert.Assert(e.t, !strings.Contains(e.inventory(), name), e.inventory())
	assert.Assert(e.t, e.datastoreFiles(name) == nil, "datastore folder left: %v", e.datastoreFiles(name))
	_, err := os.Stat(e.certDir(name))
	assert.Assert(e.t, os.IsNotExist(err), "TLS directory left")
}

// extraConfig reads the endpoint VM's extraConfig.
func (e *testEnv) extraConfig(name string) map[string]string {
	e.t.Helper()
	var m mo.VirtualMachine
	vm := e.vm(name)
	assert.NilError(e.t, vm.Properties(e.ctx, vm.Reference(), []string{"config.extraConfig"}, &m))
	out := map[string]string{}
	for _, o := range m.Config.ExtraConfig {
		if v, ok := o.GetOptionValue().Value.(string); ok {
			out[o.GetOptionValue().Key] = v
		}
	}
	return out
}

func (e *testEnv) devices(name string) object.VirtualDeviceList {
	e.t.Helper()
	d, err := e.vm(name).Device(e.ctx)
	assert.NilError(e.t, err)
	return d
}

func (e *testEnv) vm(name string) *object.VirtualMachine {
	e.t.Helper()
	vm, err := find.NewFinder(e.client).VirtualMachine(e.ctx, "/DC0/vm/"+name+"/"+name)
	assert.NilError(e.t, err)
	return vm
}

// datastoreFiles lists the folder [LocalDS_0] name, or nil when it does not exist.
func (e *testEnv) datastoreFiles(name string) []string {
	e.t.Helper()
	ds, err := find.NewFinder(e.client).Datastore(e.ctx, "LocalDS_0")
	assert.NilError(e.t, err)
	b, err := ds.Browser(e.ctx)
	assert.NilError(e.t, err)
	task, err := b.SearchDatastore(e.ctx, "[LocalDS_0] "+name, &types.HostDatastoreBrowserSearchSpec{MatchPattern: []string{"*"}})
	assert.NilError(e.t, err)
	info, err := task.WaitForResult(e.ctx)
	if err != nil {
		return nil
	}
	var out []string
	for _, f := range info.Result.(types.HostDatastoreBrowserSearchResults).File {
		out = append(out, f.GetFileInfo().Path)
	}
	slices.Sort(out)
	return out
}

func (e *testEnv) download(dsPath string) []byte {
	e.t.Helper()
	var p object.DatastorePath
	assert.Assert(e.t, p.FromString(dsPath))
	ds, err := find.NewFinder(e.client).Datastore(e.ctx, p.Datastore)
	assert.NilError(e.t, err)
	r, _, err := ds.Download(e.ctx, p.Path, &soap.DefaultDownload)
	assert.NilError(e.t, err)
	defer r.Close()
	b, err := io.ReadAll(r)
	assert.NilError(e.t, err)
	return b
}

// contextTLS reads the CA and client certificate of Docker context name, as docker would.
func (e *testEnv) contextTLS(name string) *tlsMaterial {
	e.t.Helper()
	data, err := e.contexts.GetTLSData(name, docker.DockerEndpoint, fileCA)
	assert.NilError(e.t, err)
	m := &tlsMaterial{CACert: data}
	m.ClientCert, err = e.contexts.GetTLSData(name, docker.DockerEndpoint, fileClientCert)
	assert.NilError(e.t, err)
	m.ClientKey, err = e.contexts.GetTLSData(name, docker.DockerEndpoint, fileClientKey)
	assert.NilError(e.t, err)
	return m
}

func parseCert(t *testing.T, certPEM string) *x509.Certificate {
	t.Helper()
	b, _ := pem.Decode([]byte(certPEM))
	assert.Assert(t, b != nil)
	c, err := x509.ParseCertificate(b.Bytes)
	assert.NilError(t, err)
	return c
}

func ipStrings(c *x509.Certificate) []string {
	var out []string
	for _, ip := range c.IPAddresses {
		out = append(out, ip.String())
	}
	return out
}
