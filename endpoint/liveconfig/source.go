package liveconfig

import (
	"context"
	"errors"
	"fmt"
	"os"

	"github.com/docker-vic/docker-vic/api/vchdoc"
	"github.com/docker-vic/docker-vic/vsphere"
)

// Source is where the daemon reads the VCH it serves.
type Source interface {
	// Read returns the VCH with the defaults of its configuration applied. The configuration's
	// Revision tells one reading from the next.
	Read(ctx context.Context) (*vchdoc.VCH, error)
	// Close lets go of what the source keeps between readings.
	Close(ctx context.Context) error
}

// Options say where the configuration comes from: File, or else vSphere.
type Options struct {
	// VCH is the VCH to serve; with File, the VCH the file must describe, if set.
	VCH string
	// File holds the JSON of `docker vic inspect NAME --format json`.
	File string
	// Target, Thumbprint, Insecure and Datacenter locate vSphere.
	Target, Thumbprint string
	Insecure           bool
	Datacenter         string
	// Credentials is a root-only file of KEY=VALUE lines; the environment fills what it lacks.
	Credentials string
}

// Validate refuses options that name no source, or two.
func (o Options) Validate() error {
	switch {
	case o.File == "" && o.VCH == "":
		return errors.New("no VCH to serve: give --config FILE, or --vch NAME with --target")
	case o.File != "" && o.Target != "":
		return errors.New("--config and --target exclude each other: the configuration comes from one of them")
	}
	return nil
}

// Open returns the source o names, and the vSphere target it reads (nil for a file: the daemon
// then works without vSphere).
func Open(o Options) (Source, *vsphere.Target, error) {
	if o.File != "" {
		return File{Path: o.File, VCH: o.VCH}, nil, nil
	}
	getenv := os.Getenv
	if o.Credentials != "" {
		creds, err := readCredentials(o.Credentials)
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
		Target: o.Target, Thumbprint: o.Thumbprint, Insecure: o.Insecure, Datacenter: o.Datacenter,
	}.Resolve(getenv)
	if err != nil {
		return nil, nil, err
	}
	return &VSphere{Target: t, VCH: o.VCH}, t, nil
}

// File reads the VCH document that `docker vic inspect NAME --format json` prints.
type File struct {
	Path string
	// VCH, when set, is the VCH the file must describe.
	VCH string
}

// Read implements Source.
func (f File) Read(context.Context) (*vchdoc.VCH, error) {
	v, err := vchdoc.Read(f.Path)
	if err != nil {
		return nil, err
	}
	if f.VCH != "" && v.Name != "" && v.Name != f.VCH {
		return nil, fmt.Errorf("configuration file %s describes VCH %q, not %q", f.Path, v.Name, f.VCH)
	}
	v.Config.ApplyDefaults()
	if v.Name == "" {
		v.Name = v.Config.Name
	}
	return v, nil
}

// Close implements Source: a file keeps nothing.
func (File) Close(context.Context) error { return nil }
