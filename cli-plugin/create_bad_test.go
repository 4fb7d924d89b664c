package main

import (
	"os"
	"strings"
	"testing"

	"gotest.tools/v3/assert"
)

// TestCreateBadInput gives create one bad value at a time and checks the message and that
// nothing was created: no VM, pool, folder, TLS directory or Docker context.
func TestCreateBadInput(t *testing.T) {
	e := newTestEnv(t)
	before := e.inventory()
	long := strings.Repeat("v", 32)
	cases := []struct {
		name string
		args []string
		want string
	}{
		{"no-name", nil, `invalid --name: a VCH needs a name`},
		{"name-too-long", []string{"--name", long}, `invalid --name "` + long + `": a VCH name has at most 31 characters, this one has 32`},
		{"name-slash", []string{"--name", "vch/1"}, `invalid --name "vch/1": a VCH name cannot contain '/' (nor any of %&*$#@!\/:?"<>;'|)`},
		{"name-quote", []string{"--name", `vch"1`}, `invalid --name "vch\"1": a VCH name cannot contain '"' (nor any of %&*$#@!\/:?"<>;'|)`},
		{"name-dot-dot", []string{"--name", ".."}, `invalid --name "..": a VCH name is also the name of its Docker context: at least 2 characters, starting with a letter or digit, and only letters, digits, "_", ".", "+" or "-"`},
		{"name-one-letter", []string{"--name", "v"}, `invalid --name "v": a VCH name is also the name of its Docker context: at least 2 characters, starting with a letter or digit, and only letters, digits, "_", ".", "+" or "-"`},
		{"name-underscore-first", []string{"--name", "_vch"}, `invalid --name "_vch": a VCH name is also the name of its Docker context: at least 2 characters, starting with a letter or digit, and only letters, digits, "_", ".", "+" or "-"`},
		{"name-space", []string{"--name", "my vch"}, `invalid --name "my vch": a VCH name cannot contain spaces: it is also the name of its Docker context`},
		{"name-tab", []string{"--name", "my\tvch"}, `invalid --name "my\tvch": a VCH name cannot contain spaces: it is also the name of its Docker context`},
		{"name-space-end", []string{"--name", "vch1 "}, `invalid --name "vch1 ": a VCH name cannot start or end with a space`},
		{"width-over-30", []string{"--name", "vch1", "--bridge-network-width", "31"}, `invalid --bridge-network-width "31": the width must be at most 30, so each bridge network has room for containers`},
		{"width-under-prefix", []string{"--name", "vch1", "--bridge-network-width", "8"}, `invalid --bridge-network-width "8": the width must be at least the prefix length of --bridge-network-range 172.16.0.0/12`},
		{"width-zero", []string{"--name", "vch1", "--bridge-network-width", "0"}, `invalid --bridge-network-width "0": the width is a prefix length between the range's and 30`},
		{"bridge-range-bad", []string{"--name", "vch1", "--bridge-network-range", "172.16.0.0/33"}, `invalid --bridge-network-range "172.16.0.0/33": the range must be an IPv4 CIDR such as 172.16.0.0/12`},
		{"bridge-range-host-bits", []string{"--name", "vch1", "--bridge-network-range", "172.16.1.0/12"}, `invalid --bridge-network-range "172.16.1.0/12": the range must be a network address, such as 172.16.0.0/12`},
		{"bridge-range-ipv6", []string{"--name", "vch1", "--bridge-network-range", "fd00::/64", "--bridge-network-width", "80"}, `invalid --bridge-network-range "fd00::/64": only IPv4 ranges are supported`},
		{"public-ip-no-prefix", []string{"--name", "vch1", "--public-network-ip", "198.51.100.10"}, `invalid --public-network-ip "198.51.100.10": write each address with its prefix length, such as 198.51.100.10/24, one per endpoint`},
		{"public-ip-ipv6", []string{"--name", "vch1", "--public-network-ip", "2001:db8::10/64", "--public-network-gateway", "198.51.100.1"}, `invalid --public-network-ip "2001:db8::10/64": only IPv4 addresses are supported`},
		{"public-static-no-gateway", []string{"--name", "vch1", "--public-network-ip", "198.51.100.10/24"}, `invalid --public-network-gateway: a static public address 198.51.100.10/24 needs a gateway for the default route`},
		{"gateway-without-ip", []string{"--name", "vch1", "--client-network-gateway", "198.51.100.1"}, `invalid --client-network-gateway "198.51.100.1": a gateway needs a static address: set --client-network-ip too`},
		{"gateway-outside-subnet", []string{"--name", "vch1", "--public-network-ip", "198.51.100.10/24", "--public-network-gateway", "203.0.113.1"}, `invalid --public-network-gateway "203.0.113.1": the gateway must lie in the subnet of --public-network-ip 198.51.100.0/24`},
		{"gateway-bad-destination", []string{"--name", "vch1", "--management-network-ip", "198.51.100.10/24", "--management-network-gateway", "10.0.0.0/8,bad:198.51.100.1"}, `invalid --management-network-gateway "10.0.0.0/8,bad:198.51.100.1": destination "bad" is not an IPv4 CIDR`},
		{"public-network-ip-is-network", []string{"--name", "vch1", "--public-network-ip", "198.51.100.0/24", "--public-network-gateway", "198.51.100.1"}, `invalid --public-network-ip "198.51.100.0/24": the address is the network or broadcast address of its subnet`},
		{"bridge-is-public", []string{"--name", "vch1", "--bridge-network", "VM Network"}, `invalid --bridge-network "VM Network": the bridge port group is dedicated to one VCH and cannot also be the public-network port group`},
		{"bridge-is-client", []string{"--name", "vch1", "--client-network", "cnet-a", "--bridge-network", "cnet-a"}, `invalid --bridge-network "cnet-a": the bridge port group is dedicated to one VCH and cannot also be the client-network port group`},
		{"bridge-is-container-network", []string{"--name", "vch1", "--container-network", "vch1"}, `invalid --bridge-network "vch1": the bridge port group is dedicated to one VCH and cannot also be a --container-network`},
		{"alias-bridge", []string{"--name", "vch1", "--container-network", "cnet-a:bridge"}, `invalid --container-network "cnet-a:bridge": the alias "bridge" is reserved by Docker`},
		{"alias-space", []string{"--name", "vch1", "--container-network", "cnet-a:my net"}, `invalid --container-network "cnet-a:my net": the alias cannot contain spaces`},
		{"alias-empty", []string{"--name", "vch1", "--container-network", "cnet-a:"}, `invalid --container-network "cnet-a:": the alias after ':' is empty`},
		{"alias-duplicate", []string{"--name", "vch1", "--container-network", "cnet-a:web", "--container-network", "cnet-b:web"}, `invalid --container-network "cnet-b:web": the alias "web" is already used by port group "cnet-a"`},
		{"container-network-twice", []string{"--name", "vch1", "--container-network", "cnet-a", "--container-network", "cnet-a:other"}, `invalid --container-network "cnet-a:other": port group "cnet-a" is listed twice`},
		{"keyed-unlisted-gateway", []string{"--name", "vch1", "--container-network", "cnet-a", "--container-network-gateway", "cnet-z:203.0.113.1/24"}, `invalid --container-network-gateway "cnet-z:203.0.113.1/24": port group "cnet-z" is not a container network: add --container-network cnet-z`},
		{"keyed-unlisted-dns", []string{"--name", "vch1", "--container-network-dns", "cnet-a:203.0.113.53"}, `invalid --container-network-dns "cnet-a:203.0.113.53": port group "cnet-a" is not a container network: add --container-network cnet-a`},
		{"keyed-no-port-group", []string{"--name", "vch1", "--container-network", "cnet-a", "--container-network-firewall", "open"}, `invalid --container-network-firewall "open": write PG:LEVEL`},
		{"gateway-no-mask", []string{"--name", "vch1", "--container-network", "cnet-a", "--container-network-gateway", "cnet-a:203.0.113.1"}, `invalid --container-network-gateway "cnet-a:203.0.113.1": "203.0.113.1" is not an address with its mask, such as 198.51.100.1/24`},
		{"gateway-twice", []string{"--name", "vch1", "--container-network", "cnet-a", "--container-network-gateway", "cnet-a:203.0.113.1/24", "--container-network-gateway", "cnet-a:203.0.113.254/24"}, `invalid --container-network-gateway "cnet-a:203.0.113.254/24": port group "cnet-a" already has a gateway in this command`},
		{"gateway-ipv6", []string{"--name", "vch1", "--container-network", "cnet-a", "--container-network-gateway", "cnet-a:2001:db8::1/64"}, `invalid --container-network-gateway "cnet-a:2001:db8::1/64": only IPv4 gateways are supported`},
		{"gateway-overlaps-bridge", []string{"--name", "vch1", "--container-network", "cnet-a", "--container-network-gateway", "cnet-a:172.16.5.1/24"}, `invalid --container-network-gateway "cnet-a:172.16.5.1/24": the subnet 172.16.5.0/24 overlaps the bridge range`},
		{"range-outside-subnet", []string{"--name", "vch1", "--container-network", "cnet-a", "--container-network-gateway", "cnet-a:203.0.113.1/25", "--container-network-ip-range", "cnet-a:203.0.113.200-203.0.113.210"}, `invalid --container-network-ip-range "cnet-a:203.0.113.200-203.0.113.210": the range must lie inside the gateway's subnet 203.0.113.0/25`},
		{"ranges-overlap", []string{"--name", "vch1", "--container-network", "cnet-a", "--container-network-gateway", "cnet-a:203.0.113.1/24", "--container-network-ip-range", "cnet-a:203.0.113.16/28", "--container-network-ip-range", "cnet-a:203.0.113.20-203.0.113.40"}, `invalid --container-network-ip-range "cnet-a:203.0.113.20-203.0.113.40": the range overlaps 203.0.113.16-203.0.113.31`},
		{"range-holds-gateway", []string{"--name", "vch1", "--container-network", "cnet-a", "--container-network-gateway", "cnet-a:203.0.113.1/24", "--container-network-ip-range", "cnet-a:203.0.113.0/28"}, `invalid --container-network-ip-range "cnet-a:203.0.113.0-203.0.113.15": the range holds the gateway 203.0.113.1`},
		{"range-reversed", []string{"--name", "vch1", "--container-network", "cnet-a", "--container-network-gateway", "cnet-a:203.0.113.1/24", "--container-network-ip-range", "cnet-a:203.0.113.40-203.0.113.20"}, `invalid --container-network-ip-range "cnet-a:203.0.113.40-203.0.113.20": the range ends before it starts`},
		{"range-ipv6", []string{"--name", "vch1", "--container-network", "cnet-a", "--container-network-gateway", "cnet-a:203.0.113.1/24", "--container-network-ip-range", "cnet-a:2001:db8::/120"}, `invalid --container-network-ip-range "cnet-a:2001:db8::/120": only IPv4 ranges are supported`},
		{"range-without-gateway", []string{"--name", "vch1", "--container-network", "cnet-a", "--container-network-ip-range", "cnet-a:203.0.113.16/28"}, `invalid --container-network-ip-range "cnet-a:203.0.113.16-203.0.113.31": a range needs --container-network-gateway cnet-a:GW/MASK; without a gateway the port group's DHCP server hands out addresses`},
		{"firewall-bad-level", []string{"--name", "vch1", "--container-network", "cnet-a", "--container-network-firewall", "cnet-a:loud"}, `invalid --container-network-firewall "cnet-a:loud": the level must be closed, outbound, published, peers or open`},
		{"firewall-twice", []string{"--name", "vch1", "--container-network", "cnet-a", "--container-network-firewall", "cnet-a:open", "--container-network-firewall", "cnet-a:closed"}, `invalid --container-network-firewall "cnet-a:closed": port group "cnet-a" already has a firewall level in this command`},
		{"container-dns-too-many", []string{"--name", "vch1", "--container-network", "cnet-a", "--container-network-dns", "cnet-a:203.0.113.51", "--container-network-dns", "cnet-a:203.0.113.52", "--container-network-dns", "cnet-a:203.0.113.53", "--container-network-dns", "cnet-a:203.0.113.54"}, `invalid --container-network-dns "203.0.113.54": at most 3 DNS servers are allowed`},
		{"container-dns-bad", []string{"--name", "vch1", "--container-network", "cnet-a", "--container-network-dns", "cnet-a:dns.example.com"}, `invalid --container-network-dns "cnet-a:dns.example.com": "dns.example.com" is not an IP address`},
		{"dns-too-many", []string{"--name", "vch1", "--dns-server", "198.51.100.51", "--dns-server", "198.51.100.52", "--dns-server", "198.51.100.53", "--dns-server", "198.51.100.54"}, `invalid --dns-server "198.51.100.54": at most 3 DNS servers are allowed`},
		{"dns-ipv6", []string{"--name", "vch1", "--dns-server", "2001:db8::53"}, `invalid --dns-server "2001:db8::53": only IPv4 DNS servers are supported`},
		{"dns-not-address", []string{"--name", "vch1", "--dns-server", "8.8.8"}, `invalid --dns-server "8.8.8": not an IP address`},
		{"cpu-negative", []string{"--name", "vch1", "--endpoint-cpu", "-1"}, `invalid --endpoint-cpu "-1": the endpoint needs at least one CPU`},
		{"cert-dir-taken", []string{"--name", "vch1", "--tls-cert-dir", "testdata/taken"}, `invalid --tls-cert-dir "testdata/taken": it already holds the certificates of a VCH; remove it or give another directory`},
	}
	assert.Assert(t, len(cases) >= 25)
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := e.run(append([]string{"create"}, c.args...)...)
			assert.Error(t, r.status, c.want)
			assert.Equal(t, r.out, "", "validation must fail before any step")
			assert.Equal(t, e.inventory(), before)
			_, err := os.Stat(e.certDir("vch1"))
			assert.Assert(t, os.IsNotExist(err), "TLS directory left behind")
			_, err = e.contexts.GetMetadata("vch1")
			assert.Assert(t, err != nil, "a Docker context was created")
		})
	}
}

