package cvm

import (
	"context"
	"fmt"
	"net/netip"
	"strings"
	"testing"

	"github.com/vmware/govmomi/vim25"

	"github.com/docker-vic/docker-vic/config"
	"github.com/docker-vic/docker-vic/vsphere"
	"github.com/docker-vic/docker-vic/vsphere/sim"
)

// manyContainers returns n running containers of VCH vch on its bridge port group vch, with
// IDs and MACs of their own (first distinguishes them, so that two VCHs' lists differ too).
func manyContainers(vch string, first, n int) []Container {
	out := make([]Container, n)
	for i := range n {
		k := first + i
		out[i] = Container{
			ID:      fmt.Sprintf("%08x%056x", k, k),
			Name:    fmt.Sprintf("%s-c%d", vch, k),
			Running: true,
			NICs: []NIC{{
				Network: vch + "-net", PortGroup: vch,
				MAC:     fmt.Sprintf("02:42:ac:%02x:%02x:%02x", k>>16&0xff, k>>8&0xff, k&0xff),
				Address: netip.PrefixFrom(netip.AddrFrom4([4]byte{172, 16, byte(k >> 8), byte(k)}), 16),
			}},
		}
	}
	return out
}

// changeCost is what one container change (and the Reconcile that follows it) costs vSphere.
type changeCost struct {
	change     string
	roundTrips int
	bytes      int64
	methods    map[string]int
}

// crowd is VCH vch1 with its containers placed in a simulated vCenter, beside VCH vch2 and its
// own, and a counter of the calls made for vch1.
type crowd struct {
	ctx     context.Context
	r       *Reconciler
	want    []Container
	counter *vsphere.CountingRoundTripper
}

// withCrowd runs f against a fresh simulated vCenter holding VCH vch1 with n running containers
// and VCH vch2 with others.
func withCrowd(tb testing.TB, n, others int, f func(cr *crowd) error) {
	tb.Helper()
	m := sim.Model()
	defer m.Remove()
	err := m.Run(func(ctx context.Context, c *vim25.Client) error {
		for _, vch := range []string{"vch1", "vch2"} {
			if err := sim.AddPortGroups(ctx, c, sim.MACLearning(), vch); err != nil {
				return err
			}
			cfg := config.New(vch)
			cfg.ApplyDefaults()
			if _, err := sim.AddVCH(ctx, c, cfg); err != nil {
				return err
			}
		}
		if others > 0 {
			r2, err := New(c, Options{VCH: "vch2"})
			if err != nil {
				return err
			}
			if err := r2.Reconcile(ctx, manyContainers("vch2", 100000, others)); err != nil {
				return fmt.Errorf("placing the containers of vch2: %w", err)
			}
		}
		r, err := New(c, Options{VCH: "vch1"})
		if err != nil {
			return err
		}
		cr := &crowd{ctx: ctx, r: r, want: manyContainers("vch1", 0, n)}
		if err := r.Reconcile(ctx, cr.want); err != nil {
			return fmt.Errorf("placing the containers of vch1: %w", err)
		}
		cr.counter = vsphere.CountRoundTrips(c)
		return f(cr)
	})
	if err != nil {
		tb.Fatal(err)
	}
}

// changes makes four container changes of vch1, one Reconcile each: a container started,
// stopped, started again and removed, and returns what each cost.
func (cr *crowd) changes() ([]changeCost, error) {
	n := len(cr.want)
	extra := manyContainers("vch1", n, 1)[0]
	steps := []struct {
		change string
		want   []Container
	}{
		{"start", append(cr.want[:n:n], extra)},
		{"stop", append(cr.want[:n:n], stopped(extra))},
		{"restart", append(cr.want[:n:n], extra)},
		{"remove", cr.want},
	}
	var out []changeCost
	for _, s := range steps {
		cr.counter.Reset()
		if err := cr.r.Reconcile(cr.ctx, s.want); err != nil {
			return nil, fmt.Errorf("%s: %w", s.change, err)
		}
		out = append(out, changeCost{change: s.change, roundTrips: cr.counter.Count(), bytes: cr.counter.Bytes(), methods: cr.counter.Methods()})
	}
	return out, nil
}

