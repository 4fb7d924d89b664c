//go:build linux

package harness

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"

	"github.com/vmware/govmomi/object"
	"github.com/vmware/govmomi/view"
	"github.com/vmware/govmomi/vim25"
	"github.com/vmware/govmomi/vim25/mo"
	"github.com/vmware/govmomi/vim25/types"

	"github.com/docker-vic/docker-vic/appliance/qemu"
	"github.com/docker-vic/docker-vic/vsphere"
)

// isoOf is the datastore path of the ISO on the VM's first CD-ROM that has one, or "".
func isoOf(devices []types.BaseVirtualDevice) string {
	for _, d := range devices {
		if cd, ok := d.(*types.VirtualCdrom); ok {
			if b, ok := cd.Backing.(*types.VirtualCdromIsoBackingInfo); ok && b.FileName != "" {
				return b.FileName
			}
		}
	}
	return ""
}

// machine is what the harness boots for one vSphere VM, read from its devices.
type machine struct {
	iso     string // local path
	console string // local path of the serial port's file, or ""
	disks   []qemu.Disk
	nics    []nicOnWire
}

type nicOnWire struct {
	mac       net.HardwareAddr
	portGroup string
}

// readMachine maps the VM's devices to local files and port groups: datastore paths become
// files in the directories vcsim keeps its datastores in (a datastore's URL).
func readMachine(ctx context.Context, c *vim25.Client, devices []types.BaseVirtualDevice) (*machine, error) {
	dirs, err := datastoreDirs(ctx, c)
	if err != nil {
		return nil, err
	}
	local := func(dsPath string) (string, error) {
		var p object.DatastorePath
		if !p.FromString(dsPath) {
			return "", fmt.Errorf("%q is not a datastore path", dsPath)
		}
		dir, ok := dirs[p.Datastore]
		if !ok {
			return "", fmt.Errorf("datastore %q of %q has no local directory", p.Datastore, dsPath)
		}
		rel := filepath.FromSlash(p.Path)
		if !filepath.IsLocal(rel) {
			// The harness runs as root: a file outside the datastore must never become a disk.
			return "", fmt.Errorf("%q leaves its datastore's directory", dsPath)
		}
		return filepath.Join(dir, rel), nil
	}
	inv, err := vsphere.ScanInventory(ctx, c, "")
	if err != nil {
		return nil, err
	}
	m := &machine{}
	if m.iso, err = local(isoOf(devices)); err != nil {
		return nil, fmt.Errorf("the CD-ROM: %w", err)
	}
	for _, d := range devices {
		switch d := d.(type) {
		case types.BaseVirtualEthernetCard:
			card := d.GetVirtualEthernetCard()
			mac, err := net.ParseMAC(card.MacAddress)
			if err != nil {
				return nil, fmt.Errorf("NIC %d has MAC %q: %w", card.Key, card.MacAddress, err)
			}
			pg := inv.PortGroupOf(card.Backing)
			if pg == "" {
				return nil, fmt.Errorf("NIC %s is on no port group the harness knows", mac)
			}
			m.nics = append(m.nics, nicOnWire{mac: mac, portGroup: pg})
		case *types.VirtualSerialPort:
			if b, ok := d.Backing.(*types.VirtualSerialPortFileBackingInfo); ok && m.console == "" {
				if m.console, err = local(b.FileName); err != nil {
					return nil, fmt.Errorf("the serial port: %w", err)
				}
			}
		case *types.VirtualDisk:
			b, ok := d.Backing.(*types.VirtualDiskFlatVer2BackingInfo)
			if !ok {
				return nil, fmt.Errorf("disk %d has a backing of type %T, not a flat file", d.Key, d.Backing)
			}
			path, err := local(b.FileName)
			if err != nil {
				return nil, fmt.Errorf("disk %d: %w", d.Key, err)
			}
			disk, err := flatDisk(path, d.CapacityInBytes)
			if err != nil {
				return nil, err
			}
			m.disks = append(m.disks, disk)
		}
	}
	return m, nil
}

// flatDisk is the raw image behind a vcsim disk: the -flat.vmdk file that vcsim makes empty
// beside the descriptor, grown (sparsely) to the disk's capacity. Writes of the guest land
// there, in the VM's folder on the datastore.
func flatDisk(vmdk string, capacity int64) (qemu.Disk, error) {
	flat := strings.TrimSuffix(vmdk, ".vmdk") + "-flat.vmdk"
	f, err := os.OpenFile(flat, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return qemu.Disk{}, fmt.Errorf("opening disk %q: %w", flat, err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err == nil && fi.Size() < capacity {
		err = f.Truncate(capacity)
	}
	if err != nil {
		return qemu.Disk{}, fmt.Errorf("sizing disk %q: %w", flat, err)
	}
	return qemu.Disk{Path: flat, Format: "raw"}, nil
}

// datastoreDirs maps each datastore's name to its URL: a local directory under vcsim.
func datastoreDirs(ctx context.Context, c *vim25.Client) (map[string]string, error) {
	v, err := view.NewManager(c).CreateContainerView(ctx, c.ServiceContent.RootFolder, []string{"Datastore"}, true)
	if err != nil {
		return nil, err
	}
	defer v.Destroy(context.WithoutCancel(ctx)) //nolint:errcheck // the view goes with the session
	var dss []mo.Datastore
	if err := v.Retrieve(ctx, []string{"Datastore"}, []string{"name", "summary.url"}, &dss); err != nil {
		return nil, fmt.Errorf("reading the datastores: %w", err)
	}
	dirs := map[string]string{}
	for _, ds := range dss {
		dirs[ds.Name] = strings.TrimPrefix(ds.Summary.Url, "file://")
	}
	return dirs, nil
}
