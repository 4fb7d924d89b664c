package hostports

import (
	"errors"
	"net"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/docker-vic/docker-vic/endpoint/testns"
)

// inNS runs fn inside a fresh namespace, so the ports used here are nobody else's.
func inNS(t *testing.T, fn func() error) {
	t.Helper()
	if err := testns.New(t, "vpt").Do(fn); err != nil {
		t.Fatal(err)
	}
}

func TestHoldKeepsOthersOff(t *testing.T) {
	inNS(t, func() error {
		h := NewHolder()
		defer h.Close()
		k := Key{Proto: TCP, Port: 8080}
		if err := h.Hold(k); err != nil {
			return err
		}
		if err := h.Hold(k); err != nil {
			return errors.New("holding twice must be a no-op: " + err.Error())
		}
		// docker-proxy would bind and listen like this:
		if l, err := net.Listen("tcp", "0.0.0.0:8080"); err == nil {
			l.Close()
			return errors.New("another process could bind a held port")
		}
		if l, err := net.Listen("tcp", "127.0.0.1:8080"); err == nil {
			l.Close()
			return errors.New("another process could bind a held port on loopback")
		}
		// Nothing listens: a connection is refused rather than left hanging.
		if c, err := net.Dial("tcp", "127.0.0.1:8080"); err == nil {
			c.Close()
			return errors.New("a held port must not accept connections")
		}
		h.Release(k)
		h.Release(k)
		l, err := net.Listen("tcp", "0.0.0.0:8080")
		if err != nil {
			return errors.New("a released port must be free: " + err.Error())
		}
		return l.Close()
	})
}

func TestHoldNamesTheProcessInTheWay(t *testing.T) {
	inNS(t, func() error {
		l, err := net.Listen("tcp", "0.0.0.0:9090")
		if err != nil {
			return err
		}
		defer l.Close()
		h := NewHolder()
		defer h.Close()
		err = h.Hold(Key{Proto: TCP, Port: 9090})
		var inUse *InUseError
		if !errors.As(err, &inUse) {
			return errors.New("want an InUseError, got " + errorString(err))
		}
		comm, _ := os.ReadFile("/proc/self/comm")
		want := `host port 9090/tcp is already in use by process "` + strings.TrimSpace(string(comm)) + `" (pid ` + strconv.Itoa(os.Getpid()) + `)`
		if err.Error() != want {
			return errors.New("got " + err.Error() + ", want " + want)
		}
		return nil
	})
}

func TestHoldEphemeralAndUDP(t *testing.T) {
	inNS(t, func() error {
		h := NewHolder()
		defer h.Close()
		seen := map[uint16]bool{}
		for i := 0; i < 20; i++ {
			p, err := h.HoldEphemeral(TCP, netip.Addr{})
			if err != nil {
				return err
			}
			if p < 1024 || seen[p] {
				return errors.New("ephemeral port " + strconv.Itoa(int(p)) + " is low or repeated")
			}
			seen[p] = true
		}
		if len(h.Held()) != 20 {
			return errors.New("held count is wrong")
		}
		if err := h.Hold(Key{Proto: UDP, Port: 5353}); err != nil {
			return err
		}
		if c, err := net.ListenPacket("udp", "0.0.0.0:5353"); err == nil {
			c.Close()
			return errors.New("another process could bind a held udp port")
		}
		return nil
	})
}

func errorString(err error) string {
	if err == nil {
		return "nil"
	}
	return err.Error()
}

func TestProtoFromNumber(t *testing.T) {
	for n, want := range map[int]Proto{6: TCP, 17: UDP, 132: SCTP} {
		if got, err := ProtoFromNumber(n); err != nil || got != want {
			t.Fatalf("%d: %v %v", n, got, err)
		}
	}
	if _, err := ProtoFromNumber(1); err == nil || err.Error() != "protocol number 1: only tcp (6), udp (17) and sctp (132) ports can be published" {
		t.Fatalf("icmp: %v", err)
	}
}
