package guestinfo

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
)

// sealPrefix names the scheme: an ephemeral P-256 ECDH with the recipient's key, HKDF-SHA256
// over the shared secret, AES-256-GCM. The value is sealPrefix then base64url of the ephemeral
// public key (65 bytes, uncompressed), the nonce and the ciphertext.
const sealPrefix = "p256-hkdf-aesgcm.v1."

// Seal encrypts plaintext so that only the holder of the private half of to can read it.
// label binds the ciphertext to its use: Open with another label fails.
func Seal(to *ecdsa.PublicKey, label string, plaintext []byte) (string, error) {
	recipient, err := to.ECDH()
	if err != nil {
		return "", fmt.Errorf("sealing %s: the recipient's key is not a P-256 key: %w", label, err)
	}
	eph, err := ecdh.P256().GenerateKey(rand.Reader)
	if err != nil {
		return "", err
	}
	aead, err := sealKey(eph, recipient, eph.PublicKey(), label)
	if err != nil {
		return "", err
	}
	nonce := make([]byte, aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return "", err
	}
	out := append(eph.PublicKey().Bytes(), nonce...)
	out = aead.Seal(out, nonce, plaintext, []byte(label))
	return sealPrefix + base64.RawURLEncoding.EncodeToString(out), nil
}

// Open decrypts what Seal made for key's public half with the same label.
func Open(key *ecdsa.PrivateKey, label, sealed string) ([]byte, error) {
	raw, ok := strings.CutPrefix(sealed, sealPrefix)
	if !ok {
		return nil, errors.New("the sealed value does not start with " + sealPrefix)
	}
	b, err := base64.RawURLEncoding.DecodeString(raw)
	if err != nil {
		return nil, fmt.Errorf("the sealed value is not base64url: %w", err)
	}
	priv, err := key.ECDH()
	if err != nil {
		return nil, err
	}
	const pubLen = 65
	if len(b) < pubLen {
		return nil, errors.New("the sealed value is too short")
	}
	eph, err := ecdh.P256().NewPublicKey(b[:pubLen])
	if err != nil {
		return nil, fmt.Errorf("the sealed value's ephemeral key: %w", err)
	}
	aead, err := sealKey(priv, eph, eph, label)
	if err != nil {
		return nil, err
	}
	b = b[pubLen:]
	if len(b) < aead.NonceSize() {
		return nil, errors.New("the sealed value is too short")
	}
	plain, err := aead.Open(nil, b[:aead.NonceSize()], b[aead.NonceSize():], []byte(label))
	if err != nil {
		return nil, errors.New("the sealed value does not open with this key and label")
	}
	return plain, nil
}

// sealKey derives the AEAD from the ECDH of mine and theirs; eph is the ephemeral public key,
// mixed into the derivation with the label.
func sealKey(mine *ecdh.PrivateKey, theirs, eph *ecdh.PublicKey, label string) (cipher.AEAD, error) {
	shared, err := mine.ECDH(theirs)
	if err != nil {
		return nil, err
	}
	k, err := hkdf.Key(sha256.New, shared, eph.Bytes(), "docker-vic seal: "+label, 32)
	if err != nil {
		return nil, err
	}
	block, err := aes.NewCipher(k)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(block)
}

// Credentials are the vSphere user and password the endpoint works with: container VMs and
// the configuration's refresh.
type Credentials struct {
	User     string `json:"user"`
	Password string `json:"password"`
}

// credentialsLabel binds sealed credentials to KeyCredentials.
const credentialsLabel = KeyCredentials

// SealCredentials seals c to the guest's key for KeyCredentials.
func SealCredentials(to *ecdsa.PublicKey, c Credentials) (string, error) {
	b, err := json.Marshal(c)
	if err != nil {
		return "", err
	}
	return Seal(to, credentialsLabel, b)
}

// OpenCredentials opens KeyCredentials's value with the guest's key.
func OpenCredentials(key *ecdsa.PrivateKey, sealed string) (Credentials, error) {
	b, err := Open(key, credentialsLabel, sealed)
	if err != nil {
		return Credentials{}, fmt.Errorf("opening the vSphere credentials: %w", err)
	}
	var c Credentials
	if err := json.Unmarshal(b, &c); err != nil {
		return Credentials{}, fmt.Errorf("the sealed vSphere credentials are not JSON: %w", err)
	}
	return c, nil
}
