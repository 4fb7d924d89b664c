package vicinit

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/docker-vic/docker-vic/config"
)

// EndpointNumber reads the value of config.KeyEndpoint, the number of this endpoint VM among
// the count endpoints of its VCH: endpoint VMs 2 to N carry it, and none (or an empty value)
// means endpoint 1.
func EndpointNumber(raw string, count int) (int, error) {
	raw = strings.TrimSpace(raw)
	if raw == "" {
		return 1, nil
	}
	i, err := strconv.Atoi(raw)
	if err != nil || i < 1 {
		return 0, fmt.Errorf("%s %q is not an endpoint number: it must be a whole number from 1", config.KeyEndpoint, raw)
	}
	switch {
	case i > 1 && count <= 1:
		return 0, fmt.Errorf("%s is %d, but the VCH has a single endpoint: this endpoint VM is not one of them", config.KeyEndpoint, i)
	case i > count:
		return 0, fmt.Errorf("%s is %d, but the VCH has %d endpoints: this endpoint VM is not one of them", config.KeyEndpoint, i, count)
	}
	return i, nil
}
