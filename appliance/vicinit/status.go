package vicinit

import (
	"context"
	"fmt"
	"io"
	"maps"
	"strings"
	"sync"
	"time"

	"github.com/docker-vic/docker-vic/api/guestinfo"
)

// Log writes vic-init's line log, the serial console in the appliance: each line with the
// seconds since vic-init started.
type Log struct {
	mu    sync.Mutex
	w     io.Writer
	start time.Time
}

// NewLog logs to w.
func NewLog(w io.Writer) *Log { return &Log{w: w, start: time.Now()} }

// Printf writes one line.
func (l *Log) Printf(format string, args ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	msg := strings.TrimRight(fmt.Sprintf(format, args...), "\n")
	fmt.Fprintf(l.w, "vic-init [%6.1fs] %s\n", time.Since(l.start).Seconds(), msg)
}

// Reporter writes the appliance's Status to guestinfo.KeyStatus at each change, and logs it.
// A status that cannot be written is logged only: the appliance carries on.
type Reporter struct {
	ch  guestinfo.Channel
	log *Log
	now func() time.Time

	mu sync.Mutex
	st guestinfo.Status
}

// NewReporter reports through ch (nil until the channel is open: the status is then only
// logged) for boot number boot.
func NewReporter(ch guestinfo.Channel, log *Log) *Reporter {
	return &Reporter{ch: ch, log: log, now: time.Now}
}

// SetChannel sets the channel the status is written to, and writes the current status there.
func (r *Reporter) SetChannel(ctx context.Context, ch guestinfo.Channel) {
	r.update(ctx, func(*guestinfo.Status) { r.ch = ch })
}

// Phase enters phase, saying msg.
func (r *Reporter) Phase(ctx context.Context, p guestinfo.Phase, msg string) {
	r.update(ctx, func(s *guestinfo.Status) { s.Phase, s.Message = p, msg })
}

// Fail reports err: the phase becomes failed until the next Phase.
func (r *Reporter) Fail(ctx context.Context, err error) {
	r.update(ctx, func(s *guestinfo.Status) { s.Phase, s.Message = guestinfo.PhaseFailed, err.Error() })
}

// Set changes the other fields of the status (boot, addresses, versions) and writes it when
// they changed.
func (r *Reporter) Set(ctx context.Context, f func(s *guestinfo.Status)) { r.update(ctx, f) }

// Status returns the last status.
func (r *Reporter) Status() guestinfo.Status {
	r.mu.Lock()
	defer r.mu.Unlock()
	s := r.st
	s.Addresses = maps.Clone(s.Addresses)
	return s
}

func (r *Reporter) update(ctx context.Context, f func(s *guestinfo.Status)) {
	r.mu.Lock()
	defer r.mu.Unlock()
	before := r.st
	before.Addresses = maps.Clone(r.st.Addresses)
	hadCh := r.ch
	f(&r.st)
	if same(before, r.st) && hadCh == r.ch {
		return
	}
	if before.Phase != r.st.Phase || before.Message != r.st.Message {
		r.log.Printf("%s: %s", r.st.Phase, r.st.Message)
	}
	if r.ch == nil {
		return
	}
	r.st.Time = r.now().UTC()
	if err := r.ch.Set(ctx, guestinfo.KeyStatus, r.st.Encode()); err != nil {
		r.log.Printf("writing the status to guestinfo: %v", err)
	}
}

func same(a, b guestinfo.Status) bool {
	a.Time, b.Time = time.Time{}, time.Time{}
	return a.Phase == b.Phase && a.Message == b.Message && a.Boot == b.Boot && maps.Equal(a.Addresses, b.Addresses) &&
		a.Docker == b.Docker && a.Endpoint == b.Endpoint
}
