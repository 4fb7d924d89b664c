package vch

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path"

	"github.com/vmware/govmomi/fault"
	"github.com/vmware/govmomi/object"
	"github.com/vmware/govmomi/vim25/soap"
	"github.com/vmware/govmomi/vim25/types"

	"github.com/docker-vic/docker-vic/api/guestinfo"
	"github.com/docker-vic/docker-vic/config"
	"github.com/docker-vic/docker-vic/vsphere"
)

// Files of an appliance VCH in its datastore folder, "[image store] NAME/".
const (
	// ISOFile is the uploaded boot image.
	ISOFile = "appliance.iso"
	// SerialLogFile is an endpoint's serial console, where vic-init writes its progress.
	SerialLogFile = "serial.log"
	// DefaultDataDiskGB is the size of the data disk: the guest's private key, dockerd's data
	// and vic-endpoint's state. It is thin: it takes what the guest writes.
	DefaultDataDiskGB = 8
)

// Appliance is what an endpoint VM that boots the project's appliance gets beyond the VM of
// host mode: its datastore folder with the boot image, a serial log and a data disk, and the
// guestinfo keys of the contract with the guest.
type Appliance struct {
	// LocalISO is a local file uploaded as "[image store] NAME/appliance.iso". When empty, the
	// configuration's Placement.ApplianceISO names the image on a datastore.
	LocalISO string
	// DataDiskGB is the data disk's size; zero means DefaultDataDiskGB.
	DataDiskGB int
	// Keys are guestinfo keys set at creation besides the configuration: the CLI's keys known
	// before power-on and the guest's keys, created guestinfo.Unset. The NICs' key is written
	// once vSphere has given the cards their MACs.
	Keys map[string]string
}

// DatastoreFolder is the datastore folder of VCH name on image store ds: "[ds] name".
func DatastoreFolder(ds, name string) string {
	return (&object.DatastorePath{Datastore: ds, Path: name}).String()
}

// DatastoreFile is the path of file in the datastore folder of the VCH of cfg.
func DatastoreFile(cfg *config.Config, file string) string {
	return (&object.DatastorePath{Datastore: cfg.Placement.ImageStore, Path: path.Join(cfg.Name, file)}).String()
}

// EndpointFile is the path of file of endpoint VM i (from 1) of the VCH of cfg: in the VCH's
// datastore folder for the first, in a folder of its own there, named after the VM, for the
// others (vSphere gives each VM's folder a vmware.log of its own).
func EndpointFile(cfg *config.Config, i int, file string) string {
	if i <= 1 {
		return DatastoreFile(cfg, file)
	}
	return DatastoreFile(cfg, path.Join(config.EndpointVMName(cfg.Name, i), file))
}

// checkFolderFree refuses an appliance VCH whose datastore folder already exists: it would
// mix its files with someone else's.
func (m *Manager) checkFolderFree(ctx context.Context, p *createPlan, name string) error {
	ds, err := m.datastore(ctx, p.target.datastore)
	if err != nil {
		return err
	}
	_, err = ds.Stat(ctx, name)
	var nf object.DatastoreNoSuchDirectoryError
	var nff object.DatastoreNoSuchFileError
	switch {
	case errors.As(err, &nf), errors.As(err, &nff):
		return nil
	case err == nil:
		return &config.Error{Flag: "--name", Value: name, Rule: fmt.Sprintf("datastore folder %s already exists", DatastoreFolder(p.target.datastore, name))}
	}
	return fmt.Errorf("reading datastore folder %s: %w", DatastoreFolder(p.target.datastore, name), err)
}

// datastore finds datastore name in the Manager's datacenter.
func (m *Manager) datastore(ctx context.Context, name string) (*object.Datastore, error) {
	dc, err := m.datacenter(ctx)
	if err != nil {
		return nil, err
	}
	f := newFinder(m.Client)
	f.SetDatacenter(dc)
	ds, err := f.Datastore(ctx, name)
	if err != nil {
		return nil, fmt.Errorf("finding datastore %q: %w", name, err)
	}
	return ds, nil
}

