package ipamdriver

import (
	"net"
	"sort"
)

// Names Docker knows the driver by.
const (
	// DriverName is the name of the driver in `--ipam-driver vic`.
	DriverName = "vic"
	// LocalAddressSpace and GlobalAddressSpace are the default address spaces the driver
	// reports. The engine's own networks take their pools from the first; a swarm manager
	// allocates the swarm's networks from the second, and each node then asks for the same
	// subnets in the first: the two keep separate pools (Pool.Swarm).
	LocalAddressSpace  = "vic-local"
	GlobalAddressSpace = "vic-global"
)

// OptionPortGroup is the IPAM option (`--ipam-opt`) naming the port group of a container
// network: the pool is then that network's subnet and ranges from the VCH configuration.
const OptionPortGroup = "com.docker.network.vic.portgroup"

// Keys libnetwork uses in requests and responses.
const (
	// OptionRequestAddressType is the RequestAddress option that marks a gateway request.
	OptionRequestAddressType = "RequestAddressType"
	// RequestAddressTypeGateway is the value of OptionRequestAddressType for a gateway.
	RequestAddressTypeGateway = "com.docker.network.gateway"
	// OptionMACAddress is the RequestAddress option holding the endpoint's MAC address, sent
	// because the driver requires MAC addresses.
	OptionMACAddress = "com.docker.network.endpoint.macaddress"
	// DataGateway is the RequestPool response key through which the driver tells Docker a
	// pool's gateway (CIDR), so that Docker does not request one.
	DataGateway = "com.docker.network.gateway"
)

// OptionSerial is libnetwork's own IPAM option asking for addresses in order rather than the
// lowest free one. A swarm's manager sets it in the IPAM options of a network that has some,
// so that every node's RequestPool carries it too. The driver hands out addresses in order
// anyway (Pool.Last): it accepts it and needs nothing more.
const OptionSerial = "com.docker.network.ipam.serial"

// poolOptions are the options of a RequestPool.
type poolOptions struct {
	portGroup string
}

// parsePoolOptions accepts the driver's own options and refuses any other.
func parsePoolOptions(opts map[string]string) (poolOptions, error) {
	keys := make([]string, 0, len(opts))
	for k := range opts {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var out poolOptions
	for _, k := range keys {
		switch k {
		case OptionPortGroup:
			if opts[k] == "" {
				return poolOptions{}, newError(ErrInvalid, "IPAM option %q needs the name of a container network's port group", k)
			}
			out.portGroup = opts[k]
		case OptionSerial:
		default:
			return poolOptions{}, newError(ErrInvalid, "unknown IPAM option %q: the vic IPAM driver accepts only %q", k, OptionPortGroup)
		}
	}
	return out, nil
}

// parseMAC reads the endpoint's MAC address from RequestAddress options; none is fine.
func parseMAC(opts map[string]string) (net.HardwareAddr, error) {
	s := opts[OptionMACAddress]
	if s == "" {
		return nil, nil
	}
	mac, err := net.ParseMAC(s)
	if err != nil || len(mac) != 6 {
		return nil, newError(ErrInvalid, "MAC address %q is not an Ethernet address such as 02:42:ac:10:00:02", s)
	}
	return mac, nil
}
