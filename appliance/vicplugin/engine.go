package vicplugin

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// Engine makes the few calls of a Docker engine's plugin API that the appliance needs, on the
// engine's unix socket: no docker CLI in the appliance.
type Engine struct {
	socket, execRoot string
	client           *http.Client
}

// NewEngine talks to the engine serving its API on socket, whose exec root is execRoot (the
// engine keeps each plugin's socket under execRoot/plugins/ID).
func NewEngine(socket, execRoot string) *Engine {
	return &Engine{socket: socket, execRoot: execRoot, client: &http.Client{Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, "unix", socket)
		},
	}}}
}

// ErrNotFound says that the engine has no plugin of the name.
var ErrNotFound = errors.New("no such plugin")

// Inspect returns the plugin name as the engine reports it, or nil when there is none.
func (e *Engine) Inspect(ctx context.Context, name string) (*Installed, error) {
	var p struct {
		ID       string `json:"Id"`
		Enabled  bool
		Settings struct {
			Mounts []struct{ Name, Source string }
			Env    []string
		}
		Config struct {
			Description string
			Interface   struct{ Socket string }
		}
	}
	err := e.call(ctx, http.MethodGet, "/plugins/"+url.PathEscape(name)+"/json", nil, "", 30*time.Second, &p)
	if errors.Is(err, ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("inspecting plugin %s: %w", name, err)
	}
	inst := &Installed{ID: p.ID, Enabled: p.Enabled, Description: p.Config.Description,
		Env: map[string]string{}, Mounts: map[string]string{}}
	if p.Config.Interface.Socket != "" && p.ID != "" {
		inst.Socket = filepath.Join(e.execRoot, "plugins", p.ID, p.Config.Interface.Socket)
	}
	for _, kv := range p.Settings.Env {
		k, v, _ := strings.Cut(kv, "=")
		inst.Env[k] = v
	}
	for _, m := range p.Settings.Mounts {
		inst.Mounts[m.Name] = m.Source
	}
	return inst, nil
}

// Serving reports whether the plugin is enabled and its socket exists: the engine reaches
// its drivers.
func Serving(inst *Installed) bool {
	if inst == nil || !inst.Enabled || inst.Socket == "" {
		return false
	}
	_, err := os.Stat(inst.Socket)
	return err == nil
}

// Create installs plugin name from directory dir (config.json and rootfs/), disabled.
func (e *Engine) Create(ctx context.Context, name, dir string) error {
	body := tarDir(dir)
	defer body.Close()
	q := url.Values{"name": {name}}
	if err := e.call(ctx, http.MethodPost, "/plugins/create?"+q.Encode(), body, "application/x-tar", 10*time.Minute, nil); err != nil {
		return fmt.Errorf("creating plugin %s from %s: %w", name, dir, err)
	}
	return nil
}

// Set changes the settings of the disabled plugin name.
func (e *Engine) Set(ctx context.Context, name string, settings []string) error {
	b, _ := json.Marshal(settings)
	if err := e.call(ctx, http.MethodPost, "/plugins/"+url.PathEscape(name)+"/set", strings.NewReader(string(b)), "application/json", 30*time.Second, nil); err != nil {
		return fmt.Errorf("setting plugin %s: %w", name, err)
	}
	return nil
}

// Enable enables plugin name, waiting up to timeout for its socket.
func (e *Engine) Enable(ctx context.Context, name string, timeout time.Duration) error {
	q := url.Values{"timeout": {fmt.Sprint(int(timeout.Seconds()))}}
	if err := e.call(ctx, http.MethodPost, "/plugins/"+url.PathEscape(name)+"/enable?"+q.Encode(), nil, "", timeout+30*time.Second, nil); err != nil {
		return fmt.Errorf("enabling plugin %s: %w", name, err)
	}
	return nil
}

// Disable disables plugin name, even while networks use it.
func (e *Engine) Disable(ctx context.Context, name string) error {
	if err := e.call(ctx, http.MethodPost, "/plugins/"+url.PathEscape(name)+"/disable?force=1", nil, "", time.Minute, nil); err != nil {
		return fmt.Errorf("disabling plugin %s: %w", name, err)
	}
	return nil
}

// Remove removes plugin name, even while enabled.
func (e *Engine) Remove(ctx context.Context, name string) error {
	if err := e.call(ctx, http.MethodDelete, "/plugins/"+url.PathEscape(name)+"?force=1", nil, "", time.Minute, nil); err != nil {
		return fmt.Errorf("removing plugin %s: %w", name, err)
	}
	return nil
}

// call sends one request with its own deadline and decodes the answer into out (when set),
// or returns the engine's message: ErrNotFound for a 404.
func (e *Engine) call(ctx context.Context, method, path string, body io.Reader, contentType string, timeout time.Duration, out any) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, "http://docker"+path, body)
	if err != nil {
		return err
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := e.client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode >= 300 {
		var m struct{ Message string }
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
		if json.Unmarshal(b, &m) != nil || m.Message == "" {
			m.Message = strings.TrimSpace(string(b))
		}
		if resp.StatusCode == http.StatusNotFound {
			return fmt.Errorf("%w: %s", ErrNotFound, m.Message)
		}
		return errors.New(m.Message)
	}
	if out == nil {
		io.Copy(io.Discard, resp.Body)
		return nil
	}
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		return fmt.Errorf("the engine's answer to %s %s: %w", method, path, err)
	}
	return nil
}
