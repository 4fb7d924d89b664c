// Package nat owns the endpoint's NAT and packet filtering for bridge networks and published
// ports: a pure model that renders the wanted state (iptables-restore text for the networks,
// nftables map elements for the published ports), and an applier that programs it, one batch
// per change, repairs it after a flush and removes it on uninstall.
//
// The driver's chains are nat VIC-POST (jumped from POSTROUTING: masquerade) and filter
// VIC-FWD (appended to FORWARD, so Docker's DOCKER-USER, which Docker inserts on top, still
// applies first) with its isolation chains VIC-ISO and VIC-ISO2 that keep different bridge
// networks apart. Published ports are DNATed by the nftables table "ip vic" (portmaps.go).
//
// Everything but the kernel's side builds and is tested on every platform: the model, its
// validation and rule text, the diffs against what the kernel holds (diff.go), the index that
// keeps changes incremental (incremental.go), and the applier, which reaches the kernel only
// through a Runner (iptables-save and iptables-restore) and PortMaps. The nftables port maps
// (portmaps_linux.go) and the kernel tests are Linux only.
package nat

import (
	"errors"
	"fmt"
	"net/netip"

	"github.com/docker-vic/docker-vic/endpoint/hostports"
)

// Names of the driver's own chains.
const (
	ChainPost     = "VIC-POST" // nat: masquerade
	ChainForward  = "VIC-FWD"  // filter: what the driver lets through FORWARD
	ChainIsolate  = "VIC-ISO"  // filter: traffic leaving a bridge network for another interface
	ChainIsolate2 = "VIC-ISO2" // filter: ... that enters another bridge network: dropped
)

// Proto is a transport protocol of a published port; the port holder and the rules share it.
type Proto = hostports.Proto

// Protocols iptables can DNAT by port.
const (
	TCP  = hostports.TCP
	UDP  = hostports.UDP
	SCTP = hostports.SCTP
)

// ProtoFromNumber maps the IP protocol numbers Docker sends in a port map (6, 17, 132).
func ProtoFromNumber(n int) (Proto, error) { return hostports.ProtoFromNumber(n) }

// State is everything the driver wants programmed: its bridge networks and the ports
// published on them. Order does not matter: the same state always renders the same rules.
type State struct {
	Networks []BridgeNetwork
	Ports    []Mapping
}

// BridgeNetwork is one bridge network on the endpoint as the NAT sees it: a bridge and its
// subnet (the driver keeps its own record of the network, netdriver.Network).
type BridgeNetwork struct {
	// Bridge is the Linux bridge's name.
	Bridge string
	// Subnet is the network's IPv4 subnet.
	Subnet netip.Prefix
	// Internal networks (docker network create --internal) get no masquerade, no outbound
	// forwarding and no published ports: their containers only reach each other.
	Internal bool
	// Trunk, when set, is the bridge through which the network spans a swarm's endpoints
	// (endpoint/span): frames it bridges between them pass, and traffic between the network's
	// own addresses is never masqueraded, whichever way it leaves.
	Trunk string
}

// Mapping is one published port: HostIP:HostPort on the endpoint to ContainerIP:ContainerPort.
type Mapping struct {
	Proto Proto
	// HostIP is empty (or unspecified) for the public address and loopback, else exactly one
	// of them. Any other address is refused: see ValidateHostIP.
	HostIP        netip.Addr
	HostPort      uint16
	ContainerIP   netip.Addr
	ContainerPort uint16
	// Bridge names the network the container is published from.
	Bridge string
}

func (m Mapping) String() string {
	host := "*"
	if m.HostIP.IsValid() && !m.HostIP.IsUnspecified() {
		host = m.HostIP.String()
	}
	return fmt.Sprintf("%s:%d->%s:%d/%s", host, m.HostPort, m.ContainerIP, m.ContainerPort, m.Proto)
}

// Loopback is the address published ports answer on besides the public address.
var Loopback = netip.MustParseAddr("127.0.0.1")

// ErrHostIP is wrapped by the error of a port mapping whose host IP is neither the public
// address nor loopback.
var ErrHostIP = errors.New("published ports listen only on the public address and 127.0.0.1")

// ValidateHostIP checks the host IP of a port mapping (-p IP:H:C): empty or unspecified
// (0.0.0.0, ::), the public address, or 127.0.0.1. Never the management or client addresses.
func ValidateHostIP(public, hostIP netip.Addr) error {
	if !hostIP.IsValid() || hostIP.IsUnspecified() {
		return nil
	}
	ip := hostIP.Unmap()
	if ip == public || ip == Loopback {
		return nil
	}
	return fmt.Errorf("host ip %s is not the public address %s: %w", hostIP, public, ErrHostIP)
}

// hostAddrs are the destination addresses a mapping is DNATed on.
func hostAddrs(public netip.Addr, m Mapping) []netip.Addr {
	if !m.HostIP.IsValid() || m.HostIP.IsUnspecified() {
		return []netip.Addr{public, Loopback}
	}
	return []netip.Addr{m.HostIP.Unmap()}
}
