package liveconfig

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/docker-vic/docker-vic/api/vchdoc"
	"github.com/docker-vic/docker-vic/vsphere"
)

// logoutTimeout bounds the logout, which runs even when the daemon stops.
const logoutTimeout = 5 * time.Second

// ErrNoConfiguration says that vSphere holds no configuration for the VCH's endpoint VM.
var ErrNoConfiguration = errors.New("no configuration in vSphere")

// VSphere reads the VCH from vSphere on one session, kept between readings (one login, not one
// per reading) and dropped on error, and follows its endpoint VM on that session (Follow).
// The first reading scans the datacenter for the endpoint VM, unless a stored document named it;
// the next ones read only that VM and the datacenter's networks (vsphere.ScanEndpoint).
type VSphere struct {
	Target *vsphere.Target
	VCH    string
	// MaxWait bounds each wait of Follow for a change; zero means DefaultMaxWait.
	MaxWait time.Duration
	mu      sync.Mutex
	// endpointID is the endpoint VM's managed object ID as the stored document names it
	// ("vm-42"), if any: the first reading tries that VM before it scans the datacenter.
	endpointID string
	sess       *vsphere.Session
	scope      *vsphere.Scope // where the VCH is, once a reading found it
}

// Read implements Source, logging in when there is no session.
func (s *VSphere) Read(ctx context.Context) (*vchdoc.VCH, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, err := s.session(ctx); err != nil {
		return nil, err
	}
	v, err := s.read(ctx)
	if err == nil && v.Config == nil {
		err = fmt.Errorf("VCH %q has %w", s.VCH, ErrNoConfiguration)
	}
	if err != nil {
		s.logout(ctx) // the session may be the cause: the next reading logs in again
		return nil, err
	}
	v.Config.ApplyDefaults()
	return v, nil
}

// hintEndpoint names the endpoint VM for the first reading, from a stored document.
func (s *VSphere) hintEndpoint(id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.endpointID = id
}

// Close implements Source: it logs out.
func (s *VSphere) Close(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.logout(ctx)
}

// session returns the session, logging in when there is none. s.mu is held.
func (s *VSphere) session(ctx context.Context) (*vsphere.Session, error) {
	if s.sess == nil {
		sess, err := vsphere.Connect(ctx, s.Target)
		if err != nil {
			return nil, err
		}
		s.sess = sess
	}
	return s.sess, nil
}

// read describes the VCH from a reading of its endpoint VM alone (vsphere.ScanEndpoint: the
// endpoint needs no container counts, and its cost does not grow with the containers), or from
// a scan of the datacenter when the endpoint VM is not known yet or no longer is the VCH's.
// s.mu is held, with a session.
func (s *VSphere) read(ctx context.Context) (*vchdoc.VCH, error) {
	if s.scope == nil && s.endpointID != "" {
		// The stored document names the endpoint VM: try it once, before any datacenter scan.
		s.scope, _ = vsphere.EndpointScope(ctx, s.sess.Client, s.Target.Datacenter, s.endpointID)
		s.endpointID = ""
	}
	if s.scope != nil {
		inv, err := vsphere.ScanEndpoint(ctx, s.sess.Client, s.scope)
		if err != nil && !errors.Is(err, vsphere.ErrScopeGone) {
			return nil, err
		}
		if err == nil {
			v, err := inv.VCH(s.VCH)
			if !errors.Is(err, vsphere.ErrNotFound) {
				return v, err
			}
		}
		s.scope = nil // gone, or no longer this VCH's endpoint VM: scan the datacenter
	}
	inv, err := vsphere.ScanInventory(ctx, s.sess.Client, s.Target.Datacenter)
	if err != nil {
		return nil, err
	}
	v, err := inv.VCH(s.VCH)
	if err == nil {
		s.scope, _ = inv.ScopeOf(s.VCH)
	}
	return v, err
}

// drop logs sess out when it is still the session kept: the next reading logs in again.
func (s *VSphere) drop(ctx context.Context, sess *vsphere.Session) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.sess == sess {
		_ = s.logout(ctx) // the session may be the cause of the failure: it goes either way
	}
}

func (s *VSphere) logout(ctx context.Context) error {
	if s.sess == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), logoutTimeout)
	defer cancel()
	err := s.sess.Logout(ctx)
	s.sess = nil
	return err
}
