package main

import (
	"context"
	"fmt"
	"io"

	"github.com/spf13/pflag"
	"golang.org/x/term"

	"github.com/docker-vic/docker-vic/cli-plugin/vch"
	"github.com/docker-vic/docker-vic/vsphere"
)

// connector opens vSphere sessions. interactive allows a password prompt.
type connector interface {
	Connect(ctx context.Context, o vsphere.Options, interactive bool) (*vsphere.Session, error)
}

// registerConnectionFlags adds the flags of every subcommand that talks to vSphere.
func registerConnectionFlags(flags *pflag.FlagSet, o *vsphere.Options) {
	flags.StringVar(&o.Target, "target", "", "vCenter or ESXi: `URL` like https://user:pass@host/sdk or user@host/DATACENTER (env VIC_TARGET, GOVC_URL)")
	flags.StringVar(&o.User, "user", "", "vSphere user (env VIC_USER, GOVC_USERNAME)")
	flags.StringVar(&o.Password, "password", "", "vSphere password (env VIC_PASSWORD, GOVC_PASSWORD; prompted on a terminal)")
	flags.StringVar(&o.Thumbprint, "thumbprint", "", "SHA-1 or SHA-256 thumbprint of the vSphere certificate (env VIC_THUMBPRINT)")
	flags.BoolVar(&o.Insecure, "insecure", false, "Do not check the vSphere certificate (env VIC_INSECURE, GOVC_INSECURE)")
	flags.StringVar(&o.Datacenter, "datacenter", "", "Datacenter `NAME` (env VIC_DATACENTER, GOVC_DATACENTER)")
}

// sessionConnector resolves options against the environment, prompts for a missing password on
// a terminal, and logs in.
type sessionConnector struct {
	getenv func(string) string
	// stdin is the terminal file descriptor, or -1 when stdin is no terminal.
	stdin  int
	prompt io.Writer
}

func newSessionConnector(getenv func(string) string, stdinFD uintptr, prompt io.Writer) *sessionConnector {
	fd := int(stdinFD)
	if !term.IsTerminal(fd) {
		fd = -1
	}
	return &sessionConnector{getenv: getenv, stdin: fd, prompt: prompt}
}

// Connect implements connector.
func (c *sessionConnector) Connect(ctx context.Context, o vsphere.Options, interactive bool) (*vsphere.Session, error) {
	t, err := o.Resolve(c.getenv)
	if err != nil {
		return nil, err
	}
	if t.Password == "" && t.User != "" && interactive && c.stdin >= 0 {
		fmt.Fprintf(c.prompt, "Password for %s at %s: ", t.User, t.Host())
		b, err := term.ReadPassword(c.stdin)
		fmt.Fprintln(c.prompt)
		if err != nil {
			return nil, fmt.Errorf("reading the password of %s: %w", t.User, err)
		}
		t.Password = string(b)
	}
	return vsphere.Connect(ctx, t)
}

// manager connects and returns a VCH manager on the session's datacenter. Call the returned
// function to log out.
func (d *deps) manager(ctx context.Context, o vsphere.Options) (*vch.Manager, func(), error) {
	s, err := d.vsphere.Connect(ctx, o, true)
	if err != nil {
		return nil, nil, err
	}
	m := &vch.Manager{Client: s.Client, Datacenter: s.Target.Datacenter}
	return m, func() { _ = s.Logout(context.WithoutCancel(ctx)) }, nil
}
