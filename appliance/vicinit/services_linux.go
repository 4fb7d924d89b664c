package vicinit

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"time"

	"github.com/docker-vic/docker-vic/api/guestinfo"
	"github.com/docker-vic/docker-vic/api/vchdoc"
	"github.com/docker-vic/docker-vic/config"
	"github.com/docker-vic/docker-vic/endpoint/driverapi"
)

// Where the services keep their files.
const (
	dockerSocket     = "/run/docker.sock"
	containerdSocket = "/run/containerd/containerd.sock"
	credentialsFile  = RunDir + "/credentials"
	// stopGrace is how long dockerd and vic-endpoint get to stop: dockerd stops the containers.
	stopGrace = 20 * time.Second
)

// services are the supervised daemons: containerd, dockerd and vic-endpoint.
type services struct {
	in    *Init
	files TLSFiles

	// dockerd and vic-endpoint stop before containerd.
	upper, lower     context.CancelFunc
	upperWG, lowerWG sync.WaitGroup
	mu               sync.Mutex
	endpoint         string // the vic drivers' state for the status
	// swarm says that the vic drivers run as the managed plugin in dockerd (startSwarm).
	swarm bool
}

// startContainerd starts supervising containerd.
func (s *services) startContainerd() {
	in := s.in
	lower, cancelLower := context.WithCancel(context.Background())
	s.lower = cancelLower
	s.lowerWG.Add(1)
	go func() {
		defer s.lowerWG.Done()
		args := []string{"--root", filepath.Join(DataDir, "containerd"), "--address", containerdSocket}
		if err := os.WriteFile(containerdConfig, []byte(containerdTOML), 0o644); err != nil {
			in.log.Printf("writing %s: %v; containerd starts with all its plugins", containerdConfig, err)
		} else {
			args = append(args, "--config", containerdConfig)
		}
		in.procs.Supervise(lower, "containerd", func() *exec.Cmd { return exec.Command("containerd", args...) }, DefaultBackoff, stopGrace, nil)
	}()
}

// containerdConfig is containerd's configuration, written at each boot.
const containerdConfig = RunDir + "/containerd.toml"

// containerdTOML leaves out the plugins dockerd does not use: dockerd 20.10 keeps the images
// in its own storage driver and asks containerd only to run the containers, and Kubernetes'
// CRI has no place on a VCH. Under emulation they cost a second of each boot.
const containerdTOML = `version = 2
disabled_plugins = ["io.containerd.grpc.v1.cri", "io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.btrfs",
  "io.containerd.snapshotter.v1.devmapper", "io.containerd.snapshotter.v1.zfs"]
`

// start starts supervising dockerd and the vic drivers, once containerd runs. A VCH of one
// endpoint runs them as vic-endpoint, the legacy plugin, each daemon after the other (see
// restoring); an endpoint of a VCH of several runs them as the managed plugin in dockerd
// (startSwarm).
func (s *services) start() {
	in := s.in
	if s.swarm = in.cfg.EndpointCount() > 1; s.swarm {
		s.startSwarm()
		return
	}
	upper, cancelUpper := context.WithCancel(context.Background())
	s.upper = cancelUpper
	restoring := s.restoring()
	s.upperWG.Add(2)
	go func() {
		defer s.upperWG.Done()
		if !restoring {
			s.await(upper, "the Docker API", dockerWait, func() bool { _, err := dockerVersion(upper); return err == nil })
		}
		s.runEndpoint(upper)
	}()
	go func() {
		// Waits here, not in start: a power-off must not wait for the other's head start.
		defer s.upperWG.Done()
		if restoring {
			s.await(upper, "vic-endpoint's socket", endpointWait, func() bool { _, err := os.Stat(driverapi.DefaultSocket); return err == nil })
		}
		if upper.Err() != nil {
			return
		}
		in.procs.Supervise(upper, "dockerd", func() *exec.Cmd { return exec.Command("dockerd", s.dockerdArgs()...) }, DefaultBackoff, stopGrace, nil)
	}()
}

// How long one daemon waits for the other before it starts anyway.
const (
	endpointWait = 45 * time.Second
	dockerWait   = 60 * time.Second
)

// restoring reports whether vic-endpoint served before: its state directory holds the VCH's
// configuration. Then vic-endpoint starts first and dockerd when its socket appears: Docker
// restores the containers of vic networks only when the plugin answers, as vic-endpoint's
// systemd unit orders it before docker.service. At the first boot there is nothing to restore:
// dockerd starts first and vic-endpoint once the Docker API answers, so that the two large
// daemons do not share the boot's CPU (the Docker API answers seconds sooner under
// emulation), and a request for the vic drivers waits for them in dockerd meanwhile.
func (s *services) restoring() bool {
	_, err := os.Stat(filepath.Join(DataDir, "vic", vchdoc.StoredFile))
	return err == nil
}

// await polls ready until it holds, ctx ends or wait passes, saying so then.
func (s *services) await(ctx context.Context, what string, wait time.Duration, ready func() bool) {
	deadline := time.Now().Add(wait)
	for time.Now().Before(deadline) && ctx.Err() == nil {
		if ready() {
			return
		}
		time.Sleep(200 * time.Millisecond)
	}
	if ctx.Err() == nil {
		s.in.log.Printf("%s does not answer after %s: starting without it", what, wait)
	}
}

