package guestinfo

import (
	"encoding/json"
	"fmt"
	"net"
)

// NIC is one network card of the endpoint VM as KeyNICs lists it. The roles a card carries
// follow from its port group and the configuration (config.Config.RolesOf).
type NIC struct {
	MAC       string `json:"mac"`
	PortGroup string `json:"portGroup"`
}

// EncodeNICs returns KeyNICs's value for nics.
func EncodeNICs(nics []NIC) string {
	b, _ := json.Marshal(nics) // a list of strings always encodes
	return string(b)
}

// DecodeNICs reads a KeyNICs value, refusing a card without a valid MAC or a port group.
func DecodeNICs(v string) ([]NIC, error) {
	var nics []NIC
	if err := json.Unmarshal([]byte(v), &nics); err != nil {
		return nil, fmt.Errorf("%s %q is not a JSON list of cards: %w", KeyNICs, v, err)
	}
	for _, n := range nics {
		if _, err := net.ParseMAC(n.MAC); err != nil {
			return nil, fmt.Errorf("%s lists a card with MAC %q, which is not a MAC address", KeyNICs, n.MAC)
		}
		if n.PortGroup == "" {
			return nil, fmt.Errorf("%s lists card %s without a port group", KeyNICs, n.MAC)
		}
	}
	return nics, nil
}
