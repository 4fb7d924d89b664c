package main

import (
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/docker-vic/docker-vic/endpoint/daemon"
	"gotest.tools/v3/assert"
)

func TestParseOptions(t *testing.T) {
	tests := []struct {
		args    []string
		wantErr string
	}{
		{args: []string{"--config", "f", "--uplink", "A=eth0", "--uplink", "B=eth1"}},
		{args: []string{"--config", "f", "--uplink", "A"}, wantErr: `--uplink "A" must be PORTGROUP=INTERFACE`},
		{args: []string{"--config", "f", "--uplink", "A=eth0", "--uplink", "A=eth1"}, wantErr: `--uplink maps port group "A" twice, to "eth0" and "eth1"`},
		{args: []string{"--config", "f", "--log-level", "trace"}, wantErr: `--log-level "trace" must be debug, info or warn`},
		{args: []string{}, wantErr: "no VCH to serve: give --config FILE, or --vch NAME with --target"},
		{args: []string{"--config", "f", "--target", "vc"}, wantErr: "--config and --target exclude each other: the configuration comes from one of them"},
		{args: []string{"--config", "f", "--watch-interval", "0s"}, wantErr: "--watch-interval 0s must be positive"},
		{args: []string{"--config", "f", "--config-interval", "-1s"}, wantErr: "--config-interval -1s must be positive"},
		{args: []string{"--config", "f", "serve"}, wantErr: `unexpected argument "serve": vic-endpoint takes flags only, or the teardown subcommand`},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			o, level, err := parseOptions(tt.args, &strings.Builder{})
			if tt.wantErr != "" {
				assert.Error(t, err, tt.wantErr)
				return
			}
			assert.NilError(t, err)
			assert.Equal(t, o.Source.File, "f")
			assert.Equal(t, o.StateDir, "/var/lib/vic")
			assert.Equal(t, o.Socket, "/run/docker/plugins/vic.sock")
			assert.Equal(t, len(o.Uplinks), 2)
			assert.Equal(t, o.WatchInterval, 2*time.Second)
			assert.Equal(t, o.ConfigInterval, daemon.DefaultConfigInterval)
			assert.Equal(t, o.Version, version)
			assert.Equal(t, level, slog.LevelInfo)
		})
	}
}

// TestRunExitStatus: help is a success; a usage error is status 1 with one sentence.
func TestRunExitStatus(t *testing.T) {
	tests := []struct {
		args       []string
		wantStatus int
		wantStderr string
	}{
		{args: []string{"--help"}, wantStatus: 0, wantStderr: "--uplink PG=IFACE"},
		{args: []string{"teardown", "--help"}, wantStatus: 0, wantStderr: "--state-dir"},
		{args: []string{"--log-level", "trace", "--config", "f"}, wantStatus: 1, wantStderr: "vic-endpoint: --log-level \"trace\" must be debug, info or warn\n"},
		{args: []string{"teardown", "now"}, wantStatus: 1, wantStderr: "vic-endpoint: unexpected argument \"now\": teardown takes --state-dir only\n"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			var stderr strings.Builder
			assert.Equal(t, run(context.Background(), tt.args, &stderr), tt.wantStatus)
			if tt.wantStatus == 0 {
				assert.Assert(t, strings.Contains(stderr.String(), tt.wantStderr), "usage:\n%s", stderr.String())
				return
			}
			assert.Equal(t, stderr.String(), tt.wantStderr)
		})
	}
}
