package vch

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"

	"github.com/vmware/govmomi/object"
	"github.com/vmware/govmomi/vim25/mo"
	"github.com/vmware/govmomi/vim25/soap"
	"github.com/vmware/govmomi/vim25/types"

	"github.com/docker-vic/docker-vic/config"
	"github.com/docker-vic/docker-vic/vsphere"
)

// EndpointVM is one endpoint VM of a VCH, seen through its guestinfo keys: what create
// exchanges with the appliance while it boots.
type EndpointVM struct {
	vm   *object.VirtualMachine
	name string
	// Number is the endpoint's number, from 1.
	Number int
}

// Name is the endpoint VM's name.
func (e *EndpointVM) Name() string { return e.name }

// EndpointVM finds the endpoint VM of VCH name.
func (m *Manager) EndpointVM(ctx context.Context, name string) (*EndpointVM, error) {
	snap, err := m.Scan(ctx)
	if err != nil {
		return nil, err
	}
	v, err := snap.EndpointVM(name)
	if err != nil {
		return nil, err
	}
	return &EndpointVM{vm: object.NewVirtualMachine(m.Client, v.Ref()), name: name, Number: 1}, nil
}

// EndpointVMs finds the endpoint VMs of VCH name, in endpoint order; numbers, when given, keep
// only those endpoints.
func (m *Manager) EndpointVMs(ctx context.Context, name string, numbers ...int) ([]*EndpointVM, error) {
	snap, err := m.Scan(ctx)
	if err != nil {
		return nil, err
	}
	if _, err := snap.EndpointVM(name); err != nil {
		return nil, err
	}
	var out []*EndpointVM
	for _, v := range snap.EndpointVMsOf(name) {
		if len(numbers) == 0 || slices.Contains(numbers, v.Endpoint()) {
			out = append(out, &EndpointVM{vm: object.NewVirtualMachine(m.Client, v.Ref()), name: v.Name(), Number: v.Endpoint()})
		}
	}
	return out, nil
}

// Keys reads the VM's guestinfo keys of docker-vic (guestinfo.vic.*) and its power state.
func (e *EndpointVM) Keys(ctx context.Context) (map[string]string, types.VirtualMachinePowerState, error) {
	var vm mo.VirtualMachine
	if err := e.vm.Properties(ctx, e.vm.Reference(), []string{"config.extraConfig", "runtime.powerState"}, &vm); err != nil {
		return nil, "", fmt.Errorf("reading the guestinfo of endpoint VM %q: %w", e.name, err)
	}
	out := map[string]string{}
	if vm.Config != nil {
		for _, o := range vm.Config.ExtraConfig {
			ov := o.GetOptionValue()
			if s, ok := ov.Value.(string); ok && strings.HasPrefix(ov.Key, config.KeyPrefix) {
				out[ov.Key] = s
			}
		}
	}
	return out, vm.Runtime.PowerState, nil
}

// SetKeys writes guestinfo keys of the VM.
func (e *EndpointVM) SetKeys(ctx context.Context, kv map[string]string) error {
	task, err := e.vm.Reconfigure(ctx, types.VirtualMachineConfigSpec{ExtraConfig: vsphere.OptionValues(kv)})
	if err := vsphere.Wait(ctx, task, err); err != nil {
		return fmt.Errorf("writing the guestinfo of endpoint VM %q: %w", e.name, err)
	}
	return nil
}

// ReadFile reads at most the last max bytes of a file on a datastore, "[ds] dir/file".
func (m *Manager) ReadFile(ctx context.Context, dsPath string, max int64) ([]byte, error) {
	var p object.DatastorePath
	if !p.FromString(dsPath) {
		return nil, fmt.Errorf("%q is not a datastore path", dsPath)
	}
	ds, err := m.datastore(ctx, p.Datastore)
	if err != nil {
		return nil, err
	}
	// A suffix range asks for the last max bytes only: a serial log grows for the VM's life.
	// A server that ignores it sends the whole file (200), which tail trims.
	u, ticket, err := ds.ServiceTicket(ctx, p.Path, http.MethodGet)
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", dsPath, err)
	}
	dl := soap.Download{Method: http.MethodGet, Ticket: ticket, Close: ticket != nil,
		Headers: map[string]string{"Range": fmt.Sprintf("bytes=-%d", max)}}
	res, err := ds.Client().DownloadRequest(ctx, u, &dl)
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", dsPath, err)
	}
	r := res.Body
	defer r.Close()
	if res.StatusCode != http.StatusOK && res.StatusCode != http.StatusPartialContent {
		return nil, fmt.Errorf("reading %s: %s", dsPath, res.Status)
	}
	t := &tail{max: int(max)}
	if _, err := io.Copy(t, r); err != nil {
		return nil, fmt.Errorf("reading %s: %w", dsPath, err)
	}
	return t.buf, nil
}

// tail keeps the last max bytes written to it.
type tail struct {
	max int
	buf []byte
}

func (t *tail) Write(p []byte) (int, error) {
	t.buf = append(t.buf, p...)
	if over := len(t.buf) - t.max; over > 0 {
		t.buf = append(t.buf[:0], t.buf[over:]...)
	}
	return len(p), nil
}