// TestCreateRefusedByVSphere covers the rules that need the inventory: each refusal leaves
// nothing behind, TLS directory included.
func TestCreateRefusedByVSphere(t *testing.T) {
	e := newTestEnv(t)
	e.mustRun("create", "--name", "vch2", "--no-context")
	before := e.inventory()
	cases := []struct {
		name string
		args []string
		want string
	}{
		{"missing-port-group", []string{"--name", "vch1", "--public-network", "VM Netwrok"}, `invalid --public-network "VM Netwrok": no port group of that name in datacenter "DC0"; did you mean "VM Network"?`},
		{"missing-container-port-group", []string{"--name", "vch1", "--container-network", "cnet-x"}, `invalid --container-network "cnet-x": no port group of that name in datacenter "DC0"; did you mean "cnet-a", "cnet-b" or "cnet-c"?`},
		{"name-exists", []string{"--name", "vch2"}, `invalid --name "vch2": a VCH of that name already exists`},
		{"bridge-of-other-vch", []string{"--name", "vch1", "--bridge-network", "vch2"}, `invalid --bridge-network "vch2": the port group is already the bridge network of VCH "vch2", and a bridge port group is dedicated to one VCH`},
		{"mac-policy", []string{"--name", "vch1", "--container-network", "locked"}, `invalid --container-network "locked": the port group blocks container MACs: forged transmits and promiscuous mode are rejected; allow forged transmits and promiscuous mode, or enable MAC learning, on the port group`},
		{"compute-resource", []string{"--name", "vch1", "--compute-resource", "/DC0/host/nowhere"}, `invalid --compute-resource "/DC0/host/nowhere": no cluster, host or resource pool of that name in datacenter "DC0"`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := e.run(append([]string{"create"}, c.args...)...)
			assert.Error(t, r.status, c.want)
			assert.Equal(t, e.inventory(), before)
			_, err := os.Stat(e.certDir("vch1"))
			assert.Assert(t, os.IsNotExist(err), "TLS directory left behind")
		})
	}
}

// TestCreateFailureRollsBack: a failure part-way leaves no VM, pool, folder, TLS file or context.
func TestCreateFailureRollsBack(t *testing.T) {
	e := newTestEnv(t)
	before := e.inventory()
	e.injectFault("PowerOnVM_Task")
	r := e.run(createArgs...)
	assert.ErrorContains(t, r.status, "injected PowerOnVM_Task failure")
	assert.Assert(t, strings.Contains(r.out, "  powering on endpoint VM \"vch1\"...\n"), r.out)
	assert.Equal(t, e.inventory(), before)
	_, err := os.Stat(e.certDir("vch1"))
	assert.Assert(t, os.IsNotExist(err), "TLS directory left behind")
	_, err = e.contexts.GetMetadata("vch1")
	assert.Assert(t, err != nil, "a Docker context was created")
}
