package qemu

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/docker-vic/docker-vic/api/guestinfo"
)

// Binary is the qemu command VMs run under.
const Binary = "qemu-system-x86_64"

// VM is one running qemu.
type VM struct {
	spec  Spec
	accel string
	cmd   *exec.Cmd
	// log is qemu's own output: RunDir/qemu.log.
	log string

	done    chan struct{}
	exitErr error
	cancel  context.CancelFunc
	serving sync.WaitGroup
}

// Start launches the VM described by s. The VM runs until it powers itself off, Stop ends
// it, or it is killed; its taps go with it.
func Start(ctx context.Context, s Spec) (_ *VM, err error) {
	if err := s.validate(); err != nil {
		return nil, err
	}
	bin, err := exec.LookPath(Binary)
	if err != nil {
		return nil, fmt.Errorf("%s is not installed: run scripts/setup.sh", Binary)
	}
	accel := s.Accel
	if accel == "" {
		accel = "tcg"
		if f, err := os.OpenFile("/dev/kvm", os.O_RDWR, 0); err == nil {
			f.Close()
			accel = "kvm"
		}
	}
	for _, d := range s.Disks {
		if err := ensureDisk(ctx, d); err != nil {
			return nil, fmt.Errorf("VM %q: %w", s.Name, err)
		}
	}
	_ = os.Remove(s.qmpSocket())
	vm := &VM{spec: s, accel: accel, log: filepath.Join(s.RunDir, "qemu.log"), done: make(chan struct{})}
	serveCtx, cancel := context.WithCancel(context.Background())
	vm.cancel = cancel
	defer func() {
		if err != nil {
			cancel()
			vm.serving.Wait()
		}
	}()
	if s.Store != nil {
		if err := vm.serveGuestinfo(serveCtx); err != nil {
			return nil, err
		}
	}
	var taps []*os.File
	defer func() {
		for _, t := range taps {
			t.Close() // qemu holds its own copies
		}
	}()
	for _, n := range s.NICs {
		t, err := openTap(n)
		if err != nil {
			return nil, fmt.Errorf("VM %q: %w", s.Name, err)
		}
		taps = append(taps, t)
	}
	log, err := os.Create(vm.log)
	if err != nil {
		return nil, fmt.Errorf("VM %q: %w", s.Name, err)
	}
	defer log.Close()
	vm.cmd = exec.Command(bin, s.args(accel)...)
	vm.cmd.ExtraFiles = taps
	vm.cmd.Stdout, vm.cmd.Stderr = log, log
	if err := vm.cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting VM %q: %w", s.Name, err)
	}
	go vm.wait()
	return vm, nil
}

func (vm *VM) wait() {
	err := vm.cmd.Wait()
	if err != nil {
		b, _ := os.ReadFile(vm.log)
		if msg := strings.TrimSpace(string(b)); msg != "" {
			err = fmt.Errorf("%w: %s", err, msg)
		}
		vm.exitErr = fmt.Errorf("VM %q: qemu: %w", vm.spec.Name, err)
	}
	vm.cancel()
	vm.serving.Wait()
	close(vm.done)
}

// Accel is the accelerator the VM runs with: "kvm" or "tcg".
func (vm *VM) Accel() string { return vm.accel }

// PID is qemu's process ID.
func (vm *VM) PID() int { return vm.cmd.Process.Pid }

// Done is closed when qemu has exited.
func (vm *VM) Done() <-chan struct{} { return vm.done }

// Running tells whether qemu still runs.
func (vm *VM) Running() bool {
	select {
	case <-vm.done:
		return false
	default:
		return true
	}
}

// Wait waits for qemu to exit; the error says why it failed, nil after a power-off.
func (vm *VM) Wait() error {
	<-vm.done
	return vm.exitErr
}

// Stop presses the VM's power button (ACPI, over QMP) and waits up to timeout for the guest
// to power off, then kills qemu. It reports whether the guest powered off by itself; stopping
// a VM that is gone is no error.
func (vm *VM) Stop(timeout time.Duration) (clean bool) {
	if !vm.Running() {
		return true
	}
	if err := qmpCommand(vm.spec.qmpSocket(), "system_powerdown"); err == nil {
		select {
		case <-vm.done:
			return true
		case <-time.After(timeout):
		}
	}
	_ = vm.cmd.Process.Kill()
	<-vm.done
	return false
}

// serveGuestinfo listens where qemu's guestinfo chardev connects (and reconnects) and answers
// each connection from the Store until ctx ends.
func (vm *VM) serveGuestinfo(ctx context.Context) error {
	path := vm.spec.guestinfoSocket()
	_ = os.Remove(path)
	l, err := net.Listen("unix", path)
	if err != nil {
		return fmt.Errorf("VM %q: listening for its guestinfo channel: %w", vm.spec.Name, err)
	}
	vm.serving.Add(2)
	go func() {
		defer vm.serving.Done()
		<-ctx.Done()
		l.Close()
	}()
	go func() {
		defer vm.serving.Done()
		var conns sync.WaitGroup
		defer conns.Wait()
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			conns.Add(1)
			go func() {
				defer conns.Done()
				stop := context.AfterFunc(ctx, func() { c.Close() })
				defer stop()
				defer c.Close()
				_ = guestinfo.ServeWire(ctx, c, vm.spec.Store)
			}()
		}
	}()
	return nil
}

// ensureDisk creates d when it is missing and has a size.
func ensureDisk(ctx context.Context, d Disk) error {
	if _, err := os.Stat(d.Path); err == nil || !errors.Is(err, os.ErrNotExist) {
		return err
	}
	if d.SizeMB <= 0 {
		return fmt.Errorf("disk %q is missing and has no size to create it with", d.Path)
	}
	out, err := exec.CommandContext(ctx, "qemu-img", "create", "-q", "-f", d.format(), d.Path, strconv.Itoa(d.SizeMB)+"M").CombinedOutput()
	if err != nil {
		return fmt.Errorf("creating disk %q: %w: %s", d.Path, err, bytes.TrimSpace(out))
	}
	return nil
}
