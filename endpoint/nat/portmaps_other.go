//go:build !linux

package nat

import (
	"errors"
	"fmt"
)

// kernelPortMaps: nftables is Linux only, so elsewhere an applier needs its port maps given
// (a fake, in tests).
func kernelPortMaps() (PortMaps, error) {
	return nil, fmt.Errorf("nftables port maps: %w", errors.ErrUnsupported)
}
