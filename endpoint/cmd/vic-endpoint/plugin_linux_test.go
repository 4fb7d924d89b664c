package main

import (
	"strings"
	"testing"

	"gotest.tools/v3/assert"
)

// TestPluginArgs: the managed plugin's settings become the daemon's flags, which it accepts.
func TestPluginArgs(t *testing.T) {
	base := "--socket /run/docker/plugins/vic.sock --state-dir /var/lib/vic --teardown-when-idle"
	tests := []struct {
		env     map[string]string
		want    string
		wantErr string
	}{
		{env: map[string]string{"VIC_CONFIG": "/etc/docker-vic/vch.json", "VIC_UPLINKS": "Docker-Public=pub, VIC-Bridge=br", "VIC_LOG_LEVEL": "debug"},
			want: base + " --driver-name vic:latest --config /etc/docker-vic/vch.json --uplink Docker-Public=pub --uplink VIC-Bridge=br --log-level debug"},
		{env: map[string]string{"VIC_VCH": "vch1", "VIC_TARGET": "https://vc/sdk", "VIC_CREDENTIALS": "/etc/docker-vic/credentials",
			"VIC_DATACENTER": "DC0", "VIC_INSECURE": "true", "VIC_DRIVER_NAME": "docker-vic/vic:1.0"},
			want: base + " --driver-name docker-vic/vic:1.0 --vch vch1 --target https://vc/sdk --credentials /etc/docker-vic/credentials --datacenter DC0 --insecure"},
		{env: map[string]string{}, wantErr: "the plugin has no VCH to serve: docker plugin set it VIC_VCH=NAME VIC_TARGET=URL VIC_CREDENTIALS=FILE, or VIC_CONFIG=FILE"},
		{env: map[string]string{"VIC_VCH": "vch1", "VIC_TARGET": "vc"}, wantErr: "plugin setting VIC_CREDENTIALS is empty: it must name the root-only file of the vSphere login in the plugin's config mount"},
		{env: map[string]string{"VIC_CONFIG": "f", "VIC_TARGET": "vc"}, wantErr: "plugin settings VIC_CONFIG and VIC_TARGET exclude each other: set one of them to the empty string"},
		{env: map[string]string{"VIC_CONFIG": "f", "VIC_DATACENTER": "DC0"}, wantErr: "plugin setting VIC_DATACENTER goes with VIC_TARGET, not VIC_CONFIG: set it to the empty string"},
		{env: map[string]string{"VIC_CONFIG": "f", "VIC_INSECURE": "maybe"}, wantErr: `plugin setting VIC_INSECURE "maybe" must be true or false`},
		{env: map[string]string{"VIC_CONFIG": "/etc/docker-vic/vch.json", "VIC_SWARM": "true"},
			want: base + " --driver-name vic:latest --config /etc/docker-vic/vch.json --swarm"},
		{env: map[string]string{"VIC_CONFIG": "f", "VIC_SWARM": "sometimes"}, wantErr: `plugin setting VIC_SWARM "sometimes" must be true or false`},
	}
	for _, tt := range tests {
		t.Run(tt.want+tt.wantErr, func(t *testing.T) {
			args, err := pluginArgs(func(k string) string { return tt.env[k] })
			if tt.wantErr != "" {
				assert.Error(t, err, tt.wantErr)
				return
			}
			assert.NilError(t, err)
			assert.Equal(t, strings.Join(args, " "), tt.want)
			if tt.env["VIC_CONFIG"] != "" {
				o, _, err := parseOptions(args, &strings.Builder{})
				assert.NilError(t, err)
				assert.Equal(t, o.DriverName, "vic:latest")
				assert.Equal(t, len(o.Uplinks), strings.Count(tt.want, "--uplink"))
				assert.Equal(t, o.Swarm, tt.env["VIC_SWARM"] == "true")
			}
		})
	}
}

// TestRunPluginRefusesArguments: the plugin mode reads the environment only.
func TestRunPluginRefusesArguments(t *testing.T) {
	var stderr strings.Builder
	assert.Equal(t, run(t.Context(), []string{"plugin", "--vch", "x"}, &stderr), 1)
	assert.Equal(t, stderr.String(), "vic-endpoint: unexpected argument \"--vch\": the plugin mode takes its settings from the environment only\n")
}
