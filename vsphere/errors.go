package vsphere

import (
	"errors"
	"fmt"
)

// Errors callers branch on, with errors.Is.
var (
	// ErrNotFound: no VCH of that name exists.
	ErrNotFound = errors.New("vch not found")
	// ErrPortGroupNotFound: the datacenter has no port group of that name.
	ErrPortGroupNotFound = errors.New("port group not found")
	// ErrBadLogin: vSphere refused the user name or the password.
	ErrBadLogin = errors.New("the user name or password is incorrect")
)

// NotFoundError says which VCH was not found, and where. It matches ErrNotFound.
type NotFoundError struct {
	Name, Datacenter string
}

func (e *NotFoundError) Error() string {
	return fmt.Sprintf("no VCH named %q in datacenter %q", e.Name, e.Datacenter)
}

// Is makes errors.Is(err, ErrNotFound) hold.
func (e *NotFoundError) Is(target error) bool { return target == ErrNotFound }
