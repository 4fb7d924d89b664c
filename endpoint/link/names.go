// Package link owns the endpoint's kernel links: one Linux bridge per bridge network, one veth
// pair per bridge-network endpoint, one macvlan per container-network endpoint; in a swarm, the
// trunk bridge holding the interface on the bridge port group, and per bridge network a veth
// pair joining its bridge to the trunk (span_linux.go). Names derive
// from Docker's IDs, so a delete works without any stored state, and every operation can run
// twice: creating what exists converges it, deleting what is missing is done.
package link

// Name prefixes of the links this package creates. Link names have at most 15 characters.
const (
	BridgePrefix   = "vb-"
	HostVethPrefix = "ve-"
	PeerPrefix     = "vc-"
	MacvlanPrefix  = "vm-"
	SpanPortPrefix = "vs-" // a network's end of its span, a port of its bridge
	WirePrefix     = "vw-" // the trunk's end of a span
	// TrunkName is the bridge that holds the endpoint's interface on the bridge port group
	// and the wire end of each network's span.
	TrunkName = "vt-trunk"
)

// IDChars is how many characters of a Docker ID a link name keeps: two IDs that share them
// would share links, and the driver refuses the second.
const IDChars = 12

// BridgeName is the bridge of the network with Docker ID networkID.
func BridgeName(networkID string) string { return BridgePrefix + ShortID(networkID) }

// HostVethName is the endpoint-side end of the veth pair of endpoint endpointID.
func HostVethName(endpointID string) string { return HostVethPrefix + ShortID(endpointID) }

// PeerName is the link Docker moves into the container for endpoint endpointID: the other end
// of its veth pair, or its macvlan.
func PeerName(endpointID string) string { return PeerPrefix + ShortID(endpointID) }

// ShortID is a Docker ID as `docker ps` shows it and link names carry it: its first IDChars
// characters.
func ShortID(id string) string {
	if len(id) > IDChars {
		return id[:IDChars]
	}
	return id
}

// MacvlanName is the macvlan of container-network endpoint endpointID, until Docker moves it
// into the container.
func MacvlanName(endpointID string) string { return MacvlanPrefix + ShortID(endpointID) }

// SpanPortName is the end of network networkID's span on its bridge.
func SpanPortName(networkID string) string { return SpanPortPrefix + ShortID(networkID) }

// WireName is the end of network networkID's span on the trunk.
func WireName(networkID string) string { return WirePrefix + ShortID(networkID) }
