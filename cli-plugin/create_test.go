package main

import (
	"encoding/json"
	"encoding/pem"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/docker/cli/cli/command"
	"github.com/docker/cli/cli/context/docker"
	"github.com/docker/cli/cli/context/store"
	"github.com/spf13/pflag"
	"gotest.tools/v3/assert"
	is "gotest.tools/v3/assert/cmp"
	"gotest.tools/v3/golden"

	"github.com/docker-vic/docker-vic/api/vchdoc"
	"github.com/docker-vic/docker-vic/cli-plugin/vch"
	"github.com/docker-vic/docker-vic/config"
)

// createArgs creates vch1, whose endpoint VM boots nothing, with a static public address, two
// container networks and DNS.
var createArgs = []string{
	"create", "--name", "vch1", "--appliance-iso", "none",
	"--public-network-ip", "198.51.100.10/24", "--public-network-gateway", "198.51.100.1",
	"--container-network", "cnet-a:web",
	"--container-network-gateway", "cnet-a:203.0.113.1/24",
	"--container-network-ip-range", "cnet-a:203.0.113.16/28",
	"--container-network-ip-range", "cnet-a:203.0.113.100-203.0.113.120",
	"--container-network-dns", "cnet-a:203.0.113.53",
	"--container-network-firewall", "cnet-a:peers",
	"--container-network", "cnet-b",
	"--dns-server", "198.51.100.53", "--dns-server", "198.51.100.54",
}

func TestCreateGolden(t *testing.T) {
	e := newTestEnv(t)
	r := e.mustRun(createArgs...)
	assert.Equal(t, r.err, "")
	golden.Assert(t, e.mask(r.out), "create.golden")

	// The TLS directory holds the PKI, private keys readable by the user only.
	dir := e.certDir("vch1")
	assert.Equal(t, fileMode(t, dir), os.FileMode(0o700))
	for _, f := range tlsFiles {
		want := os.FileMode(0o644)
		if strings.HasSuffix(f, "key.pem") {
			want = 0o600
		}
		assert.Equal(t, fileMode(t, filepath.Join(dir, f)), want, f)
	}

	// The Docker context points at the public address with the client certificate.
	meta, err := e.contexts.GetMetadata("vch1")
	assert.NilError(t, err)
	dc, err := command.GetDockerContext(meta)
	assert.NilError(t, err)
	assert.Equal(t, dc.Description, "docker-vic VCH vch1")
	ep := meta.Endpoints[docker.DockerEndpoint].(docker.EndpointMeta)
	assert.Equal(t, ep.Host, "tcp://198.51.100.10:2376")
	files, err := e.contexts.ListTLSFiles("vch1")
	assert.NilError(t, err)
	assert.DeepEqual(t, files[docker.DockerEndpoint], store.EndpointFiles{"ca.pem", "cert.pem", "key.pem"})

	// The stored configuration holds certificates, never a key.
	r = e.mustRun("inspect", "vch1", "--format", "json")
	assert.Assert(t, !strings.Contains(r.out, "PRIVATE KEY"))
	assert.Assert(t, is.Contains(r.out, "BEGIN CERTIFICATE"))
}

func TestCreateDHCPGolden(t *testing.T) {
	e := newTestEnv(t)
	r := e.mustRun("create", "--name", "vch2")
	golden.Assert(t, e.mask(r.out), "create-dhcp.golden")
	// No image is installed: the endpoint VM boots nothing, and create says so once.
	assert.Equal(t, r.err, "warning: no appliance image is installed or given: the endpoint VM boots nothing (host mode); give --appliance-iso FILE, or --appliance-iso none to say so\n")
}

func TestCreateServerCertificateNamesAddresses(t *testing.T) {
	e := newTestEnv(t)
	e.mustRun(createArgs...)
	b, err := os.ReadFile(filepath.Join(e.certDir("vch1"), fileServerCert))
	assert.NilError(t, err)
	m := &tlsMaterial{ServerCert: b}
	for _, a := range []string{"198.51.100.10", "127.0.0.1"} {
		assert.Assert(t, m.serverCovers(mustAddr(a)), a)
	}
	block, _ := pem.Decode(b)
	assert.Assert(t, block != nil)
}

