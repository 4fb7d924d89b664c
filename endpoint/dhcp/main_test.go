package dhcp

import (
	"fmt"
	"os"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/docker-vic/docker-vic/ipamdriver"
)

// The vic IPAM driver takes a Client as its source of DHCP leases.
var _ ipamdriver.LeaseSource = (*Client)(nil)

// TestMain fails the run when a client goroutine outlives the tests: every test closes its
// clients, and Close must stop what they started.
func TestMain(m *testing.M) {
	code := m.Run()
	if left := clientGoroutines(); code == 0 && len(left) > 0 {
		fmt.Fprintf(os.Stderr, "FAIL: %d DHCP client goroutines still run after Close:\n\n%s\n", len(left), strings.Join(left, "\n\n"))
		code = 1
	}
	os.Exit(code)
}

// clientGoroutines lists the goroutines running the package's client code, after giving the
// ones that are returning a moment to finish.
func clientGoroutines() []string {
	var out []string
	for range 10 {
		buf := make([]byte, 1<<20)
		buf = buf[:runtime.Stack(buf, true)]
		out = out[:0]
		for _, g := range strings.Split(string(buf), "\n\n") {
			if strings.Contains(g, "endpoint/dhcp.(*Client)") {
				out = append(out, g)
			}
		}
		if len(out) == 0 {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	return out
}
