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
// per reading) and dropped on error.
type VSphere struct {
	Target *vsphere.Target
	VCH    string

	mu   sync.Mutex
	sess *vsphere.Session
}

// Read implements Source, logging in when there is no session.
func (s *VSphere) Read(ctx context.Context) (*vchdoc.VCH, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.sess == nil {
		sess, err := vsphere.Connect(ctx, s.Target)
		if err != nil {
			return nil, err
		}
		s.sess = sess
	}
	v, err := vsphere.ReadVCH(ctx, s.sess.Client, s.Target.Datacenter, s.VCH)
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

// Close implements Source: it logs out.
func (s *VSphere) Close(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.logout(ctx)
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
