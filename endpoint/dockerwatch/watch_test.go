package dockerwatch

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/events"
	"github.com/moby/moby/api/types/network"
	"github.com/moby/moby/client"
	"gotest.tools/v3/assert"

	"github.com/docker-vic/docker-vic/endpoint/cvm"
)

// changingLister answers as the test sets it, or fails, and counts the readings.
type changingLister struct {
	mu       sync.Mutex
	answer   fakeLister
	err      error
	readings int
}

func (c *changingLister) NetworkList(ctx context.Context, o client.NetworkListOptions) (client.NetworkListResult, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.err != nil {
		return client.NetworkListResult{}, c.err
	}
	return c.answer.NetworkList(ctx, o)
}

func (c *changingLister) ContainerList(ctx context.Context, o client.ContainerListOptions) (client.ContainerListResult, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.readings++
	return c.answer.ContainerList(ctx, o)
}

func (c *changingLister) set(answer fakeLister, err error) {
	c.mu.Lock()
	c.answer, c.err = answer, err
	c.mu.Unlock()
}

// waitReadings waits until the watcher has read the containers n more times.
func (c *changingLister) waitReadings(t *testing.T, n int) {
	t.Helper()
	c.mu.Lock()
	want := c.readings + n
	c.mu.Unlock()
	assert.Assert(t, waitFor(5*time.Second, func() bool {
		c.mu.Lock()
		defer c.mu.Unlock()
		return c.readings >= want
	}), "the watcher stopped reading the containers")
}

// recordedVMs keeps what the watcher hands over.
type recordedVMs struct {
	mu  sync.Mutex
	got [][]cvm.Container
}

func (r *recordedVMs) Set(want []cvm.Container) {
	r.mu.Lock()
	r.got = append(r.got, want)
	r.mu.Unlock()
}

func (r *recordedVMs) sets() [][]cvm.Container {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([][]cvm.Container(nil), r.got...)
}

func waitFor(timeout time.Duration, cond func() bool) bool {
	for end := time.Now().Add(timeout); time.Now().Before(end); time.Sleep(10 * time.Millisecond) {
		if cond() {
			return true
		}
	}
	return cond()
}

// oneContainer is Docker with container c1, named name, on vic network web-tier.
func oneContainer(name string) fakeLister {
	var web network.Summary
	web.ID, web.Name, web.Driver = "n-web", "web-tier", "vic"
	return fakeLister{
		nets: []network.Summary{web},
		containers: []container.Summary{{ID: "c1", Names: []string{"/" + name}, State: "exited", NetworkSettings: &container.NetworkSettingsSummary{
			Networks: map[string]*network.EndpointSettings{"web-tier": {NetworkID: "n-web", EndpointID: "e1"}}}}},
	}
}

// TestWatcherRun: the names follow every reading, the container VMs are handed over only when
// they change, and a failed reading leaves both as they were.
func TestWatcherRun(t *testing.T) {
	docker := &changingLister{answer: oneContainer("web")}
	vms := &recordedVMs{}
	w := &Watcher{API: docker, Driver: fakeSnapshot{}, Names: &Names{}, VMs: vms, BridgePortGroup: "VIC-Bridge",
		Interval: 10 * time.Millisecond, Log: slog.New(slog.DiscardHandler)}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); w.Run(ctx) }()
	defer func() { cancel(); <-done }()

	docker.waitReadings(t, 3)
	assert.Equal(t, w.Names.ContainerName("e1"), "web")
	assert.DeepEqual(t, vms.sets(), [][]cvm.Container{{{ID: "c1", Name: "web"}}})

	docker.set(oneContainer("web"), errors.New("docker is restarting"))
	time.Sleep(50 * time.Millisecond)
	assert.Equal(t, w.Names.ContainerName("e1"), "web")
	assert.Equal(t, len(vms.sets()), 1)

	docker.set(oneContainer("db"), nil)
	docker.waitReadings(t, 2)
	assert.Equal(t, w.Names.ContainerName("e1"), "db")
	assert.DeepEqual(t, vms.sets(), [][]cvm.Container{{{ID: "c1", Name: "web"}}, {{ID: "c1", Name: "db"}}})
}

// fakeEvents streams what the test sends, and counts subscriptions.
type fakeEvents struct {
	mu            sync.Mutex
	subscriptions int
	msgs          chan events.Message
	errs          chan error
}

func (f *fakeEvents) Events(ctx context.Context, _ client.EventsListOptions) client.EventsResult {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.subscriptions++
	f.msgs, f.errs = make(chan events.Message), make(chan error, 1)
	return client.EventsResult{Messages: f.msgs, Err: f.errs}
}

func (f *fakeEvents) stream() (chan events.Message, chan error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.msgs, f.errs
}

// TestWatcherFollowsEvents: with Docker's events, a container is read the moment it starts,
// long before the resync; a broken stream is asked for again.
func TestWatcherFollowsEvents(t *testing.T) {
	docker := &changingLister{answer: oneContainer("web")}
	evs := &fakeEvents{}
	w := &Watcher{API: docker, Events: evs, Driver: fakeSnapshot{}, Names: &Names{}, BridgePortGroup: "VIC-Bridge",
		Interval: time.Hour, Log: slog.New(slog.DiscardHandler)}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); w.Run(ctx) }()
	defer func() { cancel(); <-done }()

	assert.Assert(t, waitFor(5*time.Second, func() bool { return w.Names.ContainerName("e1") == "web" }))
	assert.Assert(t, waitFor(5*time.Second, func() bool { m, _ := evs.stream(); return m != nil }))
	docker.set(oneContainer("db"), nil)
	msgs, errs := evs.stream()
	msgs <- events.Message{Type: events.ContainerEventType, Action: events.ActionStart}
	assert.Assert(t, waitFor(5*time.Second, func() bool { return w.Names.ContainerName("e1") == "db" }),
		"an event did not wake a reading")

	errs <- errors.New("unexpected EOF")
	assert.Assert(t, waitFor(5*time.Second, func() bool {
		evs.mu.Lock()
		defer evs.mu.Unlock()
		return evs.subscriptions >= 2
	}), "a broken event stream was not asked for again")
	docker.set(oneContainer("cache"), nil)
	msgs, _ = evs.stream()
	msgs <- events.Message{Type: events.NetworkEventType, Action: events.ActionConnect}
	assert.Assert(t, waitFor(5*time.Second, func() bool { return w.Names.ContainerName("e1") == "cache" }))
}
