package guestinfo

import (
	"encoding/json"
	"fmt"
	"time"
)

// Phase is how far the appliance has come since power-on.
type Phase string

// The phases, in the order an appliance goes through them. Failed may come at any point.
const (
	PhaseBooting     Phase = "booting"     // vic-init runs: modules, disks
	PhaseNetwork     Phase = "network"     // NICs named by role, addresses applied
	PhaseCertificate Phase = "certificate" // the request is published, waiting for the signed certificate
	PhaseDocker      Phase = "docker"      // containerd, dockerd and vic-endpoint starting
	PhaseReady       Phase = "ready"       // the Docker API answers over TLS
	PhaseFailed      Phase = "failed"      // Message says what went wrong; vic-init keeps trying
)

// Status is what the guest reports under KeyStatus.
type Status struct {
	Phase Phase `json:"phase"`
	// Message is one sentence on the phase, or the last error.
	Message string `json:"message,omitempty"`
	// Time is when the guest wrote the status.
	Time time.Time `json:"time"`
	// Boot counts the appliance's boots, 1 at the first.
	Boot int `json:"boot"`
	// Addresses are the endpoint's addresses by role (public, client, management), with prefix.
	Addresses map[string]string `json:"addresses,omitempty"`
	// Docker is the version of the Docker engine, once it answers.
	Docker string `json:"docker,omitempty"`
	// Endpoint is vic-endpoint's state: EndpointServing, or what keeps it from it.
	Endpoint string `json:"endpoint,omitempty"`
}

// EndpointServing is Status.Endpoint once vic-endpoint serves the vic drivers to dockerd.
const EndpointServing = "serving"

// Encode returns the status as KeyStatus's value.
func (s Status) Encode() string {
	b, _ := json.Marshal(s) // a Status always encodes
	return string(b)
}

// DecodeStatus reads a KeyStatus value.
func DecodeStatus(v string) (Status, error) {
	var s Status
	if err := json.Unmarshal([]byte(v), &s); err != nil {
		return Status{}, fmt.Errorf("the appliance's status %q is not JSON: %w", v, err)
	}
	return s, nil
}
