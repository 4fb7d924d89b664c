// Package qemu runs one VM under qemu-system-x86_64 the way the tests stand in for vSphere: it
// boots an ISO from a CD-ROM (or, for quick tests, a kernel and an initrd), gives it vmxnet3
// NICs whose taps sit on port groups' wires in network namespaces, writes its serial console to
// a file, and answers its guestinfo channel (fw_cfg naming a virtio-serial port, see
// api/guestinfo) from a Store. It stops the VM with an ACPI power-down over QMP, then kills it
// after a timeout.
package qemu

import (
	"errors"
	"fmt"
	"net"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/docker-vic/docker-vic/api/guestinfo"
)

// DefaultMemoryMB is the guest's memory when Spec leaves it out: the appliance needs 1 GB.
const DefaultMemoryMB = 1024

// Spec says what VM to run.
type Spec struct {
	// Name names the VM in qemu and in messages.
	Name string
	// ISO is the image on the VM's CD-ROM, which it boots from.
	ISO string
	// Kernel, Initrd and Append boot a kernel directly instead of the ISO (tests).
	Kernel, Initrd, Append string
	// Disks are the VM's disks, on a PVSCSI controller as on vSphere.
	Disks []Disk
	// MemoryMB is the guest's memory; 0 means DefaultMemoryMB.
	MemoryMB int
	// NICs are the VM's network cards, vmxnet3 as on vSphere, in order.
	NICs []NIC
	// Console is the file the serial console (ttyS0) goes to.
	Console string
	// RunDir holds the VM's sockets (QMP, guestinfo), qemu's output (qemu.log) and PIDFile;
	// it must exist and its path be short (unix socket paths are at most 107 bytes).
	RunDir string
	// Store answers the guest's guestinfo channel; nil gives the VM no channel.
	Store guestinfo.Store
	// Accel is "kvm" or "tcg"; empty picks kvm when /dev/kvm exists.
	Accel string
}

// Disk is a disk image file.
type Disk struct {
	Path string
	// Format is "qcow2" or "raw"; empty picks it from the file name (.qcow2, else raw).
	Format string
	// SizeMB creates the file with this size when it is missing; 0 requires the file.
	SizeMB int
}

func (d Disk) format() string {
	if d.Format != "" {
		return d.Format
	}
	if strings.HasSuffix(d.Path, ".qcow2") {
		return "qcow2"
	}
	return "raw"
}

// NIC is one network card and where its cable goes: a tap made inside the network namespace
// at Namespace (a path such as /run/netns/NAME), enslaved to Bridge there.
type NIC struct {
	MAC       net.HardwareAddr
	Namespace string
	Bridge    string
	// Tap names the tap in the namespace; empty makes one from the MAC (vm-xxxxxxxxxx).
	Tap string
}

func (n NIC) tapName() string {
	if n.Tap != "" {
		return n.Tap
	}
	return "vm-" + strings.ReplaceAll(n.MAC.String(), ":", "")[2:]
}

// validate says what is wrong with s, in one sentence.
func (s Spec) validate() error {
	switch {
	case s.Name == "":
		return errors.New("a VM needs a name")
	case s.ISO == "" && s.Kernel == "":
		return fmt.Errorf("VM %q needs an ISO or a kernel to boot", s.Name)
	case s.Console == "":
		return fmt.Errorf("VM %q needs a console file", s.Name)
	case s.RunDir == "":
		return fmt.Errorf("VM %q needs a directory for its sockets", s.Name)
	case len(filepath.Join(s.RunDir, "guestinfo.sock")) > 100:
		return fmt.Errorf("the socket directory %q of VM %q is too long for unix sockets", s.RunDir, s.Name)
	case s.Accel != "" && s.Accel != "kvm" && s.Accel != "tcg":
		return fmt.Errorf("VM %q has accelerator %q, not kvm or tcg", s.Name, s.Accel)
	}
	for _, n := range s.NICs {
		if len(n.MAC) != 6 {
			return fmt.Errorf("a NIC of VM %q has MAC %q, not 6 bytes", s.Name, n.MAC)
		}
		if n.Namespace == "" || n.Bridge == "" {
			return fmt.Errorf("NIC %s of VM %q needs a namespace and a bridge", n.MAC, s.Name)
		}
		if len(n.tapName()) > 15 {
			return fmt.Errorf("tap %q of VM %q is longer than 15 characters", n.tapName(), s.Name)
		}
	}
	for _, d := range s.Disks {
		if f := d.format(); f != "qcow2" && f != "raw" {
			return fmt.Errorf("disk %q of VM %q has format %q, not qcow2 or raw", d.Path, s.Name, f)
		}
	}
	return nil
}

