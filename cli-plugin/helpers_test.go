package main

import (
	"bytes"
	"context"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/docker/cli/cli/command"
	"github.com/docker/cli/cli/context/store"
	"github.com/vmware/govmomi/find"
	"github.com/vmware/govmomi/object"
	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25"
	"github.com/vmware/govmomi/vim25/types"
	"gotest.tools/v3/assert"

	"github.com/docker-vic/docker-vic/api/vchdoc"
	"github.com/docker-vic/docker-vic/cli-plugin/vch"
	"github.com/docker-vic/docker-vic/config"
	"github.com/docker-vic/docker-vic/vsphere"
	"github.com/docker-vic/docker-vic/vsphere/sim"
)

// testEnv is an in-process vCenter with one datacenter DC0, cluster DC0_C0 (the only compute
// resource), datastore LocalDS_0, "VM Network" and distributed port groups on DVS0, plus a
// Docker configuration directory with its context store.
type testEnv struct {
	t         *testing.T
	ctx       context.Context
	model     *simulator.Model
	server    *simulator.Server
	client    *vim25.Client
	conn      *sessionConnector
	configDir string
	contexts  *store.ContextStore
	// isoPaths are where create looks for the installed appliance image (none by default);
	// dial reaches the Docker API of an appliance the test plays.
	isoPaths []string
	dial     dialFunc
	// maskPaths are more paths that mask replaces: {path, placeholder}.
	maskPaths [][2]string
}

// Port groups of the test inventory: vch1, vch2 (bridges), cnet-a and cnet-b (MAC learning),
// locked (forged transmits and promiscuous mode rejected).
var testPortGroups = []string{"vch1", "vch2", "vch3", "cnet-a", "cnet-b", "cnet-c", "locked"}

func newTestEnv(t *testing.T) *testEnv {
	t.Helper()
	m := sim.Model()
	assert.NilError(t, m.Create())
	t.Cleanup(m.Remove)
	s := m.Service.NewServer()
	t.Cleanup(s.Close)

	configDir := t.TempDir()
	e := &testEnv{
		t:         t,
		ctx:       context.Background(),
		model:     m,
		server:    s,
		configDir: configDir,
		contexts:  store.New(filepath.Join(configDir, "contexts"), command.DefaultContextStoreConfig()),
		conn: &sessionConnector{
			getenv: func(k string) string {
				if k == vsphere.EnvTarget {
					return s.URL.String()
				}
				return ""
			},
			stdin: -1,
		},
	}
	sess, err := e.conn.Connect(e.ctx, vsphere.Options{}, false)
	assert.NilError(t, err)
	t.Cleanup(func() { _ = sess.Logout(context.Background()) })
	e.client = sess.Client
	for _, pg := range testPortGroups {
		e.addPortgroup(pg, pg != "locked")
	}
	return e
}

// addPortgroup adds a distributed port group to DVS0, with MAC learning when open, and with
// forged transmits and promiscuous mode rejected when not.
func (e *testEnv) addPortgroup(name string, open bool) {
	e.t.Helper()
	setting := sim.MACManagement(false, false)
	if open {
		setting = sim.MACLearning()
	}
	assert.NilError(e.t, sim.AddPortGroups(e.ctx, e.client, setting, name))
}

// result is what a user sees of one command.
type result struct {
	out, err string
	status   error
}

// run runs `docker vic ARGS...` with a fresh command tree, as the plugin would.
func (e *testEnv) run(args ...string) result {
	e.t.Helper()
	var out, errb bytes.Buffer
	d := &deps{out: &out, err: &errb, vsphere: e.conn, contexts: e.contexts, configDir: e.configDir,
		isoPaths: e.isoPaths, dialDocker: e.dial, bootPoll: 20 * time.Millisecond}
	cmd := newVicCommand(func() *deps { return d })
	cmd.SetArgs(args)
	cmd.SetOut(&out)
	cmd.SetErr(&errb)
	err := cmd.ExecuteContext(e.ctx)
	return result{out: out.String(), err: errb.String(), status: err}
}

// mustRun runs a command that must succeed.
func (e *testEnv) mustRun(args ...string) result {
	e.t.Helper()
	r := e.run(args...)
	assert.NilError(e.t, r.status, "docker vic %s\nstdout: %s\nstderr: %s", strings.Join(args, " "), r.out, r.err)
	return r
}