// makeFolder creates the VCH's datastore folder and uploads the boot image into it when it
// is a local file.
func (m *Manager) makeFolder(ctx context.Context, cfg *config.Config, app *Appliance, undo *[]func(context.Context) error) error {
	folder := DatastoreFolder(cfg.Placement.ImageStore, cfg.Name)
	dc, err := m.datacenter(ctx)
	if err != nil {
		return err
	}
	m.progress("creating datastore folder %s", folder)
	fm := object.NewFileManager(m.Client)
	if err := fm.MakeDirectory(ctx, folder, dc, false); err != nil {
		return fmt.Errorf("creating datastore folder %s: %w", folder, err)
	}
	*undo = append(*undo, func(ctx context.Context) error { return m.removeFolder(ctx, folder) })
	var more []int
	for i := 2; i <= cfg.EndpointCount(); i++ {
		more = append(more, i)
	}
	if err := m.makeEndpointFolders(ctx, cfg, more, nil); err != nil {
		return err
	}
	if app.LocalISO == "" {
		return nil
	}
	ds, err := m.datastore(ctx, cfg.Placement.ImageStore)
	if err != nil {
		return err
	}
	st, err := os.Stat(app.LocalISO)
	if err != nil {
		return fmt.Errorf("reading the appliance image: %w", err)
	}
	dst := path.Join(cfg.Name, ISOFile)
	m.progress("uploading %s (%d MB) to %s", app.LocalISO, (st.Size()+(1<<20)-1)>>20, DatastoreFile(cfg, ISOFile))
	if err := ds.UploadFile(ctx, app.LocalISO, dst, &soap.DefaultUpload); err != nil {
		return fmt.Errorf("uploading the appliance image to %s: %w", DatastoreFile(cfg, ISOFile), err)
	}
	return nil
}

// makeEndpointFolders creates the datastore folders of endpoint VMs numbered numbers (from 2)
// in the VCH's folder, pushing their removal on undo when it is not nil.
func (m *Manager) makeEndpointFolders(ctx context.Context, cfg *config.Config, numbers []int, undo *[]func(context.Context) error) error {
	dc, err := m.datacenter(ctx)
	if err != nil {
		return err
	}
	fm := object.NewFileManager(m.Client)
	for _, i := range numbers {
		folder := DatastoreFolder(cfg.Placement.ImageStore, path.Join(cfg.Name, config.EndpointVMName(cfg.Name, i)))
		err := fm.MakeDirectory(ctx, folder, dc, true)
		if fault.Is(err, &types.FileAlreadyExists{}) {
			continue // left by a configure cut short: the endpoint VM's files go in it again
		}
		if err != nil {
			return fmt.Errorf("creating datastore folder %s: %w", folder, err)
		}
		if undo != nil {
			*undo = append(*undo, func(ctx context.Context) error { return m.removeFolder(ctx, folder) })
		}
	}
	return nil
}

// ApplianceOf is what the endpoint VMs of the appliance VCH of cfg get beyond host mode: the
// client CA of cfg.TLS and the guest's keys, created unset. The image is the one on the
// datastore (cfg.Placement.ApplianceISO) unless the caller sets LocalISO to upload.
func ApplianceOf(cfg *config.Config) *Appliance {
	app := &Appliance{Keys: map[string]string{guestinfo.KeyClientCA: cfg.TLS.CACert}}
	for _, k := range guestinfo.GuestKeys {
		app.Keys[k] = guestinfo.Unset // the guest can set only keys that exist
	}
	return app
}

// removeFolder deletes a datastore folder and what it holds; a folder already gone is fine.
func (m *Manager) removeFolder(ctx context.Context, folder string) error {
	dc, err := m.datacenter(ctx)
	if err != nil {
		return err
	}
	m.progress("removing datastore folder %s", folder)
	task, err := object.NewFileManager(m.Client).DeleteDatastoreFile(ctx, folder, dc)
	err = vsphere.Wait(ctx, task, err)
	if err == nil || vsphere.IsNotFound(err) || isFileNotFound(err) {
		return nil
	}
	return fmt.Errorf("removing datastore folder %s: %w", folder, err)
}

