package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"

	"github.com/docker-vic/docker-vic/api/guestinfo"
	"github.com/docker-vic/docker-vic/api/vchdoc"
	"github.com/docker-vic/docker-vic/cli-plugin/vch"
	"github.com/docker-vic/docker-vic/config"
)

// followEndpoints brings the endpoints of appliance swarm v into its swarm after configure:
// the endpoint VMs whose appliance has no certificate yet (those configure added, or one a
// configure cut short left) are followed through their boot as create does, their requests
// signed with the VCH's CA from certDir and creds sealed to them; then the nodes of endpoints
// that are gone leave the swarm, and the new ones join it.
func followEndpoints(ctx context.Context, d *deps, m *vch.Manager, v *vchdoc.VCH, certDir string, creds guestinfo.Credentials) error {
	cfg := v.Config
	eps, err := m.EndpointVMs(ctx, v.Name)
	if err != nil {
		return err
	}
	var fresh []*vch.EndpointVM
	for _, ep := range eps {
		keys, _, err := ep.Keys(ctx)
		if err != nil {
			return err
		}
		if guestinfo.IsUnset(keys[guestinfo.KeyCert]) {
			fresh = append(fresh, ep)
		}
	}
	tlsm, err := loadTLS(certDir)
	if err != nil {
		return err
	}
	watches := newBootWatches(d, fresh, cfg, tlsm, creds)
	if len(fresh) > 0 {
		if len(fresh) == 1 {
			fmt.Fprintf(d.out, "  endpoint VM %q powered on: waiting for its appliance\n", fresh[0].Name())
		} else {
			fmt.Fprintf(d.out, "  %d endpoint VMs powered on: waiting for their appliances\n", len(fresh))
		}
		if err := runBootWatches(ctx, watches); err != nil {
			watches.reportUnfinished(ctx, d.err, m)
			return err
		}
	}
	names := make([]string, len(eps))
	apis := make([]netip.Addr, len(eps))
	for j, ep := range eps {
		names[j] = ep.Name()
		for _, w := range watches {
			if w.ep.Number == ep.Number {
				apis[j] = w.api
			}
		}
		if e := v.Endpoint(ep.Number); !apis[j].IsValid() && e != nil && e.Appliance != nil {
			apis[j] = applianceAPIAddr(cfg.Endpoint(ep.Number), *e.Appliance)
		}
		if !apis[j].IsValid() {
			return fmt.Errorf("the Docker API address of endpoint VM %q is not known yet: run configure again once it has one", ep.Name())
		}
	}
	say := func(s string) { fmt.Fprintf(d.out, "  %s\n", s) }
	// The nodes of the endpoints gone leave first: a manager among them is demoted while the
	// endpoints that stay keep the swarm's quorum.
	if err := dropGoneNodes(ctx, d, tlsm, apis[0], v.Name, cfg.EndpointCount(), say); err != nil {
		return err
	}
	return formSwarm(ctx, d, tlsm, names, apis, say)
}

// dropGoneNodes removes from the swarm whose manager answers at api the nodes of the endpoint
// VMs numbered above count, whose VMs configure removed, demoting a manager first.
func dropGoneNodes(ctx context.Context, d *deps, tlsm *tlsMaterial, api netip.Addr, name string, count int, say func(string)) error {
	return leaveNodes(ctx, d, tlsm, api, name, count, true, say)
}

// drainLeaving readies the nodes of the endpoint VMs numbered above count, before configure
// removes their VMs: a manager among them is demoted while its endpoint still runs, so that
// the swarm keeps its quorum, and each is drained, so that Swarm moves its tasks first.
func drainLeaving(ctx context.Context, d *deps, tlsm *tlsMaterial, api netip.Addr, name string, count int, say func(string)) error {
	return leaveNodes(ctx, d, tlsm, api, name, count, false, say)
}

// leaveNodes demotes and drains the nodes of the endpoint VMs of VCH name numbered above count,
// through the manager at api, and removes them when remove says so.
func leaveNodes(ctx context.Context, d *deps, tlsm *tlsMaterial, api netip.Addr, name string, count int, remove bool, say func(string)) error {
	c, err := newDockerAPI(d.dialDocker, api, tlsm, swarmCallTimeout)
	if err != nil {
		return err
	}
	defer c.close()
	gone := map[string]bool{}
	for i := count + 1; i <= config.MaxEndpoints; i++ {
		gone[config.EndpointVMName(name, i)] = true
	}
	nodes, err := listNodes(ctx, c)
	if err != nil {
		return err
	}
	for _, n := range nodes {
		host := n.Description.Hostname
		if !gone[host] {
			continue
		}
		if n.role() == "manager" || n.Spec["Availability"] != "drain" {
			if err := updateSpec(ctx, c, n, map[string]any{"Role": "worker", "Availability": "drain"}); err != nil {
				return fmt.Errorf("draining the node of endpoint VM %q before it leaves the swarm: %w", host, err)
			}
			if !remove {
				say(fmt.Sprintf("the node of endpoint VM %q is drained, and a worker, before its VM goes", host))
			}
		}
		if !remove {
			continue
		}
		if err := c.call(ctx, http.MethodDelete, "/nodes/"+n.ID+"?force=1", nil, nil); err != nil {
			return fmt.Errorf("removing the node of endpoint VM %q from the swarm: %w", host, err)
		}
		say(fmt.Sprintf("the node of endpoint VM %q left the swarm", host))
	}
	return nil
}

// loadTLS reads the TLS material of a VCH from its directory: the CA, with its key, and the
// client certificate; the server's key stays in the appliance.
func loadTLS(dir string) (*tlsMaterial, error) {
	read := func(name string) ([]byte, error) {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("the VCH's TLS directory %s has no %s: give the directory create wrote with --tls-cert-dir", dir, name)
		}
		return b, err
	}
	m := &tlsMaterial{}
	var err error
	for _, f := range []struct {
		name string
		into *[]byte
	}{{fileCA, &m.CACert}, {fileCAKey, &m.CAKey}, {fileClientCert, &m.ClientCert}, {fileClientKey, &m.ClientKey}} {
		if *f.into, err = read(f.name); err != nil {
			return nil, err
		}
	}
	b, _ := pem.Decode(m.CACert)
	if b == nil {
		return nil, fmt.Errorf("%s holds no certificate", filepath.Join(dir, fileCA))
	}
	if m.ca, err = x509.ParseCertificate(b.Bytes); err != nil {
		return nil, fmt.Errorf("%s: %w", filepath.Join(dir, fileCA), err)
	}
	k, _ := pem.Decode(m.CAKey)
	if k == nil {
		return nil, fmt.Errorf("%s holds no key", filepath.Join(dir, fileCAKey))
	}
	if m.caKey, err = x509.ParseECPrivateKey(k.Bytes); err != nil {
		return nil, fmt.Errorf("%s: %w", filepath.Join(dir, fileCAKey), err)
	}
	if pub, ok := m.ca.PublicKey.(*ecdsa.PublicKey); !ok || !pub.Equal(&m.caKey.PublicKey) {
		return nil, fmt.Errorf("%s is not the key of the CA in %s", filepath.Join(dir, fileCAKey), filepath.Join(dir, fileCA))
	}
	return m, nil
}
