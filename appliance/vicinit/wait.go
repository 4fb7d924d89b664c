package vicinit

import (
	"context"
	"errors"
	"time"

	"github.com/docker-vic/docker-vic/api/guestinfo"
)

// PollInterval is how often vic-init reads a guestinfo key it waits for, and asks dockerd and
// vic-endpoint whether they serve until both do: each is a local call, and `create` waits.
var PollInterval = 250 * time.Millisecond

// waitKey reads key until it has a value, ctx ends, or the channel fails otherwise. said, when
// set, is called once when the key is found unset, to report the wait.
func waitKey(ctx context.Context, ch guestinfo.Channel, key string, said func()) (string, error) {
	for {
		v, err := ch.Get(ctx, key)
		switch {
		case err == nil:
			return v, nil
		case !errors.Is(err, guestinfo.ErrNoValue):
			return "", err
		}
		if said != nil {
			said()
			said = nil
		}
		select {
		case <-ctx.Done():
			return "", ctx.Err()
		case <-time.After(PollInterval):
		}
	}
}
