package ipamdriver

import (
	"errors"
	"fmt"
)

// Kinds of failure, for callers that branch with errors.Is. The text Docker shows is always the
// full sentence of the returned error, not these.
var (
	// ErrInvalid marks a request that breaks a rule of the driver.
	ErrInvalid = errors.New("invalid request")
	// ErrConflict marks a subnet or address that is already taken.
	ErrConflict = errors.New("already in use")
	// ErrExhausted marks a range or pool with nothing free left.
	ErrExhausted = errors.New("nothing free left")
	// ErrUnknownPool marks a pool the driver has no record of.
	ErrUnknownPool = errors.New("unknown pool")
	// ErrNotSupported marks something the driver does not do (IPv6, DHCP without a lease source).
	ErrNotSupported = errors.New("not supported")
)

// kindError is one user-facing sentence that unwraps to one of the kinds above.
type kindError struct {
	kind error
	msg  string
}

func (e *kindError) Error() string { return e.msg }
func (e *kindError) Unwrap() error { return e.kind }

func newError(kind error, format string, args ...any) error {
	return &kindError{kind: kind, msg: fmt.Sprintf(format, args...)}
}
