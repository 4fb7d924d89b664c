package main

import (
	"errors"
	"fmt"
	"net/netip"
	"path/filepath"
	"strconv"

	"github.com/containerd/errdefs"
	"github.com/docker/cli/cli/command"
	"github.com/docker/cli/cli/context/docker"
	"github.com/docker/cli/cli/context/store"
)

// contextStore is the part of the Docker CLI's context store that docker-vic uses.
type contextStore interface {
	GetMetadata(name string) (store.Metadata, error)
	CreateOrUpdate(meta store.Metadata) error
	Remove(name string) error
	ResetEndpointTLSMaterial(contextName, endpointName string, data *store.EndpointTLSData) error
}

// contextCertDirField records, in a context docker-vic made, where the VCH's TLS files are.
const contextCertDirField = "vicCertDir"

// contextDescription marks a Docker context as docker-vic's own.
func contextDescription(vchName string) string { return "docker-vic VCH " + vchName }

// dockerHost is the Docker endpoint of a VCH at addr.
func dockerHost(addr netip.Addr) string {
	return "tcp://" + netip.AddrPortFrom(addr, 2376).String()
}

// errContextTaken says that a context of the VCH's name exists and is not docker-vic's.
var errContextTaken = errors.New("a Docker context of that name exists and was not made by docker-vic")

// ensureContext creates or updates the Docker context named after the VCH, pointing at addr
// with the TLS files of certDir. It never overwrites a context docker-vic did not make.
func ensureContext(s contextStore, name string, addr netip.Addr, certDir string, m *tlsMaterial) error {
	if err := store.ValidateContextName(name); err != nil {
		return fmt.Errorf("creating Docker context %q: %w", name, err)
	}
	if old, err := s.GetMetadata(name); err == nil {
		if !ours(old, name) {
			return fmt.Errorf("creating Docker context %q: %w", name, errContextTaken)
		}
	} else if !errdefs.IsNotFound(err) {
		return fmt.Errorf("reading Docker context %q: %w", name, err)
	}
	meta := store.Metadata{
		Name: name,
		Metadata: command.DockerContext{
			Description:      contextDescription(name),
			AdditionalFields: map[string]any{contextCertDirField: certDir},
		},
		Endpoints: map[string]any{
			docker.DockerEndpoint: docker.EndpointMeta{Host: dockerHost(addr)},
		},
	}
	if err := s.CreateOrUpdate(meta); err != nil {
		return fmt.Errorf("creating Docker context %q: %w", name, err)
	}
	tlsData := &store.EndpointTLSData{Files: map[string][]byte{
		fileCA:         m.CACert,
		fileClientCert: m.ClientCert,
		fileClientKey:  m.ClientKey,
	}}
	if err := s.ResetEndpointTLSMaterial(name, docker.DockerEndpoint, tlsData); err != nil {
		_ = s.Remove(name)
		return fmt.Errorf("storing the TLS files of Docker context %q: %w", name, err)
	}
	return nil
}

// ours reports whether context meta was made by docker-vic for VCH name.
func ours(meta store.Metadata, name string) bool {
	dc, err := command.GetDockerContext(meta)
	return err == nil && dc.Description == contextDescription(name)
}

// removeContext removes the Docker context of VCH name when docker-vic made it, and returns the
// TLS directory it recorded, if any. A missing context is fine.
func removeContext(s contextStore, name string) (certDir string, err error) {
	meta, err := s.GetMetadata(name)
	if errdefs.IsNotFound(err) || err != nil && store.ValidateContextName(name) != nil {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("reading Docker context %q: %w", name, err)
	}
	if !ours(meta, name) {
		return "", nil
	}
	if dc, err := command.GetDockerContext(meta); err == nil {
		certDir, _ = dc.AdditionalFields[contextCertDirField].(string)
	}
	if err := s.Remove(name); err != nil {
		return certDir, fmt.Errorf("removing Docker context %q: %w", name, err)
	}
	return certDir, nil
}

// retryContextHint is the command that creates the context by hand.
func retryContextHint(name string, addr netip.Addr, certDir string) string {
	return fmt.Sprintf("docker context create %s --description %s --docker host=%s,ca=%s,cert=%s,key=%s",
		name, strconv.Quote(contextDescription(name)), dockerHost(addr),
		filepath.Join(certDir, fileCA), filepath.Join(certDir, fileClientCert), filepath.Join(certDir, fileClientKey))
}