// dockerdArgs serve the Docker API on the unix socket and, with TLS and client certificates,
// on the client address; dockerd's containers get the VCH's DNS servers.
func (s *services) dockerdArgs() []string {
	client := s.in.roleAddrs[config.RoleClient].Addr()
	args := []string{
		"--containerd", containerdSocket,
		"--data-root", filepath.Join(DataDir, "docker"),
		"-H", "unix://" + dockerSocket,
		"-H", fmt.Sprintf("tcp://%s", net.JoinHostPort(client.String(), fmt.Sprint(config.DockerTLSPort))),
		"--tlsverify", "--tlscacert", s.files.ClientCA, "--tlscert", s.files.Cert, "--tlskey", s.files.Key,
	}
	for _, d := range s.in.dns {
		args = append(args, "--dns", d.String())
	}
	return args
}

// awaitCredentials waits for the vSphere credentials and writes them to path, the vic
// drivers' credentials file. It returns false when there is nothing to serve or ctx ended.
func (s *services) awaitCredentials(ctx context.Context, path string) bool {
	if s.in.cfg.Server.URL == "" {
		s.setEndpoint("not started: the configuration names no vSphere target")
		return false
	}
	s.setEndpoint("waiting for the vSphere credentials")
	for {
		key, _, err := LoadOrCreateKey(s.files.Key)
		if err == nil {
			err = WaitCredentials(ctx, s.in.ch, key, path)
		}
		if err == nil {
			return true
		}
		if ctx.Err() != nil {
			return false
		}
		s.setEndpoint(fmt.Sprintf("not started: %v", err))
		if sleepCtx(ctx, 5*time.Second) != nil {
			return false
		}
	}
}

// runEndpoint waits for the vSphere credentials, then supervises vic-endpoint.
func (s *services) runEndpoint(ctx context.Context) {
	in := s.in
	cfg := in.cfg
	if !s.awaitCredentials(ctx, credentialsFile) {
		return
	}
	args := []string{"--vch", cfg.Name, "--target", cfg.Server.URL, "--datacenter", cfg.Placement.Datacenter,
		"--credentials", credentialsFile, "--state-dir", filepath.Join(DataDir, "vic")}
	if cfg.Server.Thumbprint != "" {
		args = append(args, "--thumbprint", cfg.Server.Thumbprint)
	}
	if cfg.Server.Insecure {
		args = append(args, "--insecure")
	}
	s.setEndpoint("starting")
	in.procs.Supervise(ctx, "vic-endpoint", func() *exec.Cmd {
		return exec.Command(filepath.Join(VicDir, "vic-endpoint"), args...)
	}, DefaultBackoff, stopGrace, func(err error) { s.setEndpoint(fmt.Sprintf("restarting: %v", err)) })
}

func (s *services) setEndpoint(state string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.endpoint = state
}

// endpointState is the vic drivers' state: serving once their plugin socket exists.
func (s *services) endpointState() string {
	s.mu.Lock()
	state := s.endpoint
	s.mu.Unlock()
	if !s.swarm && s.in.procs.Running("vic-endpoint") {
		if _, err := os.Stat(driverapi.DefaultSocket); err == nil {
			return guestinfo.EndpointServing
		}
		return "starting: waiting for vSphere or for its socket"
	}
	return state
}

// fastWatch is how long after vic-init's start watch polls each PollInterval at most: create
// waits 5 minutes by default.
const fastWatch = 10 * time.Minute

// watch reports ready once the Docker API answers, then keeps the status current.
func (s *services) watch(ctx context.Context, start time.Time) {
	in := s.in
	ready := false
	for ctx.Err() == nil {
		version, err := dockerVersion(ctx)
		ep := s.endpointState()
		switch {
		case err == nil && !ready:
			ready = true
			in.log.Printf("the Docker API answers %.1fs after vic-init started", time.Since(start).Seconds())
			in.rep.Set(ctx, func(st *guestinfo.Status) { st.Docker, st.Endpoint = version, ep })
			in.rep.Phase(ctx, guestinfo.PhaseReady, fmt.Sprintf("the Docker API answers on tcp://%s:%d", in.roleAddrs[config.RoleClient].Addr(), config.DockerTLSPort))
		case err != nil && ready:
			ready = false
			in.rep.Phase(ctx, guestinfo.PhaseDocker, fmt.Sprintf("dockerd does not answer: %v", err))
		default:
			in.rep.Set(ctx, func(st *guestinfo.Status) { st.Endpoint = ep })
		}
		// Often while create may wait for the Docker API and then the vic drivers; then every
		// 5 s, even when vic-endpoint never serves (its state tells why).
		every := PollInterval
		if (ready && ep == guestinfo.EndpointServing) || time.Since(start) > fastWatch {
			every = 5 * time.Second
		}
		sleepCtx(ctx, every)
	}
}

// dockerClient asks dockerd on its unix socket, on one connection kept for the life of vic-init.
var dockerClient = &http.Client{Timeout: 3 * time.Second, Transport: &http.Transport{
	DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, "unix", dockerSocket)
	},
	MaxIdleConns: 1,
}}

// dockerVersion asks dockerd for its version.
func dockerVersion(ctx context.Context) (string, error) {
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://docker/version", nil)
	resp, err := dockerClient.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	var v struct{ Version string }
	if err := json.NewDecoder(resp.Body).Decode(&v); err != nil {
		return "", fmt.Errorf("dockerd's /version: %w", err)
	}
	return v.Version, nil
}

// stop stops dockerd and vic-endpoint, then containerd: whichever started.
func (s *services) stop() {
	if s.upper != nil {
		s.upper()
		s.upperWG.Wait()
	}
	if s.lower != nil {
		s.lower()
		s.lowerWG.Wait()
	}
}
