// Package dhcp leases addresses for containers on DHCP container networks. It is a DHCPv4 client
// that runs on the endpoint but acts for a container: it speaks with the container's MAC address
// on the endpoint's uplink to the container's port group, through a raw packet socket, so that
// the port group's own DHCP server hands the container an address before its interface exists.
// Each lease is renewed until it is released, and a restarted endpoint re-adopts the leases it
// held.
//
// The DHCP messages are github.com/insomniacslk/dhcp's dhcpv4. The Ethernet, IPv4 and UDP
// headers around them are the package's own: the library's client (nclient4) sends from the
// uplink's MAC, not the container's, and cannot see the unicast replies to a container's MAC.
package dhcp
