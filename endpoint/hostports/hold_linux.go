package hostports

import (
	"errors"
	"fmt"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"sync"

	"golang.org/x/sys/unix"
)

// Holder keeps one bound socket per held port.
type Holder struct {
	mu   sync.Mutex
	held map[Key]int // socket file descriptors
}

// NewHolder returns an empty Holder.
func NewHolder() *Holder { return &Holder{held: map[Key]int{}} }

// Hold binds k. Holding a port already held by this Holder is a no-op. A port bound by anyone
// else fails with *InUseError naming the process when it can be found.
func (h *Holder) Hold(k Key) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if _, ok := h.held[k]; ok {
		return nil
	}
	fd, _, err := bind(k)
	if err != nil {
		return err
	}
	h.held[k] = fd
	return nil
}

// HoldEphemeral binds a free port of the kernel's ephemeral range (ip_local_port_range, as
// Docker picks them) for proto on hostIP and returns it.
func (h *Holder) HoldEphemeral(proto Proto, hostIP netip.Addr) (uint16, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	fd, port, err := bind(Key{Proto: proto, HostIP: hostIP})
	if err != nil {
		return 0, fmt.Errorf("picking a free %s host port: %w", proto, err)
	}
	h.held[Key{Proto: proto, HostIP: hostIP, Port: port}] = fd
	return port, nil
}

// Release closes the socket of k; an unheld port is fine.
func (h *Holder) Release(k Key) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if fd, ok := h.held[k]; ok {
		unix.Close(fd)
		delete(h.held, k)
	}
}

// Held lists the held ports.
func (h *Holder) Held() []Key {
	h.mu.Lock()
	defer h.mu.Unlock()
	keys := make([]Key, 0, len(h.held))
	for k := range h.held {
		keys = append(keys, k)
	}
	return keys
}

// Close releases every port.
func (h *Holder) Close() {
	h.mu.Lock()
	defer h.mu.Unlock()
	for k, fd := range h.held {
		unix.Close(fd)
		delete(h.held, k)
	}
}

// bind opens a socket for k without SO_REUSEADDR, so that no later bind of that port succeeds,
// and never listens on it. Port 0 lets the kernel pick from its ephemeral range.
func bind(k Key) (fd int, port uint16, err error) {
	typ, proto := unix.SOCK_STREAM, unix.IPPROTO_TCP
	switch k.Proto {
	case UDP:
		typ, proto = unix.SOCK_DGRAM, unix.IPPROTO_UDP
	case SCTP:
		typ, proto = unix.SOCK_STREAM, unix.IPPROTO_SCTP
	}
	fd, err = unix.Socket(unix.AF_INET, typ|unix.SOCK_CLOEXEC, proto)
	if err != nil {
		return -1, 0, fmt.Errorf("opening a %s socket for host port %s: %w", k.Proto, k, err)
	}
	sa := &unix.SockaddrInet4{Port: int(k.Port)}
	if k.HostIP.IsValid() {
		sa.Addr = k.HostIP.As4()
	}
	if k.Proto == UDP {
		// A held UDP port may still receive datagrams for addresses without DNAT: keep none.
		_ = unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUF, 1)
	}
	if err := unix.Bind(fd, sa); err != nil {
		unix.Close(fd)
		if errors.Is(err, unix.EADDRINUSE) {
			return -1, 0, &InUseError{Key: k, By: findOwner(k)}
		}
		return -1, 0, fmt.Errorf("binding host port %s: %w", k, err)
	}
	got, err := unix.Getsockname(fd)
	if err != nil {
		unix.Close(fd)
		return -1, 0, fmt.Errorf("reading the bound port of %s: %w", k, err)
	}
	return fd, uint16(got.(*unix.SockaddrInet4).Port), nil
}

// findOwner names the process with a socket on k's port, from /proc/net and /proc/PID/fd.
// It returns "" when none can be found (another network namespace, or a race).
func findOwner(k Key) string {
	inodes := socketInodes(k)
	if len(inodes) == 0 {
		return ""
	}
	procs, _ := os.ReadDir("/proc")
	for _, p := range procs {
		pid, err := strconv.Atoi(p.Name())
		if err != nil {
			continue
		}
		fds, _ := os.ReadDir("/proc/" + p.Name() + "/fd")
		for _, fd := range fds {
			target, err := os.Readlink("/proc/" + p.Name() + "/fd/" + fd.Name())
			if err != nil || !strings.HasPrefix(target, "socket:[") {
				continue
			}
			if inodes[strings.TrimSuffix(strings.TrimPrefix(target, "socket:["), "]")] {
				comm, _ := os.ReadFile("/proc/" + p.Name() + "/comm")
				return owner(string(comm), pid)
			}
		}
	}
	return ""
}

// socketInodes returns the inodes of the sockets bound to k's port, from /proc/net/{tcp,udp}{,6}.
func socketInodes(k Key) map[string]bool {
	files := []string{"/proc/thread-self/net/tcp", "/proc/thread-self/net/tcp6"}
	if k.Proto == UDP {
		files = []string{"/proc/thread-self/net/udp", "/proc/thread-self/net/udp6"}
	}
	want := fmt.Sprintf(":%04X", k.Port)
	inodes := map[string]bool{}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		for _, line := range strings.Split(string(b), "\n")[1:] {
			fields := strings.Fields(line)
			if len(fields) < 10 || !strings.HasSuffix(fields[1], want) {
				continue
			}
			// tcp: only listeners hold a port against a new bind; udp has no states.
			if k.Proto != UDP && fields[3] != "0A" {
				continue
			}
			if fields[9] != "0" {
				inodes[fields[9]] = true
			}
		}
	}
	return inodes
}
