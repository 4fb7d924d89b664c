package dockerwatch

import (
	"fmt"
	"log/slog"
)

// onceLog reports a standing problem once at warn level, then at debug level for as long as it
// stays the same, so that a check every 30 s does not fill the journal. A problem that went away
// for one round is reported again when it comes back.
type onceLog struct {
	log       *slog.Logger
	last, now map[string]string
}

// warn reports the problem key, described by msg and args.
func (o *onceLog) warn(key, msg string, args ...any) {
	if o.now == nil {
		o.now = map[string]string{}
	}
	text := msg + fmt.Sprint(args...)
	o.now[key] = text
	if o.last[key] == text {
		o.log.Debug(msg, args...)
		return
	}
	o.log.Warn(msg, args...)
}

// endRound forgets the problems not reported again since the previous round.
func (o *onceLog) endRound() {
	o.last, o.now = o.now, nil
}

// carryOver ends a round that could not look at everything: the problems of the previous round
// stay known.
func (o *onceLog) carryOver() {
	if o.now == nil {
		o.now = map[string]string{}
	}
	for k, v := range o.last {
		if _, ok := o.now[k]; !ok {
			o.now[k] = v
		}
	}
	o.endRound()
}
