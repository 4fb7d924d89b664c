package vsphere

import (
	"context"
	"io"
	"maps"
	"net/http"
	"reflect"
	"strings"
	"sync"

	"github.com/vmware/govmomi/vim25"
	"github.com/vmware/govmomi/vim25/soap"
)

// CountingRoundTripper counts the calls a vim25 client makes to vSphere (one round trip each),
// by method, and the bytes of their answers. Benchmarks and tests use it to show what a piece of
// work costs vSphere; it changes nothing in the calls.
type CountingRoundTripper struct {
	base soap.RoundTripper

	mu    sync.Mutex
	calls map[string]int
	total int
	bytes int64
}

// CountRoundTrips wraps c so that every call it makes from now on is counted, and returns the
// counter.
func CountRoundTrips(c *vim25.Client) *CountingRoundTripper {
	r := &CountingRoundTripper{base: c.RoundTripper, calls: map[string]int{}}
	c.RoundTripper = r
	if c.Client != nil {
		c.Client.Transport = &byteCounter{base: c.Client.Transport, add: r.addBytes}
	}
	return r
}

// RoundTrip implements soap.RoundTripper.
func (r *CountingRoundTripper) RoundTrip(ctx context.Context, req, res soap.HasFault) error {
	name := strings.TrimSuffix(reflect.Indirect(reflect.ValueOf(req)).Type().Name(), "Body")
	r.mu.Lock()
	r.calls[name]++
	r.total++
	r.mu.Unlock()
	return r.base.RoundTrip(ctx, req, res)
}

// Count returns the number of calls made since the last Reset.
func (r *CountingRoundTripper) Count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.total
}

// Bytes returns the size of the answers received since the last Reset.
func (r *CountingRoundTripper) Bytes() int64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.bytes
}

// Methods returns the calls made since the last Reset, by method name ("RetrievePropertiesEx").
func (r *CountingRoundTripper) Methods() map[string]int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return maps.Clone(r.calls)
}

// Reset starts counting from zero.
func (r *CountingRoundTripper) Reset() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.calls, r.total, r.bytes = map[string]int{}, 0, 0
}

func (r *CountingRoundTripper) addBytes(n int) {
	r.mu.Lock()
	r.bytes += int64(n)
	r.mu.Unlock()
}

// byteCounter counts the bytes of the HTTP answers read through it.
type byteCounter struct {
	base http.RoundTripper
	add  func(int)
}

func (b *byteCounter) RoundTrip(req *http.Request) (*http.Response, error) {
	base := b.base
	if base == nil {
		base = http.DefaultTransport
	}
	res, err := base.RoundTrip(req)
	if err == nil && res.Body != nil {
		res.Body = &countingBody{ReadCloser: res.Body, add: b.add}
	}
	return res, err
}

type countingBody struct {
	io.ReadCloser
	add func(int)
}

func (c *countingBody) Read(p []byte) (int, error) {
	n, err := c.ReadCloser.Read(p)
	c.add(n)
	return n, err
}
