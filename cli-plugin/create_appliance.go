package main

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/docker-vic/docker-vic/api/guestinfo"
	"github.com/docker-vic/docker-vic/cli-plugin/vch"
	"github.com/docker-vic/docker-vic/config"
)

// removeTimeout bounds the removal of a VCH whose appliance did not come up: it runs after
// create's own deadline.
const removeTimeout = 2 * time.Minute

// createAppliance creates a VCH whose endpoint VM boots the appliance image img, and follows
// the boot until the Docker API answers over TLS: the CA and client certificate are made here,
// the server's key in the guest, whose request create checks and signs. A failure removes the
// VCH and its TLS files, unless --keep-on-failure.
func createAppliance(ctx context.Context, d *deps, opts *createOptions, m *vch.Manager, cfg *config.Config, img bootImage, creds guestinfo.Credentials, certDir string) error {
	tlsm, err := newPKI(cfg.Name)
	if err != nil {
		return err
	}
	cfg.TLS = config.TLS{CACert: string(tlsm.CACert)}
	if img.dsPath != "" {
		cfg.Placement.ApplianceISO = img.dsPath
	}
	app := vch.ApplianceOf(cfg)
	app.LocalISO = img.local
	v, err := m.CreateAppliance(ctx, cfg, app)
	if err != nil {
		return err
	}

	m.Progress("writing TLS certificates to " + certDir)
	if err := tlsm.write(certDir); err != nil {
		return failCreate(ctx, d, m, opts, certDir, err)
	}
	eps, err := m.EndpointVMs(ctx, cfg.Name)
	if err != nil {
		return failCreate(ctx, d, m, opts, certDir, err)
	}
	watches := newBootWatches(d, eps, cfg, tlsm, creds)
	if len(eps) == 1 {
		fmt.Fprintf(d.out, "  endpoint VM %q powered on: waiting up to %s for the appliance\n", cfg.Name, opts.timeout)
	} else {
		fmt.Fprintf(d.out, "  %d endpoint VMs powered on: waiting up to %s for their appliances\n", len(eps), opts.timeout)
	}
	if err := runBootWatches(ctx, watches); err != nil {
		var r *refusal
		if !errors.As(err, &r) && ctx.Err() != nil {
			err = fmt.Errorf("the appliance's Docker API did not answer within %s", opts.timeout)
			if watches.answered() {
				err = fmt.Errorf("the appliance's vic drivers did not serve within %s", opts.timeout)
			}
		}
		watches.reportUnfinished(ctx, d.err, m)
		return failCreate(ctx, d, m, opts, certDir, err)
	}
	w := watches[0]
	tlsm.ServerCert = w.cert
	if len(watches) > 1 {
		if err := formSwarm(ctx, d, tlsm, watches.names(), watches.apis(), func(s string) { fmt.Fprintf(d.out, "  %s\n", s) }); err != nil {
			return failCreate(ctx, d, m, opts, certDir, err)
		}
	}
	api := w.api
	if err := tlsm.write(certDir); err != nil {
		return fmt.Errorf("VCH %q was created, but its server certificate was not saved: %w", cfg.Name, err)
	}
	published := cfg.Public.IP.Addr()
	if !cfg.Public.Static() {
		published = statusAddr(w.last, config.RolePublic)
	}
	return finishCreate(d, opts, v, tlsm, certDir, api, published)
}

// failCreate ends a create whose appliance did not come up: it removes the VCH and its TLS
// files, or keeps them when --keep-on-failure asks.
func failCreate(ctx context.Context, d *deps, m *vch.Manager, opts *createOptions, certDir string, cause error) error {
	name := opts.name
	if opts.keepOnFailure {
		return fmt.Errorf("VCH %q did not come up: %w; it is kept (--keep-on-failure): look at it with `docker vic inspect %s`, remove it with `docker vic rm %s`", name, cause, name, name)
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), removeTimeout)
	defer cancel()
	err := m.Remove(ctx, name, true)
	if terr := removeTLSDir(certDir); err == nil {
		err = terr
	}
	if err != nil {
		return fmt.Errorf("VCH %q did not come up: %w; removing it also failed: %v", name, cause, err)
	}
	return fmt.Errorf("VCH %q did not come up: %w; it was removed", name, cause)
}