func (s Spec) memoryMB() int {
	if s.MemoryMB > 0 {
		return s.MemoryMB
	}
	return DefaultMemoryMB
}

// PIDFile is where qemu writes its process ID while it runs: RunDir/qemu.pid, for a rig
// that must find its VMs again after its own process died.
func (s Spec) PIDFile() string { return filepath.Join(s.RunDir, "qemu.pid") }

func (s Spec) qmpSocket() string       { return filepath.Join(s.RunDir, "qmp.sock") }
func (s Spec) guestinfoSocket() string { return filepath.Join(s.RunDir, "guestinfo.sock") }

// firstTapFD is the descriptor number of the first NIC's tap in qemu: ExtraFiles start at 3.
const firstTapFD = 3

// args is qemu-system-x86_64's command line for s with accelerator accel.
func (s Spec) args(accel string) []string {
	a := []string{"-name", s.Name, "-machine", "pc", "-m", strconv.Itoa(s.memoryMB()), "-smp", "1",
		"-display", "none", "-vga", "none", "-nodefaults", "-no-user-config",
		"-serial", "file:" + s.Console,
		"-qmp", "unix:" + s.qmpSocket() + ",server=on,wait=off",
		"-pidfile", s.PIDFile()}
	if accel == "kvm" {
		a = append(a, "-accel", "kvm", "-cpu", "host")
	} else {
		// A 256 MB translation cache halves qemu's memory against the default (1 GB guests).
		// RDRAND, as every CPU under ESXi has it, seeds the guest kernel's random numbers at
		// once: without it the first getrandom (mkfs's UUID, the TLS key) waits seconds.
		a = append(a, "-accel", "tcg,tb-size=256", "-cpu", "qemu64,+rdrand")
	}
	if s.ISO != "" {
		a = append(a, "-drive", "file="+s.ISO+",media=cdrom,if=ide,index=1,readonly=on,format=raw")
	}
	if s.Kernel != "" {
		a = append(a, "-kernel", s.Kernel)
		if s.Initrd != "" {
			a = append(a, "-initrd", s.Initrd)
		}
		if s.Append != "" {
			a = append(a, "-append", s.Append)
		}
	} else {
		a = append(a, "-boot", "order=d")
	}
	if len(s.Disks) > 0 {
		a = append(a, "-device", "pvscsi,id=scsi0")
		for i, d := range s.Disks {
			id := "disk" + strconv.Itoa(i)
			a = append(a, "-drive", "file="+d.Path+",if=none,id="+id+",format="+d.format(),
				"-device", "scsi-hd,drive="+id+",bus=scsi0.0,scsi-id="+strconv.Itoa(i))
		}
	}
	for i, n := range s.NICs {
		id := "nic" + strconv.Itoa(i)
		a = append(a, "-netdev", "tap,id="+id+",fd="+strconv.Itoa(firstTapFD+i),
			"-device", "vmxnet3,netdev="+id+",mac="+n.MAC.String())
	}
	if s.Store != nil {
		a = append(a, "-fw_cfg", "name="+guestinfo.FwCfgPort+",string="+guestinfo.Port,
			"-chardev", "socket,id=guestinfo,path="+s.guestinfoSocket()+",reconnect=1",
			"-device", "virtio-serial-pci,id=vser0",
			"-device", "virtserialport,bus=vser0.0,chardev=guestinfo,name="+guestinfo.Port)
	}
	return a
}
