package main

import (
	"strings"
	"testing"

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
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			o, err := parseOptions(tt.args, &strings.Builder{})
			if tt.wantErr != "" {
				assert.Error(t, err, tt.wantErr)
				return
			}
			assert.NilError(t, err)
			assert.Equal(t, o.stateDir, "/var/lib/vic")
			assert.Equal(t, o.socket, "/run/docker/plugins/vic.sock")
			assert.Equal(t, len(o.uplinks), 2)
		})
	}
}
