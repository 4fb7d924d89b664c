package main

import (
	"bytes"
	"context"
	"testing"

	"gotest.tools/v3/assert"
)

func TestPsListsContainersOnVicNetworks(t *testing.T) {
	fetch := socketFetcher{path: serveEndpoint(t, testPorts), command: "ps"}
	tests := []struct {
		name string
		opts psOptions
		want string
	}{{
		name: "Running",
		want: "" +
			"CONTAINER ID   NAME      NETWORK   ADDRESS      PORTS\n" +
			"c0ffee000002   db        front     172.16.0.3   \n" +
			"c0ffee000001   web       front     172.16.0.2   127.0.0.1:5353->53/udp, 198.51.100.2:8080->80/tcp, 127.0.0.1:8080->80/tcp, 198.51.100.2:8443->443/tcp\n",
	}, {
		name: "All",
		opts: psOptions{all: true, format: "table {{.Name}}\t{{.Address}}\t{{.State}}"},
		want: "" +
			"NAME      ADDRESS      STATE\n" +
			"db        172.16.0.3   running\n" +
			"old       -            exited\n" +
			"web       172.16.0.2   running\n",
	}, {
		name: "Template",
		opts: psOptions{format: "{{.Name}} {{.Ports}}"},
		want: "db \nweb 127.0.0.1:5353->53/udp, 198.51.100.2:8080->80/tcp, 127.0.0.1:8080->80/tcp, 198.51.100.2:8443->443/tcp\n",
	}, {
		name: "JSON",
		opts: psOptions{format: "json"},
		want: `{"ID":"c0ffee000002","Name":"db","Network":"front","Address":"172.16.0.3","Ports":"","State":"running"}` + "\n" +
			`{"ID":"c0ffee000001","Name":"web","Network":"front","Address":"172.16.0.2","Ports":"127.0.0.1:5353-\u003e53/udp, 198.51.100.2:8080-\u003e80/tcp, 127.0.0.1:8080-\u003e80/tcp, 198.51.100.2:8443-\u003e443/tcp","State":"running"}` + "\n",
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out bytes.Buffer
			assert.NilError(t, runPs(context.Background(), &out, testDocker(), fetch, &tt.opts))
			assert.Equal(t, out.String(), tt.want)
		})
	}
}

func TestPsEndpointUnreachable(t *testing.T) {
	var out bytes.Buffer
	err := runPs(context.Background(), &out, testDocker(), socketFetcher{path: "/nonexistent/vic.sock", command: "ps"}, &psOptions{})
	assert.Error(t, err, "the vic endpoint is not reachable at /nonexistent/vic.sock: run docker vic ps on the VCH endpoint, where vic-endpoint runs")
}
