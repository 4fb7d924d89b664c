package netdriver

import (
	"context"
	"io"
	"net"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/docker/go-plugins-helpers/network"
	"github.com/vishvananda/netlink"

	"github.com/docker-vic/docker-vic/endpoint/hostports"
	"github.com/docker-vic/docker-vic/endpoint/link"
	"github.com/docker-vic/docker-vic/endpoint/nat"
	"github.com/docker-vic/docker-vic/endpoint/testns"
)

// kernelDriver is a Driver wired as vic-endpoint wires it, to the real endpoint/link,
// endpoint/nat and endpoint/hostports, all working in the namespace ep. Its calls must run
// inside ep (ep.Do): the port holder binds, and route_localnet is written, in the namespace of
// the calling thread.
func kernelDriver(t *testing.T, ep *testns.NS) *Driver {
	t.Helper()
	_, store := openStore(t, filepath.Join(t.TempDir(), "state.db"))
	firewall, err := nat.NewApplier(public, nat.NamespaceRunner(ep.Name), nat.NftMaps(ep.Name))
	if err != nil {
		t.Fatal(err)
	}
	holder := hostports.NewHolder()
	t.Cleanup(holder.Close)
	d, err := New(Options{Store: store, Links: link.New(ep.Link), Firewall: firewall, Holder: holder,
		Public: public})
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// look runs a command inside ns, as a user on the endpoint would, and returns its output.
func look(t *testing.T, ns *testns.NS, args ...string) string {
	t.Helper()
	out, err := exec.Command("ip", append([]string{"netns", "exec", ns.Name}, args...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s: %v: %s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// Docker's calls for `docker network create -d vic`, `docker run -p 8080:80` and their removal,
// checked on what ip, nft and a client see on the endpoint.
func TestKernelDriverNetworkAndPublishedPort(t *testing.T) {
	ep, ctr := testns.New(t, "vnd"), testns.New(t, "vnd")
	d, ctx := kernelDriver(t, ep), context.Background()
	bridge, host, peer := link.BridgeName(netA), link.HostVethName(ep1), link.PeerName(ep1)
	do := func(what string, fn func() error) {
		t.Helper()
		if err := ep.Do(fn); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}
	do("creating the network", func() error {
		return d.CreateNetwork(ctx, createReq(netA, "172.20.0.0/16", "172.20.0.1/16", nil))
	})
	do("joining a container", func() error {
		req := &network.CreateEndpointRequest{NetworkID: netA, EndpointID: ep1, Interface: &network.EndpointInterface{Address: "172.20.0.2/16"}}
		if _, err := d.CreateEndpoint(ctx, req); err != nil {
			return err
		}
		_, err := d.Join(ctx, &network.JoinRequest{NetworkID: netA, EndpointID: ep1, SandboxKey: ctr.Path()})
		return err
	})
	do("publishing 8080:80", func() error {
		return d.ProgramExternalConnectivity(ctx, &network.ProgramExternalConnectivityRequest{NetworkID: netA, EndpointID: ep1, Options: portmap(tcp(8080, 80))})
	})

	if got := look(t, ep, "ip", "-o", "-4", "addr", "show", "dev", bridge); !strings.Contains(got, "inet 172.20.0.1/16") {
		t.Errorf("bridge %s should hold the gateway 172.20.0.1/16:\n%s", bridge, got)
	}
	if got := look(t, ep, "ip", "-o", "link", "show", "master", bridge); !strings.Contains(got, host+"@"+peer) {
		t.Errorf("bridge %s should have the veth %s@%s as a port:\n%s", bridge, host, peer, got)
	}
	table := look(t, ep, "nft", "list", "table", "ip", "vic")
	for _, want := range []string{"198.51.100.2 . 8080 : 172.20.0.2 . 80", "127.0.0.1 . 8080 : 172.20.0.2 . 80"} {
		if !strings.Contains(table, want) {
			t.Errorf("nft list table ip vic lacks the element %q:\n%s", want, table)
		}
	}
	listen8080 := func() error {
		l, err := net.Listen("tcp4", ":8080")
		if err == nil {
			l.Close()
		}
		return err
	}
	if err := ep.Do(listen8080); err == nil {
		t.Error("another process could listen on the published host port 8080")
	}

	// Docker moves the peer into the container; the published port then answers on loopback.
	l, err := ep.Link.LinkByName(peer)
	if err == nil {
		err = ep.Link.LinkSetNsFd(l, int(ctr.Handle))
	}
	if err != nil {
		t.Fatalf("moving %s into the container: %v", peer, err)
	}
	ctr.LinkUp(t, peer, "172.20.0.2/16")
	if err := ctr.Link.RouteAdd(&netlink.Route{Gw: net.ParseIP("172.20.0.1")}); err != nil {
		t.Fatal(err)
	}
	var srv net.Listener
	if err := ctr.Do(func() (err error) { srv, err = net.Listen("tcp4", ":80"); return err }); err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	go func() {
		for c, err := srv.Accept(); err == nil; c, err = srv.Accept() {
			_, _ = io.WriteString(c, "web")
			c.Close()
		}
	}()
	var answer []byte
	do("dialling 127.0.0.1:8080", func() error {
		c, err := net.DialTimeout("tcp4", "127.0.0.1:8080", 2*time.Second)
		if err != nil {
			return err
		}
		defer c.Close()
		_ = c.SetDeadline(time.Now().Add(2 * time.Second))
		answer, err = io.ReadAll(c)
		return err
	})
	if string(answer) != "web" {
		t.Errorf("127.0.0.1:8080 answered %q, want the container's %q", answer, "web")
	}

	// Docker's stop sequence leaves nothing behind.
	do("stopping the container and removing the network", func() error {
		if err := d.RevokeExternalConnectivity(ctx, &network.RevokeExternalConnectivityRequest{NetworkID: netA, EndpointID: ep1}); err != nil {
			return err
		}
		if err := d.Leave(ctx, &network.LeaveRequest{NetworkID: netA, EndpointID: ep1}); err != nil {
			return err
		}
		if err := d.DeleteEndpoint(ctx, &network.DeleteEndpointRequest{NetworkID: netA, EndpointID: ep1}); err != nil {
			return err
		}
		return d.DeleteNetwork(ctx, &network.DeleteNetworkRequest{NetworkID: netA})
	})
	if got := look(t, ep, "ip", "-o", "link", "show"); strings.Contains(got, bridge) || strings.Contains(got, host) {
		t.Errorf("links left behind:\n%s", got)
	}
	if got := look(t, ep, "nft", "list", "table", "ip", "vic"); strings.Contains(got, ". 8080 :") {
		t.Errorf("the published port is still in the table:\n%s", got)
	}
	do("listening on the freed port 8080", listen8080)
}
