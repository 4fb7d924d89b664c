//go:build linux

package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/docker-vic/docker-vic/api/vchdoc"
	"github.com/docker-vic/docker-vic/vsphere"
)

// loadVCH returns the VCH to serve, from the --config file or from vSphere, and the vSphere
// target it came from (nil for a file: the endpoint then works without vSphere).
func loadVCH(ctx context.Context, o *options) (*vchdoc.VCH, *vsphere.Target, error) {
	var v *vchdoc.VCH
	var t *vsphere.Target
	var err error
	if o.config != "" {
		v, err = vchdoc.Read(o.config)
	} else {
		v, t, err = fetchVCH(ctx, o)
	}
	if err != nil {
		return nil, nil, err
	}
	if o.vch != "" && v.Name != "" && v.Name != o.vch {
		return nil, nil, fmt.Errorf("configuration file %s describes VCH %q, not %q", o.config, v.Name, o.vch)
	}
	v.Config.ApplyDefaults()
	if v.Name == "" {
		v.Name = v.Config.Name
	}
	return v, t, nil
}

// fetchVCH logs in to vSphere, reads the VCH's configuration and NICs, and logs out.
func fetchVCH(ctx context.Context, o *options) (*vchdoc.VCH, *vsphere.Target, error) {
	getenv := os.Getenv
	if o.credentials != "" {
		creds, err := readCredentials(o.credentials)
		if err != nil {
			return nil, nil, err
		}
		getenv = func(k string) string {
			if v, ok := creds[k]; ok {
				return v
			}
			return os.Getenv(k)
		}
	}
	t, err := vsphere.Options{
		Target: o.target, Thumbprint: o.thumbprint, Insecure: o.insecure, Datacenter: o.datacenter,
	}.Resolve(getenv)
	if err != nil {
		return nil, nil, err
	}
	s, err := vsphere.Connect(ctx, t)
	if err != nil {
		return nil, nil, err
	}
	defer func() { _ = s.Logout(context.WithoutCancel(ctx)) }()
	v, err := vsphere.ReadVCH(ctx, s.Client, t.Datacenter, o.vch)
	if err != nil {
		return nil, nil, err
	}
	if v.Config == nil {
		return nil, nil, fmt.Errorf("VCH %q has no configuration in vSphere", o.vch)
	}
	return v, t, nil
}

// credentialKeys are the settings a credentials file may hold.
var credentialKeys = map[string]bool{
	vsphere.EnvUser: true, vsphere.EnvPassword: true,
	vsphere.EnvGovcUsername: true, vsphere.EnvGovcPassword: true,
}

// readCredentials reads a root-only file of KEY=VALUE lines (blank lines and # comments
// allowed). A file that group or others can access is refused: it holds a password.
func readCredentials(path string) (map[string]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("reading the credentials file: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("reading the credentials file: %w", err)
	}
	if perm := st.Mode().Perm(); perm&0o077 != 0 {
		return nil, fmt.Errorf("credentials file %s is open to group or others (mode %04o): make it root-only with chmod 600", path, perm)
	}
	out := map[string]string{}
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		k = strings.TrimSpace(k)
		if !ok || !credentialKeys[k] {
			return nil, fmt.Errorf("credentials file %s line %d: want %s, %s, %s or %s=VALUE", path, n,
				vsphere.EnvUser, vsphere.EnvPassword, vsphere.EnvGovcUsername, vsphere.EnvGovcPassword)
		}
		out[k] = strings.Trim(strings.TrimSpace(v), `"'`)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("reading the credentials file %s: %w", path, err)
	}
	if len(out) == 0 {
		return nil, errors.New("credentials file " + path + " holds no credentials")
	}
	return out, nil
}
