package config

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
)

// Keys of the VCH configuration in the endpoint VM's extraConfig. The configuration is kept
// twice. The guestinfo. keys are the guest's copy: vic-init boots from it, and nothing secret
// is ever written under them. But on vSphere any process of the guest may also set a guestinfo
// key through the backdoor, so nothing outside the guest's boot trusts them: the hidden keys,
// which the guest can neither read nor write, are the VCH's configuration for the CLI and for
// vic-endpoint (which reads it through the vSphere API). Decode reads the hidden copy, and the
// guest's only for VCHs made before there was a hidden one.
const (
	KeyPrefix  = "guestinfo.vic."
	KeyVersion = KeyPrefix + "version"
	KeyConfig  = KeyPrefix + "config"

	HiddenPrefix     = "vic."
	HiddenKeyVersion = HiddenPrefix + "version"
	HiddenKeyConfig  = HiddenPrefix + "config"

	// KeyContainerVCH marks a container VM and names the VCH it belongs to.
	KeyContainerVCH = KeyPrefix + "container.vch"
	// KeyContainerID holds the Docker container ID of a container VM.
	KeyContainerID = KeyPrefix + "container.id"
	// KeyContainerEndpoint names the endpoint VM that runs the container; a container VM
	// without it is run by the VM named after the VCH (endpoint 1).
	KeyContainerEndpoint = KeyPrefix + "container.endpoint"
)

// ErrNotVCH says that a VM's extraConfig holds no VCH configuration.
var ErrNotVCH = errors.New("no VCH configuration")

// Encode returns the extraConfig entries that store c: the hidden copy and the guest's.
func (c *Config) Encode() (map[string]string, error) {
	b, err := json.Marshal(c)
	if err != nil {
		return nil, fmt.Errorf("encoding the configuration of VCH %q: %w", c.Name, err)
	}
	version := strconv.Itoa(c.Version)
	return map[string]string{
		HiddenKeyVersion: version,
		HiddenKeyConfig:  string(b),
		KeyVersion:       version,
		KeyConfig:        string(b),
	}, nil
}

// storedKeys returns the keys of the copy that Decode reads from extraConfig: the hidden one
// when there is one, else the guest's; ok is false when extraConfig holds no configuration.
func storedKeys(extraConfig map[string]string) (configKey, versionKey string, ok bool) {
	if !Stored(extraConfig) {
		return "", "", false
	}
	if _, ok := extraConfig[HiddenKeyConfig]; ok {
		return HiddenKeyConfig, HiddenKeyVersion, true
	}
	return KeyConfig, KeyVersion, true
}

// Stored reports whether extraConfig holds a VCH configuration: the guest's copy, under the
// guestinfo.vic. keys that name a VCH (the hidden copy is only ever written beside it).
func Stored(extraConfig map[string]string) bool {
	_, ok := extraConfig[KeyConfig]
	return ok
}

// GuestCopyDiffers reports whether the guest's copy of the configuration differs from the
// hidden one: something inside the endpoint VM rewrote it (the next write of the
// configuration puts it back).
func GuestCopyDiffers(extraConfig map[string]string) bool {
	hidden, ok := extraConfig[HiddenKeyConfig]
	return ok && (extraConfig[KeyConfig] != hidden || extraConfig[KeyVersion] != extraConfig[HiddenKeyVersion])
}

// Decode reads a configuration back from extraConfig entries (see the keys for which copy).
// It returns ErrNotVCH when the entries hold none.
func Decode(extraConfig map[string]string) (*Config, error) {
	configKey, versionKey, ok := storedKeys(extraConfig)
	if !ok {
		return nil, ErrNotVCH
	}
	raw := extraConfig[configKey]
	version, err := strconv.Atoi(extraConfig[versionKey])
	if err != nil {
		return nil, fmt.Errorf("%s %q is not a number", versionKey, extraConfig[versionKey])
	}
	if version > SchemaVersion {
		return nil, fmt.Errorf("the configuration has schema version %d, this docker-vic reads up to %d: upgrade docker-vic", version, SchemaVersion)
	}
	var c Config
	if err := json.Unmarshal([]byte(raw), &c); err != nil {
		return nil, fmt.Errorf("decoding %s: %w", configKey, err)
	}
	if c.Endpoints == 0 {
		c.Endpoints = 1 // stored before a VCH could have several endpoints
	}
	return &c, nil
}

// DecodeVCH decodes the configuration of the VM called vmName and checks that it names the VM
// itself: a VM is a VCH exactly when both hold. It returns ErrNotVCH otherwise.
func DecodeVCH(vmName string, extraConfig map[string]string) (*Config, error) {
	c, err := Decode(extraConfig)
	if err != nil {
		return nil, err
	}
	if c.Name != vmName {
		return nil, ErrNotVCH
	}
	return c, nil
}
