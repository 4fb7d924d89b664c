//go:build linux

package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/netip"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/docker-vic/docker-vic/api/vchdoc"
)

// vsphere is where the testbed's vcsim serves.
type vsphere struct {
	// target is the SDK URL with the user and password.
	target     *url.URL
	thumbprint string
}

// bare is the target without user and password, for command lines and messages.
func (vs vsphere) bare() string {
	u := *vs.target
	u.User = nil
	return u.String()
}

// startVcsim starts bin/vcsim with the port groups on a free port of address ip and reads
// where it serves from its first line. That line holds the password, so vcsim.out is root-only.
// A password, when given, reaches vcsim in its environment; "" keeps vcsim's default.
func (tb *testbed) startVcsim(ip netip.Addr, password string, clusterHosts int) (vsphere, error) {
	out, err := createPrivate(tb.path("vcsim.out"), false)
	if err != nil {
		return vsphere{}, err
	}
	defer out.Close()
	logFile, err := createPrivate(tb.path("vcsim.log"), false)
	if err != nil {
		return vsphere{}, err
	}
	defer logFile.Close()
	args := []string{"--listen", netip.AddrPortFrom(ip, 0).String(), "--pidfile", tb.path("vcsim.pid"),
		"--cluster-hosts", strconv.Itoa(clusterHosts)}
	for _, pg := range portGroups {
		args = append(args, "--portgroup", pg)
	}
	cmd := exec.Command(filepath.Join(tb.bin, "vcsim"), args...)
	if password != "" {
		cmd.Env = append(os.Environ(), "VCSIM_PASSWORD="+password) // not in ps, as --password would be
	}
	cmd.Stdout, cmd.Stderr = out, logFile
	exited, err := startDetached(cmd)
	if err != nil {
		return vsphere{}, err
	}
	for range 100 {
		b, _ := os.ReadFile(tb.path("vcsim.out"))
		if line, _, ok := strings.Cut(string(b), "\n"); ok {
			return parseVcsimLine(line)
		}
		select {
		case <-exited:
			return vsphere{}, fmt.Errorf("vcsim stopped before it served: %s", firstLine(readString(tb.path("vcsim.log"))))
		case <-time.After(100 * time.Millisecond):
		}
	}
	return vsphere{}, fmt.Errorf("vcsim printed no export line within 10 s")
}

// parseVcsimLine reads `export VIC_TARGET=... VIC_THUMBPRINT=...`.
func parseVcsimLine(line string) (vsphere, error) {
	vars, err := parseExports(line)
	if err != nil {
		return vsphere{}, fmt.Errorf("reading vcsim's export line: %w", err)
	}
	u, err := url.Parse(vars["VIC_TARGET"])
	if err != nil || u.Host == "" || u.User == nil {
		return vsphere{}, fmt.Errorf("vcsim's export line has no VIC_TARGET with a user")
	}
	if vars["VIC_THUMBPRINT"] == "" {
		return vsphere{}, fmt.Errorf("vcsim's export line has no VIC_THUMBPRINT")
	}
	return vsphere{target: u, thumbprint: vars["VIC_THUMBPRINT"]}, nil
}

// credentials is the root-only KEY=VALUE file vic-endpoint reads the vSphere login from.
func credentials(vs vsphere) []byte {
	pass, _ := vs.target.User.Password()
	return []byte("VIC_USER=" + vs.target.User.Username() + "\nVIC_PASSWORD=" + pass + "\n")
}

// installPlugin puts bin/docker-vic into the testbed's own DOCKER_CONFIG: no Docker context and
// no plugin of the user's is touched.
func (tb *testbed) installPlugin() error {
	src := filepath.Join(tb.bin, "docker-vic")
	dir := filepath.Join(tb.path("docker"), "cli-plugins")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("making plugin directory %q: %w", dir, err)
	}
	in, err := os.Open(src)
	if err != nil {
		return fmt.Errorf("installing the docker-vic plugin: %w", err)
	}
	defer in.Close()
	dst := filepath.Join(dir, "docker-vic")
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o755)
	if err != nil {
		return fmt.Errorf("installing plugin %q: %w", dst, err)
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return fmt.Errorf("installing plugin %q: %w", dst, err)
	}
	if err := out.Close(); err != nil {
		return fmt.Errorf("installing plugin %q: %w", dst, err)
	}
	return nil
}

// dockerVic is a `docker vic` command against the testbed's vcsim, with its plugin.
func (tb *testbed) dockerVic(ctx context.Context, vs vsphere, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, "docker", append([]string{"vic"}, args...)...)
	cmd.Env = append(os.Environ(), "DOCKER_CONFIG="+tb.path("docker"),
		"VIC_TARGET="+vs.target.String(), "VIC_THUMBPRINT="+vs.thumbprint)
	return cmd
}

// createArgs are the flags of `docker vic create` for the testbed's VCH.
func createArgs() []string {
	args := []string{"create", "--name", vchName, "--compute-resource", "/DC0/host/DC0_C0",
		"--public-network", publicPG, "--public-network-ip", publicAddr.String(),
		"--public-network-gateway", publicGW.String(),
		"--bridge-network", bridgePG,
		"--client-network", clientPG, "--client-network-ip", clientAddr.String(),
		"--management-network", mgmtPG, "--management-network-ip", mgmtAddr.String()}
	for _, c := range containerNets {
		args = append(args, "--container-network", c.PortGroup+":"+c.Alias,
			"--container-network-firewall", c.PortGroup+":"+c.Firewall)
		if !c.dhcp() {
			args = append(args, "--container-network-gateway", c.PortGroup+":"+c.Gateway.String(),
				"--container-network-ip-range", c.PortGroup+":"+c.Range)
		}
	}
	// The testbed runs dockerd and vic-endpoint on this machine: the endpoint VM boots nothing.
	return append(args, "--no-context", "--appliance-iso", "none", "--timeout", "2m")
}

// createVCH runs the real `docker vic create`; its output goes to create.log.
func (tb *testbed) createVCH(ctx context.Context, vs vsphere) error {
	logFile, err := createPrivate(tb.path("create.log"), false)
	if err != nil {
		return err
	}
	defer logFile.Close()
	cmd := tb.dockerVic(ctx, vs, createArgs()...)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	if err := cmd.Run(); err != nil {
		fmt.Fprintln(tb.stderr, tail(tb.path("create.log"), 20))
		return fmt.Errorf("docker vic create %s: %w", vchName, err)
	}
	return nil
}

// inspectNICs reads the endpoint VM's NICs from vSphere.
func (tb *testbed) inspectNICs(ctx context.Context, vs vsphere) ([]vchdoc.NIC, error) {
	var stderr strings.Builder
	cmd := tb.dockerVic(ctx, vs, "inspect", vchName, "--format", "json")
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("docker vic inspect %s: %w: %s", vchName, err, firstLine(stderr.String()))
	}
	return parseNICs(out)
}

func parseNICs(inspect []byte) ([]vchdoc.NIC, error) {
	v, err := vchdoc.Decode(bytes.NewReader(inspect))
	if err != nil {
		return nil, fmt.Errorf("reading the NICs of VCH %q: %w", vchName, err)
	}
	return v.NICs, nil
}

func readString(path string) string {
	b, _ := os.ReadFile(path)
	return string(b)
}
