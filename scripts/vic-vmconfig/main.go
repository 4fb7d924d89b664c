// vic-vmconfig shows what vSphere keeps of a VM, for the end-to-end checks that grep it for
// secrets. It reaches vSphere as `docker vic` does (VIC_TARGET, VIC_THUMBPRINT):
//
//	vic-vmconfig extraconfig VM   the VM's extraConfig, one KEY=VALUE a line (values as they are)
//	vic-vmconfig files VM         the local directory of the VM's datastore folder (vcsim keeps
//	                              its datastores in directories of this machine)
//	vic-vmconfig power VM off|on  power the VM off or on, as an admin does in vSphere
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/vmware/govmomi/find"
	"github.com/vmware/govmomi/object"
	"github.com/vmware/govmomi/vim25/mo"
	"github.com/vmware/govmomi/vim25/types"

	"github.com/docker-vic/docker-vic/vsphere"
)

const usage = "usage: vic-vmconfig extraconfig VM | vic-vmconfig files VM | vic-vmconfig power VM off|on"

func main() {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := run(ctx, os.Stdout, os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "vic-vmconfig:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, w io.Writer, args []string) error {
	power := len(args) == 3 && args[0] == "power" && (args[2] == "off" || args[2] == "on")
	if !power && (len(args) != 2 || (args[0] != "extraconfig" && args[0] != "files")) {
		return errors.New(usage)
	}
	t, err := vsphere.Options{}.Resolve(os.Getenv)
	if err != nil {
		return err
	}
	s, err := vsphere.Connect(ctx, t)
	if err != nil {
		return err
	}
	defer s.Logout(context.WithoutCancel(ctx)) //nolint:errcheck // a read-only session
	finder := find.NewFinder(s.Client)
	dc, err := finder.DefaultDatacenter(ctx)
	if err != nil {
		return err
	}
	finder.SetDatacenter(dc)
	vm, err := finder.VirtualMachine(ctx, args[1])
	if err != nil {
		return err
	}
	if power {
		task, err := vm.PowerOff(ctx)
		if args[2] == "on" {
			task, err = vm.PowerOn(ctx)
		}
		if err := vsphere.Wait(ctx, task, err); err != nil {
			return fmt.Errorf("powering VM %q %s: %w", args[1], args[2], err)
		}
		return nil
	}
	var m mo.VirtualMachine
	if err := vm.Properties(ctx, vm.Reference(), []string{"config.extraConfig", "config.files"}, &m); err != nil {
		return fmt.Errorf("reading VM %q: %w", args[1], err)
	}
	if m.Config == nil {
		return fmt.Errorf("VM %q has no configuration", args[1])
	}
	if args[0] == "extraconfig" {
		for _, o := range m.Config.ExtraConfig {
			if v := o.GetOptionValue(); v != nil {
				fmt.Fprintf(w, "%s=%v\n", v.Key, v.Value)
			}
		}
		return nil
	}
	dir, err := localFolder(ctx, finder, m.Config.Files)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintln(w, dir)
	return err
}

// localFolder is the local directory of the datastore folder that holds the VM's .vmx.
func localFolder(ctx context.Context, finder *find.Finder, files types.VirtualMachineFileInfo) (string, error) {
	var p object.DatastorePath
	if !p.FromString(files.VmPathName) {
		return "", fmt.Errorf("the VM's path %q is no datastore path", files.VmPathName)
	}
	ds, err := finder.Datastore(ctx, p.Datastore)
	if err != nil {
		return "", err
	}
	var m mo.Datastore
	if err := ds.Properties(ctx, ds.Reference(), []string{"summary.url"}, &m); err != nil {
		return "", fmt.Errorf("reading datastore %q: %w", p.Datastore, err)
	}
	root := m.Summary.Url
	if u, err := url.Parse(root); err == nil && u.Scheme != "" {
		root = u.Path
	}
	if !strings.HasPrefix(root, "/") {
		return "", fmt.Errorf("datastore %q is not a local directory (%s)", p.Datastore, m.Summary.Url)
	}
	return filepath.Join(root, filepath.Dir(p.Path)), nil
}