func isFileNotFound(err error) bool {
	var nf object.DatastoreNoSuchDirectoryError
	var nff object.DatastoreNoSuchFileError
	return errors.As(err, &nf) || errors.As(err, &nff) || fault.Is(err, &types.FileNotFound{})
}

// writeNICs tells the guests of endpoint VMs vms, numbered from first, which port group each
// of their cards is on: a guest sees only MACs, which vSphere assigns when it creates the VM,
// so this comes between creation and power-on.
func (m *Manager) writeNICs(ctx context.Context, name string, vms []*object.VirtualMachine, first int) error {
	v, err := m.get(ctx, name)
	if err != nil {
		return err
	}
	for j, vm := range vms {
		i := first + j
		e := v.Endpoint(i)
		if e == nil {
			return fmt.Errorf("endpoint VM %q is not found after its creation", config.EndpointVMName(name, i))
		}
		nics := make([]guestinfo.NIC, 0, len(e.NICs))
		for _, n := range e.NICs {
			nics = append(nics, guestinfo.NIC{MAC: n.MAC, PortGroup: n.PortGroup})
		}
		m.progress("writing the MACs of the %d NICs of endpoint VM %q to %s", len(nics), e.Name, guestinfo.KeyNICs)
		task, err := vm.Reconfigure(ctx, types.VirtualMachineConfigSpec{ExtraConfig: vsphere.OptionValues(map[string]string{guestinfo.KeyNICs: guestinfo.EncodeNICs(nics)})})
		if err := vsphere.Wait(ctx, task, err); err != nil {
			return fmt.Errorf("writing the NICs of endpoint VM %q: %w", e.Name, err)
		}
	}
	return nil
}

// applianceDevices are endpoint VM i's serial port logging to the datastore folder, and its
// data disk on a paravirtual SCSI controller. Keys go down from firstKey.
func applianceDevices(cfg *config.Config, app *Appliance, i int, firstKey int32) []types.BaseVirtualDeviceConfigSpec {
	serial := &types.VirtualSerialPort{
		VirtualDevice: types.VirtualDevice{
			Key: firstKey,
			Backing: &types.VirtualSerialPortFileBackingInfo{VirtualDeviceFileBackingInfo: types.VirtualDeviceFileBackingInfo{
				FileName: EndpointFile(cfg, i, SerialLogFile),
			}},
			Connectable: &types.VirtualDeviceConnectInfo{StartConnected: true, Connected: true},
		},
		YieldOnPoll: true,
	}
	scsi := &types.ParaVirtualSCSIController{VirtualSCSIController: types.VirtualSCSIController{
		VirtualController: types.VirtualController{VirtualDevice: types.VirtualDevice{Key: firstKey - 1}, BusNumber: 0},
		SharedBus:         types.VirtualSCSISharingNoSharing,
	}}
	gb := app.DataDiskGB
	if gb <= 0 {
		gb = DefaultDataDiskGB
	}
	unit := int32(0)
	disk := &types.VirtualDisk{
		VirtualDevice: types.VirtualDevice{
			Key:           firstKey - 2,
			ControllerKey: scsi.Key,
			UnitNumber:    &unit,
			Backing: &types.VirtualDiskFlatVer2BackingInfo{
				VirtualDeviceFileBackingInfo: types.VirtualDeviceFileBackingInfo{FileName: EndpointFile(cfg, i, config.EndpointVMName(cfg.Name, i)+"-data.vmdk")},
				DiskMode:                     string(types.VirtualDiskModePersistent),
				ThinProvisioned:              types.NewBool(true),
			},
		},
		CapacityInKB: int64(gb) << 20,
	}
	add := types.VirtualDeviceConfigSpecOperationAdd
	return []types.BaseVirtualDeviceConfigSpec{
		&types.VirtualDeviceConfigSpec{Operation: add, Device: serial},
		&types.VirtualDeviceConfigSpec{Operation: add, Device: scsi},
		&types.VirtualDeviceConfigSpec{Operation: add, Device: disk, FileOperation: types.VirtualDeviceConfigSpecFileOperationCreate},
	}
}
