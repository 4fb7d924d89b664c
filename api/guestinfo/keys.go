package guestinfo

import (
	"context"
	"errors"
	"slices"

	"github.com/docker-vic/docker-vic/config"
)

// Keys the CLI writes. The guest reads them and never writes them.
const (
	// KeyConfig and KeyVersion hold the VCH configuration (config.Encode).
	KeyConfig  = config.KeyConfig
	KeyVersion = config.KeyVersion
	// KeyCert is the Docker API's server certificate, PEM, that the CLI signed for KeyCSR,
	// followed by the CA's certificate.
	KeyCert = config.KeyPrefix + "tls.cert"
	// KeyClientCA is the PEM certificate of the CA whose client certificates the Docker API
	// accepts.
	KeyClientCA = config.KeyPrefix + "tls.clientca"
	// KeyCredentials is the vSphere user and password the endpoint works with, sealed to the
	// public key of KeyCSR (SealCredentials).
	KeyCredentials = config.KeyPrefix + "credentials.sealed"
	// KeyNICs is the endpoint VM's network cards, a JSON list of NIC in device order: the
	// guest sees MACs only, and learns from this key which port group each one is on.
	KeyNICs = config.KeyPrefix + "nics"
	// KeyEndpoint is the endpoint VM's number in a VCH of several endpoints (config.KeyEndpoint);
	// none means endpoint 1.
	KeyEndpoint = config.KeyEndpoint
)

// Keys the guest writes. The CLI creates them empty before the first power-on, because the
// backdoor can only set keys that exist.
const (
	// KeyCSR is the guest's PEM certificate request for the Docker API, made at first boot
	// with the private key that never leaves the guest.
	KeyCSR = config.KeyPrefix + "tls.csr"
	// KeyStatus is the guest's progress, a JSON Status.
	KeyStatus = config.KeyPrefix + "status"
)

// CLIKeys and GuestKeys list the keys by owner.
var (
	CLIKeys   = []string{KeyConfig, KeyVersion, KeyCert, KeyClientCA, KeyCredentials, KeyNICs, KeyEndpoint}
	GuestKeys = []string{KeyCSR, KeyStatus}
)

// GuestWritable reports whether the guest may set key.
func GuestWritable(key string) bool { return slices.Contains(GuestKeys, key) }

// GuestPrefix starts every key the guest sees: on vSphere the backdoor shows it no other key
// of the VM's extraConfig (config.HiddenKeyConfig is one it cannot see).
const GuestPrefix = "guestinfo."

// ErrNoValue says that a key is unset or empty.
var ErrNoValue = errors.New("no value")

// ErrReadOnly says that the guest tried to set a key the CLI owns.
var ErrReadOnly = errors.New("the key is read-only to the guest")

// Channel reads and writes the endpoint VM's guestinfo keys from inside the guest. Get returns
// ErrNoValue (wrapped) for a key that is unset or empty; Set refuses keys the CLI owns with
// ErrReadOnly.
type Channel interface {
	Get(ctx context.Context, key string) (string, error)
	Set(ctx context.Context, key, value string) error
	Close() error
}