// costOfChanges is what the four changes cost with n containers of vch1 and others of vch2.
func costOfChanges(t *testing.T, n, others int) []changeCost {
	t.Helper()
	var out []changeCost
	withCrowd(t, n, others, func(cr *crowd) error {
		var err error
		out, err = cr.changes()
		for _, c := range out {
			t.Logf("%d containers, %d of another VCH: %s costs %d round trips, %d bytes %v", n, others, c.change, c.roundTrips, c.bytes, c.methods)
		}
		return err
	})
	return out
}

func stopped(c Container) Container {
	c.Running = false
	return c
}

// TestReconcileRoundTripsDoNotGrow: the vSphere calls of one container change are as many with
// 200 containers as with 10, and another VCH's 200 container VMs in the datacenter neither add
// calls nor make their answers larger. The calls that wait for a task (WaitForUpdatesEx) are
// compared apart: how many a task needs depends on how long vSphere takes to finish it.
func TestReconcileRoundTripsDoNotGrow(t *testing.T) {
	if testing.Short() {
		t.Skip("places 400 VMs in the simulator")
	}
	small := costOfChanges(t, 10, 0)
	large := costOfChanges(t, 200, 0)
	crowded := costOfChanges(t, 10, 200)
	const maxWaits = 3 // per task: one for its start, a few while it runs
	for i := range small {
		s, l, c := small[i], large[i], crowded[i]
		if l.calls() > s.calls()+1 {
			t.Errorf("%s: %d calls with 200 containers, %d with 10: want as many\n200: %v\n 10: %v", s.change, l.calls(), s.calls(), l.methods, s.methods)
		}
		if c.calls() > s.calls()+1 {
			t.Errorf("%s: %d calls beside another VCH's 200 VMs, %d without: want as many\nbeside: %v\nalone:  %v", s.change, c.calls(), s.calls(), c.methods, s.methods)
		}
		for _, x := range []changeCost{s, l, c} {
			if x.waits() > maxWaits*x.tasks() {
				t.Errorf("%s: %d waits for %d tasks: %v", x.change, x.waits(), x.tasks(), x.methods)
			}
		}
		if c.bytes > s.bytes+s.bytes/10 {
			t.Errorf("%s: %d bytes read beside another VCH's 200 VMs, %d without: the other VMs were read", s.change, c.bytes, s.bytes)
		}
	}
}

// waits counts the calls that wait for tasks to end.
func (c changeCost) waits() int { return c.methods["WaitForUpdatesEx"] }

// calls counts the other calls.
func (c changeCost) calls() int { return c.roundTrips - c.waits() }

// tasks counts the tasks started.
func (c changeCost) tasks() int {
	n := 0
	for m, k := range c.methods {
		if strings.HasSuffix(m, "_Task") {
			n += k
		}
	}
	return n
}

// BenchmarkReconcileRoundTrips reports the vSphere round trips of one container change (a start,
// stop or removal, and the Reconcile after it) at 10 and at 200 containers; make bench writes
// them to BENCHMARKS.md.
func BenchmarkReconcileRoundTrips(b *testing.B) {
	for _, n := range []int{10, 200} {
		b.Run(fmt.Sprintf("containers=%d", n), func(b *testing.B) {
			withCrowd(b, n, 0, func(cr *crowd) error {
				var changes, trips, bytes int
				b.ResetTimer()
				for range b.N {
					costs, err := cr.changes()
					if err != nil {
						return err
					}
					for _, c := range costs {
						changes++
						trips += c.roundTrips
						bytes += int(c.bytes)
					}
				}
				b.ReportMetric(float64(trips)/float64(changes), "roundtrips/op")
				b.ReportMetric(float64(bytes)/float64(changes), "bytes-read/op")
				return nil
			})
		})
	}
}
