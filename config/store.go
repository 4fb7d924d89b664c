package config

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
)

// Keys of the VCH configuration in the endpoint VM's extraConfig. The guestinfo. prefix makes
// them readable from inside the endpoint; nothing secret is ever written under them.
const (
	KeyPrefix  = "guestinfo.vic."
	KeyVersion = KeyPrefix + "version"
	KeyConfig  = KeyPrefix + "config"

	// KeyContainerVCH marks a container VM and names the VCH it belongs to.
	KeyContainerVCH = KeyPrefix + "container.vch"
	// KeyContainerID holds the Docker container ID of a container VM.
	KeyContainerID = KeyPrefix + "container.id"
)

// ErrNotVCH says that a VM's extraConfig holds no VCH configuration.
var ErrNotVCH = errors.New("no VCH configuration")

// Encode returns the extraConfig entries that store c.
func (c *Config) Encode() (map[string]string, error) {
	b, err := json.Marshal(c)
	if err != nil {
		return nil, fmt.Errorf("encoding the configuration of VCH %q: %w", c.Name, err)
	}
	return map[string]string{
		KeyVersion: strconv.Itoa(c.Version),
		KeyConfig:  string(b),
	}, nil
}

// Decode reads a configuration back from extraConfig entries. It returns ErrNotVCH when the
// entries hold none.
func Decode(extraConfig map[string]string) (*Config, error) {
	raw, ok := extraConfig[KeyConfig]
	if !ok {
		return nil, ErrNotVCH
	}
	version, err := strconv.Atoi(extraConfig[KeyVersion])
	if err != nil {
		return nil, fmt.Errorf("%s %q is not a number", KeyVersion, extraConfig[KeyVersion])
	}
	if version > SchemaVersion {
		return nil, fmt.Errorf("the configuration has schema version %d, this docker-vic reads up to %d: upgrade docker-vic", version, SchemaVersion)
	}
	var c Config
	if err := json.Unmarshal([]byte(raw), &c); err != nil {
		return nil, fmt.Errorf("decoding %s: %w", KeyConfig, err)
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