// inventory lists every VM, resource pool, vApp and VM folder, as an admin would see them.
func (e *testEnv) inventory() string {
	e.t.Helper()
	f := find.NewFinder(e.client)
	var items []string
	vms, _ := f.VirtualMachineList(e.ctx, "/...")
	for _, v := range vms {
		items = append(items, "vm "+v.InventoryPath)
	}
	pools, _ := f.ResourcePoolListAll(e.ctx, "/...")
	for _, p := range pools {
		items = append(items, "pool "+p.InventoryPath)
	}
	apps, _ := f.VirtualAppList(e.ctx, "/...")
	for _, a := range apps {
		items = append(items, "vapp "+a.InventoryPath)
	}
	folders, _ := f.FolderList(e.ctx, "/DC0/vm/*")
	for _, fo := range folders {
		items = append(items, "folder "+fo.InventoryPath)
	}
	sort.Strings(items)
	return strings.Join(items, "\n")
}

// addContainerVM creates a container VM of VCH vch in its pool and folder, powered on when on.
func (e *testEnv) addContainerVM(vch, name string, on bool) {
	e.t.Helper()
	f := find.NewFinder(e.client)
	pool, err := f.ResourcePool(e.ctx, "/DC0/host/DC0_C0/Resources/"+vch)
	assert.NilError(e.t, err)
	folder, err := f.Folder(e.ctx, "/DC0/vm/"+vch)
	assert.NilError(e.t, err)
	spec := types.VirtualMachineConfigSpec{
		Name:  name,
		Files: &types.VirtualMachineFileInfo{VmPathName: "[LocalDS_0]"},
		ExtraConfig: []types.BaseOptionValue{
			&types.OptionValue{Key: config.KeyContainerVCH, Value: vch},
			&types.OptionValue{Key: config.KeyContainerID, Value: "c0ffee" + name},
		},
	}
	task, err := folder.CreateVM(e.ctx, spec, pool, nil)
	assert.NilError(e.t, err)
	info, err := task.WaitForResult(e.ctx)
	assert.NilError(e.t, err)
	if on {
		vm := object.NewVirtualMachine(e.client, info.Result.(types.ManagedObjectReference))
		task, err := vm.PowerOn(e.ctx)
		assert.NilError(e.t, err)
		assert.NilError(e.t, task.Wait(e.ctx))
	}
}

// certDir is the default TLS directory of VCH name.
func (e *testEnv) certDir(name string) string { return filepath.Join(e.configDir, "vic", name) }

var (
	pemRE         = regexp.MustCompile(`-----BEGIN [A-Z ]+-----[^"]*?-----END [A-Z ]+-----(\\n|\n)?`)
	fingerprintRE = regexp.MustCompile(`([0-9A-F]{2}:){31}[0-9A-F]{2}`)
	portRE        = regexp.MustCompile(`127\.0\.0\.1:[0-9]+`)
	// hostRE is a host of the simulated cluster: DRS places a lone endpoint VM on either.
	hostRE = regexp.MustCompile(`DC0_C0_H[0-9]+`)
)

// mask replaces what changes from run to run: the TLS directory, certificates, fingerprints and
// the simulator's port.
func (e *testEnv) mask(s string) string {
	s = strings.ReplaceAll(s, e.configDir, "$DOCKER_CONFIG")
	for _, p := range e.maskPaths {
		s = strings.ReplaceAll(s, p[0], p[1])
	}
	s = pemRE.ReplaceAllString(s, "<PEM>")
	s = fingerprintRE.ReplaceAllString(s, "<SHA-256>")
	s = hostRE.ReplaceAllString(s, "<host>")
	return portRE.ReplaceAllString(s, "127.0.0.1:<port>")
}

func fileMode(t *testing.T, path string) os.FileMode {
	t.Helper()
	st, err := os.Stat(path)
	assert.NilError(t, err)
	return st.Mode().Perm()
}

// get reads VCH name as vch sees it.
func (e *testEnv) get(name string) *vchdoc.VCH {
	e.t.Helper()
	inv, err := (&vch.Manager{Client: e.client}).Scan(e.ctx)
	assert.NilError(e.t, err)
	v, err := inv.VCH(name)
	assert.NilError(e.t, err)
	return v
}

func mustAddr(s string) netip.Addr { return netip.MustParseAddr(s) }

// powerOff powers off the endpoint VM of VCH name.
func (e *testEnv) powerOff(name string) {
	e.t.Helper()
	vm, err := find.NewFinder(e.client).VirtualMachine(e.ctx, "/DC0/vm/"+name+"/"+name)
	assert.NilError(e.t, err)
	task, err := vm.PowerOff(e.ctx)
	assert.NilError(e.t, err)
	assert.NilError(e.t, task.Wait(e.ctx))
}

// injectFault makes every call of method fail from now on.
func (e *testEnv) injectFault(method string) {
	sim.InjectFault(e.model.Service, method)
}