func TestCreateNoContext(t *testing.T) {
	e := newTestEnv(t)
	r := e.mustRun(append(createArgs, "--no-context")...)
	_, err := e.contexts.GetMetadata("vch1")
	assert.Assert(t, err != nil, "a context was created")
	assert.Assert(t, is.Contains(r.out, "Use it with: docker -H tcp://198.51.100.10:2376 --tlsverify"))
}

func TestCreateCustomCertDir(t *testing.T) {
	e := newTestEnv(t)
	dir := filepath.Join(t.TempDir(), "certs")
	e.mustRun(append(createArgs, "--tls-cert-dir", dir)...)
	assert.Assert(t, hasTLSFiles(dir))
	_, err := os.Stat(e.certDir("vch1"))
	assert.Assert(t, os.IsNotExist(err))

	// rm finds the directory through the context and removes what create wrote.
	e.mustRun("rm", "vch1")
	_, err = os.Stat(dir)
	assert.Assert(t, os.IsNotExist(err), "TLS directory %s left behind", dir)
}

func TestCreateForeignContextKept(t *testing.T) {
	e := newTestEnv(t)
	foreign := store.Metadata{
		Name:      "vch1",
		Metadata:  command.DockerContext{Description: "my laptop"},
		Endpoints: map[string]any{docker.DockerEndpoint: docker.EndpointMeta{Host: "unix:///var/run/docker.sock"}},
	}
	assert.NilError(t, e.contexts.CreateOrUpdate(foreign))

	r := e.run(createArgs...)
	assert.Error(t, r.status, `VCH "vch1" was created, but its Docker context was not: creating Docker context "vch1": `+
		`a Docker context of that name exists and was not made by docker-vic; create it with: `+
		`docker context create vch1 --description "docker-vic VCH vch1" --docker host=tcp://198.51.100.10:2376,`+
		`ca=`+e.certDir("vch1")+`/ca.pem,cert=`+e.certDir("vch1")+`/cert.pem,key=`+e.certDir("vch1")+`/key.pem`)

	// The VCH stays, and so does the user's context.
	e.mustRun("inspect", "vch1")
	meta, err := e.contexts.GetMetadata("vch1")
	assert.NilError(t, err)
	assert.Equal(t, meta.Endpoints[docker.DockerEndpoint].(docker.EndpointMeta).Host, "unix:///var/run/docker.sock")

	// rm leaves a context docker-vic did not make.
	e.mustRun("rm", "vch1")
	_, err = e.contexts.GetMetadata("vch1")
	assert.NilError(t, err)
}

// TestCreateFlagsRoundTrip creates a VCH with many flags, prints them back with inspect
// --format create-flags, parses them with create's own flags and compares the configurations.
func TestCreateFlagsRoundTrip(t *testing.T) {
	e := newTestEnv(t)
	args := append([]string{}, createArgs...)
	args = append(args,
		"--compute-resource", "/DC0/host/DC0_C0", "--image-store", "LocalDS_0", "--use-vapp",
		"--endpoint-cpu", "2", "--endpoint-memory", "4096",
		"--client-network", "cnet-c", "--client-network-ip", "198.51.100.130/25",
		"--client-network-gateway", "10.0.0.0/8,192.168.0.0/16:198.51.100.129",
		"--bridge-network", "vch2", "--bridge-network-range", "172.20.0.0/16", "--bridge-network-width", "24",
		"--container-network-firewall", "cnet-b:open",
	)
	e.mustRun(args...)
	r := e.mustRun("inspect", "vch1", "--format", "create-flags")
	line := strings.TrimSpace(r.out)
	assert.Assert(t, strings.HasPrefix(line, "docker vic create "), line)

	printed := shellSplit(t, strings.TrimPrefix(line, "docker vic create "))
	var opts createOptions
	fs := pflag.NewFlagSet("create", pflag.ContinueOnError)
	opts.register(fs)
	assert.NilError(t, fs.Parse(printed))
	reparsed, err := opts.config()
	assert.NilError(t, err)

	stored := e.get("vch1").Config
	reparsed.Server, reparsed.TLS, reparsed.Revision = stored.Server, stored.TLS, stored.Revision
	reparsed.Placement.Datacenter = stored.Placement.Datacenter
	assert.Equal(t, toJSON(t, reparsed), toJSON(t, stored))
	assert.Assert(t, is.Contains(toJSON(t, stored), `"useVApp": true`))
}

func toJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.MarshalIndent(v, "", "  ")
	assert.NilError(t, err)
	return string(b)
}

// shellSplit splits words written by config.ShellQuote: plain words and single-quoted ones.
func shellSplit(t *testing.T, s string) []string {
	t.Helper()
	var words []string
	var cur strings.Builder
	inWord, quoted := false, false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case quoted && c == '\'':
			quoted = false
		case quoted:
			cur.WriteByte(c)
		case c == '\'':
			quoted, inWord = true, true
		case c == '\\' && i+1 < len(s):
			i++
			cur.WriteByte(s[i])
			inWord = true
		case c == ' ':
			if inWord {
				words = append(words, cur.String())
				cur.Reset()
				inWord = false
			}
		default:
			cur.WriteByte(c)
			inWord = true
		}
	}
	assert.Assert(t, !quoted, "unterminated quote in %q", s)
	if inWord {
		words = append(words, cur.String())
	}
	return words
}

// TestFinishCreateDHCPAddress: when the endpoint reports a DHCP address, the server
// certificate is reissued for it and the context points at it.
func TestFinishCreateDHCPAddress(t *testing.T) {
	configDir := t.TempDir()
	contexts := store.New(filepath.Join(configDir, "contexts"), command.DefaultContextStoreConfig())
	var out strings.Builder
	d := &deps{out: &out, err: &out, contexts: contexts, configDir: configDir}
	cfg := config.New("vch9")
	cfg.ApplyDefaults()
	v := &vchdoc.VCH{
		ID: "vm-99", Name: "vch9", Path: "/DC0/host/DC0_C0/Resources/vch9", PowerState: "poweredOn", Config: cfg,
		NICs: []vchdoc.NIC{{PortGroup: "VM Network", MAC: "00:0c:29:00:00:01",
			Roles: []config.Role{config.RolePublic, config.RoleClient, config.RoleManagement}, Address: mustAddr("198.51.100.77")}},
		PublicAddress: mustAddr("198.51.100.77"),
	}
	tlsm, err := newTLSMaterial("vch9", nil)
	assert.NilError(t, err)
	assert.Assert(t, !tlsm.serverCovers(mustAddr("198.51.100.77")))
	dir := filepath.Join(configDir, "vic", "vch9")
	assert.NilError(t, tlsm.write(dir))

	m := &vch.Manager{Progress: func(step string) { out.WriteString("  " + step + "...\n") }}
	assert.NilError(t, finishHostCreate(d, &createOptions{}, m, v, tlsm, dir))
	assert.Equal(t, strings.ReplaceAll(out.String(), configDir, "$DOCKER_CONFIG"), `  reissuing the server certificate for 198.51.100.77...
VCH "vch9" created: endpoint VM vm-99 in /DC0/host/DC0_C0/Resources/vch9
Docker endpoint: tcp://198.51.100.77:2376 (TLS)
Published ports: 198.51.100.77
TLS certificates: $DOCKER_CONFIG/vic/vch9
Docker context "vch9" created: docker --context vch9 info
`)
	b, err := os.ReadFile(filepath.Join(dir, fileServerCert))
	assert.NilError(t, err)
	assert.Assert(t, (&tlsMaterial{ServerCert: b}).serverCovers(mustAddr("198.51.100.77")))
	meta, err := contexts.GetMetadata("vch9")
	assert.NilError(t, err)
	assert.Equal(t, meta.Endpoints[docker.DockerEndpoint].(docker.EndpointMeta).Host, "tcp://198.51.100.77:2376")
}
