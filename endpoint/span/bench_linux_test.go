package span_test

import (
	"fmt"
	"io"
	"net"
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/docker-vic/docker-vic/endpoint/span"
)

// BenchmarkSpanRoundTrip is one-byte TCP round trips between containers of one network on two
// endpoints of the span bed, through both endpoints' filters, the filter knowing that many
// networks (those beyond the bed's two only in the filter; none, no filter). Besides ns/op, the
// 10th percentile of the round trips (p10-µs), which other load on the machine hardly moves. It
// shows what the span path costs a frame, with fewer neighbours than the swarm's benchmark has.
//
//	sudo go test -run '^$' -bench SpanRoundTrip ./endpoint/span/
func BenchmarkSpanRoundTrip(b *testing.B) {
	for _, n := range []int{0, 2, 20, 250} {
		b.Run(fmt.Sprintf("networks=%d", n), func(b *testing.B) {
			bed := newSpanBed(b)
			if n > 0 {
				filtered := []span.Net{nets[0].filterNet(), nets[1].filterNet()}
				for i := 2; i < n; i++ {
					filtered = append(filtered, span.Net{Port: fmt.Sprintf("vs-bench%d", i), Wire: fmt.Sprintf("vw-bench%d", i),
						Subnet: netip.MustParsePrefix(fmt.Sprintf("10.77.%d.0/24", i)), Gateway: netip.MustParseAddr(fmt.Sprintf("10.77.%d.1", i))})
				}
				for _, ep := range bed.endpoints {
					must(b, span.New(ep.Name).Apply(filtered))
				}
			}
			roundTrips(b, bed)
		})
	}
}

// roundTrips measures b.N round trips from container 0 to container 1 of network a.
func roundTrips(b *testing.B, bed *spanBed) {
	var l net.Listener
	must(b, bed.ctrs[1][0].Do(func() (err error) {
		l, err = net.Listen("tcp4", nets[0].host(1)+":5002")
		return err
	}))
	defer l.Close()
	go func() {
		c, err := l.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		_, _ = io.Copy(c, c)
	}()
	var c net.Conn
	must(b, bed.ctrs[0][0].Do(func() (err error) {
		c, err = net.Dial("tcp4", nets[0].host(1)+":5002")
		return err
	}))
	defer c.Close()
	buf := []byte{1}
	took := make([]time.Duration, b.N)
	b.ResetTimer()
	for i := range b.N {
		start := time.Now()
		if _, err := c.Write(buf); err != nil {
			b.Fatal(err)
		}
		if _, err := io.ReadFull(c, buf); err != nil {
			b.Fatal(err)
		}
		took[i] = time.Since(start)
	}
	b.StopTimer()
	slices.Sort(took)
	b.ReportMetric(float64(took[b.N/10].Nanoseconds())/1e3, "p10-µs")
}
