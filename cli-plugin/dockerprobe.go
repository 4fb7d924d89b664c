package main

import (
	"bytes"
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
	"strings"
	"time"

	"github.com/docker-vic/docker-vic/config"
)

// dialFunc opens a connection to a Docker API; tests give one that reaches a loopback server
// while the TLS checks still name the VCH's address.
type dialFunc func(ctx context.Context, network, addr string) (net.Conn, error)

// dockerAPI asks one endpoint's Docker API over TLS, with the VCH's CA as the only root and
// the admin's client certificate.
type dockerAPI struct {
	addr netip.Addr
	hc   *http.Client
}

// newDockerAPI is the Docker API at addr; each call gives up after timeout.
func newDockerAPI(dial dialFunc, addr netip.Addr, m *tlsMaterial, timeout time.Duration) (*dockerAPI, error) {
	if dial == nil {
		dial = (&net.Dialer{Timeout: 5 * time.Second}).DialContext
	}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(m.CACert) {
		return nil, errors.New("the VCH's CA certificate does not parse")
	}
	client, err := tls.X509KeyPair(m.ClientCert, m.ClientKey)
	if err != nil {
		return nil, fmt.Errorf("the client certificate: %w", err)
	}
	return &dockerAPI{addr: addr, hc: &http.Client{
		Timeout: timeout,
		Transport: &http.Transport{
			DialContext: dial,
			TLSClientConfig: &tls.Config{
				RootCAs:      roots,
				Certificates: []tls.Certificate{client},
				ServerName:   addr.String(),
				MinVersion:   tls.VersionTLS12,
			},
		},
	}}, nil
}

// close lets the API's idle connections go.
func (c *dockerAPI) close() { c.hc.CloseIdleConnections() }

// call sends method path with in as JSON (none when nil) and decodes the answer into out
// (ignored when nil). An answer other than 2xx is an error with the engine's message.
func (c *dockerAPI) call(ctx context.Context, method, path string, in, out any) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = bytes.NewReader(b)
	}
	hostPort := net.JoinHostPort(c.addr.String(), strconv.Itoa(config.DockerTLSPort))
	req, err := http.NewRequestWithContext(ctx, method, "https://"+hostPort+path, body)
	if err != nil {
		return err
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	answer := io.LimitReader(resp.Body, 4<<20)
	if resp.StatusCode/100 != 2 {
		var e struct{ Message string }
		b, _ := io.ReadAll(answer)
		if json.Unmarshal(b, &e) == nil && e.Message != "" {
			return fmt.Errorf("%s %s: %s", method, path, strings.TrimSpace(e.Message))
		}
		return fmt.Errorf("%s %s answered %s", method, path, resp.Status)
	}
	if out == nil {
		return nil
	}
	if err := json.NewDecoder(answer).Decode(out); err != nil {
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	return nil
}

// engineInfo is what create reads of GET /info.
type engineInfo struct {
	ServerVersion string
	Swarm         struct {
		NodeID           string
		LocalNodeState   string
		ControlAvailable bool
	}
}

// info reads the engine's /info.
func (c *dockerAPI) info(ctx context.Context) (engineInfo, error) {
	var i engineInfo
	err := c.call(ctx, http.MethodGet, "/info", nil, &i)
	return i, err
}

// probeDocker asks the Docker API at api for /info over TLS and returns the engine's version.
func probeDocker(ctx context.Context, dial dialFunc, api netip.Addr, m *tlsMaterial) (string, error) {
	c, err := newDockerAPI(dial, api, m, 10*time.Second)
	if err != nil {
		return "", err
	}
	defer c.close()
	i, err := c.info(ctx)
	return i.ServerVersion, err
}
