package main

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"

	"github.com/docker-vic/docker-vic/api/guestinfo"
	"github.com/docker-vic/docker-vic/config"
	"github.com/docker-vic/docker-vic/vsphere"
)

// applianceNone is the --appliance-iso value of an endpoint VM that boots nothing: host mode,
// where dockerd and vic-endpoint run elsewhere (the testbed).
const applianceNone = "none"

// installedISO is where `make install` puts the appliance image, relative to the plugin's
// directory.
var installedISO = filepath.Join("docker-vic.d", "appliance.iso")

// defaultISOPaths are the places create looks for the installed appliance image: beside the
// plugin's binary, then in the cli-plugins directory of the Docker configuration.
func defaultISOPaths(configDir string) []string {
	var out []string
	if exe, err := os.Executable(); err == nil {
		out = append(out, filepath.Join(filepath.Dir(exe), installedISO))
	}
	return append(out, filepath.Join(configDir, "cli-plugins", installedISO))
}

// bootImage is the appliance image create attaches: a local file to upload, or a datastore
// path. Neither means host mode.
type bootImage struct {
	local, dsPath string
}

func (b bootImage) none() bool { return b.local == "" && b.dsPath == "" }

// resolveImage reads --appliance-iso: none, a datastore path, a local file, or empty for the
// installed image. Without one, it says on errOut that the endpoint VM will boot nothing.
func resolveImage(flag string, installed []string, errOut func(string)) (bootImage, error) {
	switch {
	case flag == applianceNone:
		return bootImage{}, nil
	case strings.HasPrefix(flag, "["):
		return bootImage{dsPath: flag}, nil
	case flag != "":
		st, err := os.Stat(flag)
		if err != nil || !st.Mode().IsRegular() {
			return bootImage{}, &config.Error{Flag: "--appliance-iso", Value: flag,
				Rule: `no such file: give a local ISO file, a datastore path such as "[datastore1] vic/appliance.iso", or none`}
		}
		return bootImage{local: flag}, nil
	}
	for _, p := range installed {
		if st, err := os.Stat(p); err == nil && st.Mode().IsRegular() {
			return bootImage{local: p}, nil
		}
	}
	errOut("warning: no appliance image is installed or given: the endpoint VM boots nothing (host mode); give --appliance-iso FILE, or --appliance-iso none to say so")
	return bootImage{}, nil
}

// opsFlags are the vSphere credentials the endpoint works with, as typed.
type opsFlags struct {
	user, password, file string
}

// envOpsPassword gives --ops-user's password when --ops-password does not, so that the password
// need not be on a command line.
const envOpsPassword = "VIC_OPS_PASSWORD"

func (o opsFlags) given() bool { return o.user != "" || o.password != "" || o.file != "" }

// refuseWithoutAppliance says that the endpoint's credentials have no use without the appliance.
func (o opsFlags) refuseWithoutAppliance() error {
	return o.refuse("the endpoint's credentials are for the appliance, and this endpoint VM boots none")
}

// refuseNewEndpoints says that configure hands credentials only to the new endpoints of an
// appliance swarm.
func (o opsFlags) refuseNewEndpoints() error {
	return o.refuse("configure hands credentials only to the endpoints an appliance VCH of several endpoints gains")
}

// refuse is the error of rule, naming the first of the flags given (never the password's value).
func (o opsFlags) refuse(rule string) error {
	switch {
	case o.user != "":
		return &config.Error{Flag: "--ops-user", Value: o.user, Rule: rule}
	case o.file != "":
		return &config.Error{Flag: "--ops-credentials-file", Value: o.file, Rule: rule}
	}
	return &config.Error{Flag: "--ops-password", Rule: rule}
}

// credentials returns the endpoint's vSphere credentials: from the flags, else from the file,
// else the creator's own (t).
func (o opsFlags) credentials(t *vsphere.Target) (guestinfo.Credentials, error) {
	if o.user != "" && o.password == "" {
		o.password = os.Getenv(envOpsPassword)
	}
	switch {
	case o.file != "" && (o.user != "" || o.password != ""):
		return guestinfo.Credentials{}, &config.Error{Flag: "--ops-credentials-file", Value: o.file, Rule: "give either the file or --ops-user and --ops-password, not both"}
	case o.file != "":
		return readOpsCredentials(o.file)
	case o.user != "" && o.password == "":
		return guestinfo.Credentials{}, &config.Error{Flag: "--ops-user", Value: o.user, Rule: "the user needs --ops-password or an --ops-credentials-file"}
	case o.user == "" && o.password != "":
		return guestinfo.Credentials{}, &config.Error{Flag: "--ops-password", Rule: "the password needs --ops-user"}
	case o.user != "":
		return guestinfo.Credentials{User: o.user, Password: o.password}, nil
	}
	return guestinfo.Credentials{User: t.User, Password: t.Password}, nil
}

// readOpsCredentials reads a credentials file as vic-endpoint and the testbed keep them:
// KEY=VALUE lines of VIC_USER and VIC_PASSWORD (or GOVC_USERNAME and GOVC_PASSWORD), blank
// lines and # comments. It holds a password, so a file open to group or others is refused.
func readOpsCredentials(path string) (guestinfo.Credentials, error) {
	bad := func(rule string) error {
		return &config.Error{Flag: "--ops-credentials-file", Value: path, Rule: rule}
	}
	f, err := os.Open(path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return guestinfo.Credentials{}, bad("no such file")
		}
		return guestinfo.Credentials{}, fmt.Errorf("reading the credentials file: %w", err)
	}
	defer f.Close()
	if st, err := f.Stat(); err == nil && runtime.GOOS != "windows" && st.Mode().Perm()&0o077 != 0 {
		return guestinfo.Credentials{}, bad(fmt.Sprintf("the file is open to group or others (mode %04o): chmod 600 it", st.Mode().Perm()))
	}
	var c guestinfo.Credentials
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		k, v, _ := strings.Cut(line, "=")
		v = strings.Trim(strings.TrimSpace(v), `"'`)
		switch strings.TrimSpace(k) {
		case vsphere.EnvUser, vsphere.EnvGovcUsername:
			c.User = v
		case vsphere.EnvPassword, vsphere.EnvGovcPassword:
			c.Password = v
		default:
			return guestinfo.Credentials{}, bad(fmt.Sprintf("line %d is not %s=VALUE or %s=VALUE", n, vsphere.EnvUser, vsphere.EnvPassword))
		}
	}
	if err := sc.Err(); err != nil {
		return guestinfo.Credentials{}, fmt.Errorf("reading the credentials file: %w", err)
	}
	if c.User == "" || c.Password == "" {
		return guestinfo.Credentials{}, bad(fmt.Sprintf("the file needs both %s and %s", vsphere.EnvUser, vsphere.EnvPassword))
	}
	return c, nil
}
