package vicinit

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"time"

	"github.com/docker-vic/docker-vic/api/guestinfo"
	"github.com/docker-vic/docker-vic/appliance/vicplugin"
)

// The managed plugin of an endpoint of a VCH of several endpoints (a swarm accepts managed
// plugins only): its directory on the CD, dockerd's exec root (the plugins' sockets are
// under it), and the host directory of the plugin's config mount, which holds the vSphere
// credentials file and nothing else (never the TLS key).
const (
	pluginDir       = VicDir + "/plugin"
	dockerExecRoot  = "/run/docker"
	pluginConfigDir = RunDir + "/plugin-config"
)

// How long dockerd waits for the plugin's credentials before it starts without them, and how
// long a plugin may stay enabled without its socket before vic-init disables and enables it.
const (
	credentialsWait = 60 * time.Second
	pluginStuck     = 2 * time.Minute
)

// startSwarm starts dockerd and the vic drivers as the managed plugin in dockerd, on an
// endpoint of a VCH of several endpoints. At a reboot dockerd enables the installed plugin as
// it starts, so the credentials file is written first: at a reboot the sealed credentials are
// in guestinfo already, and at the first boot they come with the signed certificate.
func (s *services) startSwarm() {
	in := s.in
	upper, cancelUpper := context.WithCancel(context.Background())
	s.upper = cancelUpper
	creds := make(chan struct{})
	s.upperWG.Add(2)
	go func() {
		defer s.upperWG.Done()
		ok := s.awaitCredentials(upper, filepath.Join(pluginConfigDir, "credentials"))
		close(creds)
		if ok {
			s.runPlugin(upper)
		}
	}()
	go func() {
		defer s.upperWG.Done()
		select {
		case <-creds:
		case <-time.After(credentialsWait):
			in.log.Printf("the vSphere credentials have not come after %s: starting dockerd without them", credentialsWait)
		case <-upper.Done():
			return
		}
		in.procs.Supervise(upper, "dockerd", func() *exec.Cmd { return exec.Command("dockerd", s.dockerdArgs()...) }, DefaultBackoff, stopGrace, nil)
	}()
}

// runPlugin keeps the vic plugin installed, set for this VCH and enabled in dockerd, through
// its API, until ctx ends; the endpoint state says serving once the plugin's socket exists.
func (s *services) runPlugin(ctx context.Context) {
	in := s.in
	stateDir := filepath.Join(DataDir, "vic") // the legacy daemon's state directory
	want, err := vicplugin.ReadWant(vicplugin.Name, pluginDir, vicplugin.Settings(in.cfg, stateDir, pluginConfigDir))
	if err == nil {
		err = os.MkdirAll(stateDir, 0o700)
	}
	if err != nil {
		s.setEndpoint(fmt.Sprintf("not started: %v", err))
		in.log.Printf("vic plugin: %v", err)
		return
	}
	eng := vicplugin.NewEngine(dockerSocket, dockerExecRoot)
	var stuck time.Time // since when the plugin is enabled without its socket
	failWait := time.Second
	for ctx.Err() == nil {
		every := time.Second
		if _, err := dockerVersion(ctx); err != nil {
			s.pluginState("waiting for dockerd to install the vic plugin")
			sleepCtx(ctx, every)
			continue
		}
		inst, err := vicplugin.Ensure(ctx, eng, want, func(step vicplugin.Step, why string) {
			in.log.Printf("vic plugin: %s: %s", step, why)
			s.pluginState(stepState[step])
		})
		switch {
		case ctx.Err() != nil:
		case err != nil:
			// Each try starts the plugin: wait longer after each failure.
			s.pluginState(fmt.Sprintf("the vic plugin is not serving: %v", err))
			failWait = min(2*failWait, 30*time.Second)
			every = failWait
		case vicplugin.Serving(inst):
			s.pluginState(guestinfo.EndpointServing)
			stuck, every, failWait = time.Time{}, 5*time.Second, time.Second
		case stuck.IsZero():
			stuck = time.Now()
			s.pluginState("the vic plugin is enabled: waiting for its socket")
		case time.Since(stuck) > pluginStuck:
			in.log.Printf("vic plugin: enabled without its socket for %s: disabling and enabling it", pluginStuck)
			if err := vicplugin.Restart(ctx, eng, want.Name); err != nil {
				s.pluginState(fmt.Sprintf("the vic plugin is not serving: %v", err))
			}
			stuck = time.Time{}
		}
		sleepCtx(ctx, every)
	}
}

// stepState is the endpoint state while a step runs.
var stepState = map[vicplugin.Step]string{
	vicplugin.Install:     "installing the vic plugin",
	vicplugin.Replace:     "installing the vic plugin of this appliance's version",
	vicplugin.Reconfigure: "setting the vic plugin for this VCH",
	vicplugin.Enable:      "enabling the vic plugin",
}

// pluginState sets the endpoint state, logging each change.
func (s *services) pluginState(state string) {
	s.mu.Lock()
	changed := s.endpoint != state
	s.endpoint = state
	s.mu.Unlock()
	if changed {
		s.in.log.Printf("vic plugin: %s", state)
	}
}
