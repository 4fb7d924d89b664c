package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"time"

	"github.com/docker-vic/docker-vic/config"
)

// dialFunc opens a connection to a Docker API; tests give one that reaches a loopback server
// while the TLS checks still name the VCH's address.
type dialFunc func(ctx context.Context, network, addr string) (net.Conn, error)

// probeDocker asks the Docker API at api for /info over TLS, with the VCH's CA as the only
// root and the client certificate, and returns the engine's version.
func probeDocker(ctx context.Context, dial dialFunc, api netip.Addr, m *tlsMaterial) (string, error) {
	if dial == nil {
		dial = (&net.Dialer{Timeout: 5 * time.Second}).DialContext
	}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(m.CACert) {
		return "", errors.New("the VCH's CA certificate does not parse")
	}
	client, err := tls.X509KeyPair(m.ClientCert, m.ClientKey)
	if err != nil {
		return "", fmt.Errorf("the client certificate: %w", err)
	}
	hc := &http.Client{
		Timeout: 10 * time.Second,
		Transport: &http.Transport{
			DialContext: dial,
			TLSClientConfig: &tls.Config{
				RootCAs:      roots,
				Certificates: []tls.Certificate{client},
				ServerName:   api.String(),
				MinVersion:   tls.VersionTLS12,
			},
		},
	}
	defer hc.CloseIdleConnections()
	hostPort := net.JoinHostPort(api.String(), strconv.Itoa(config.DockerTLSPort))
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "https://"+hostPort+"/info", nil)
	if err != nil {
		return "", err
	}
	resp, err := hc.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("GET /info answered %s", resp.Status)
	}
	var info struct{ ServerVersion string }
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&info); err != nil {
		return "", fmt.Errorf("GET /info: %w", err)
	}
	return info.ServerVersion, nil
}
