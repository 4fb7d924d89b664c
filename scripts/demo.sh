#!/usr/bin/env bash
# demo.sh: a narrated walk through `docker vic` against vcsim, following the VIC documents:
# the five networks of a Virtual Container Host, its dedicated bridge, container networks with
# aliases, then configure and rm. Then, on the testbed (scripts/testbed.sh: a VCH wired on this
# machine with vic-endpoint serving the local Docker engine), the VIC documents' four use cases
# live: a container with a published port, a simple bridge network, bridged containers with an
# exposed port. Last, a VCH that boots: on the testbed's appliance mode, `docker vic create` boots
# bin/appliance.iso under qemu, then `docker --context` info and use case 1 on it. Leaves nothing
# behind: containers, networks, VMs, testbed, vcsim and temporary files go.
#
#   make demo                    build, set the machine up, run this
#   DEMO_PAUSE=3 make demo       wait 3 s after each narration, to follow along live
#   DEMO_APPLIANCE=0 make demo   without the appliance part (it builds the ISO the first time)
set -euo pipefail
# shellcheck source=scripts/lib.sh
. "$(dirname "$0")/lib.sh"
cd "$VIC_ROOT"

work=$(mktemp -d "${TMPDIR:-/tmp}/vic-demo.XXXXXX")
testbed_up=0
cleanup() {
	stop_vcsim
	if [ "$testbed_up" -eq 1 ]; then
		remove_demo_objects
		bash scripts/testbed.sh down >/dev/null 2>&1 || true
	fi
	rm -rf "$work"
}
# remove_demo_objects: the containers and networks of the endpoint part (all named vic-demo-*).
remove_demo_objects() {
	local c n
	c=$(docker ps -aq --filter name=^vic-demo- 2>/dev/null || true)
	# shellcheck disable=SC2086
	[ -z "$c" ] || docker rm -f $c >/dev/null 2>&1 || true
	n=$(docker network ls -q --filter name=^vic-demo- 2>/dev/null || true)
	# shellcheck disable=SC2086
	[ -z "$n" ] || docker network rm $n >/dev/null 2>&1 || true
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# narrate TITLE LINE...: a header and a few lines of explanation.
narrate() {
	header "$1"
	shift
	local line
	for line in "$@"; do say "   $line"; done
	sleep "${DEMO_PAUSE:-0}"
}

make -s --no-print-directory build

narrate "a vCenter to play with" \
	"vcsim is govmomi's vCenter simulator: datacenter DC0, cluster DC0_C0, switch DVS0." \
	"We add the distributed port groups of the VIC documents, each allowing forged transmits," \
	"promiscuous mode and MAC learning, so containers may use them with MACs of their own."
say "\$ bin/vcsim --listen 127.0.0.1:0$(printf ' --portgroup %s' "${VIC_PORTGROUPS[@]}") &"
start_vcsim "$work"
say "vcsim answers at $(printf '%s' "$VIC_TARGET" | sed 's|//[^@]*@|//|')"
say "VIC_TARGET and VIC_THUMBPRINT are exported: docker vic reads them, as it reads GOVC_URL and friends."
unset DOCKER_HOST DOCKER_CONTEXT

narrate "install the CLI plugin" \
	"docker-vic is a Docker CLI plugin: once in cli-plugins/, 'docker vic' is a docker command." \
	"The demo installs it into a throwaway DOCKER_CONFIG so your own ~/.docker is left alone."
export DOCKER_CONFIG=$work/docker
show_cmd make --no-print-directory install DOCKER_CONFIG="$DOCKER_CONFIG"
show_cmd docker vic version

narrate "create a VCH with the five networks" \
	"public      Docker-Public: the endpoint's default route, image pulls and 'docker run -p' ports" \
	"bridge      VIC-Bridge: container-to-container traffic, one port group per VCH" \
	"management  VIC-Management: the endpoint talks to vCenter and ESXi here" \
	"client      VIC-Client: Docker clients reach the Docker API (TLS, port 2376) here" \
	"container   External-Consumer as 'consumer' (static addresses, firewall 'published')" \
	"            and VIC-Container-Network as 'containers' (addresses from the port group's DHCP," \
	"            an NSX Edge in the VIC documents): containers join these directly, no NAT."
show_cmd docker vic create --name vch1 --compute-resource /DC0/host/DC0_C0 --appliance-iso none \
	--public-network Docker-Public --public-network-ip 198.51.100.10/25 --public-network-gateway 198.51.100.1 \
	--bridge-network VIC-Bridge \
	--management-network VIC-Management \
	--client-network VIC-Client --client-network-ip 198.51.100.140/25 \
	--container-network External-Consumer:consumer \
	--container-network-gateway External-Consumer:203.0.113.1/24 \
	--container-network-ip-range External-Consumer:203.0.113.16/28 \
	--container-network-dns External-Consumer:203.0.113.2 \
	--container-network-firewall External-Consumer:published \
	--container-network VIC-Container-Network:containers \
	--dns-server 198.51.100.2

say ""
say "The Docker API listens on the client address, published ports on the public one; the new"
say "Docker context points at the client address:"
show_cmd docker context ls

narrate "the bridge port group belongs to one VCH" \
	"The VIC documents only recommended a dedicated bridge per VCH; two VCHs on one bridge hand out" \
	"the same container addresses. docker-vic refuses it before touching anything:"
if show_cmd docker vic create --name vch2 --compute-resource /DC0/host/DC0_C0 --appliance-iso none \
	--public-network Docker-Public --bridge-network VIC-Bridge; then
	die "vch2 was created on vch1's bridge port group"
fi
say "(refused, as intended)"

narrate "list the VCHs" \
	"One retrieval from vCenter finds every VM whose configuration says it is a VCH."
show_cmd docker vic ls

narrate "inspect the VCH" \
	"Each role maps to a port group and to a NIC of the endpoint VM; roles on one port group share" \
	"a NIC. Container networks show their alias, addressing (static or DHCP) and firewall level."
show_cmd docker vic inspect vch1
say ""
say "The configuration lives in the endpoint VM and replays as the flags that would rebuild it:"
show_cmd docker vic inspect vch1 --format create-flags

narrate "configure without recreating" \
	"VIC could only add networks to a VCH. docker vic configure also changes what is there:" \
	"let External-Consumer's containers take any traffic from their own ranges ('peers')," \
	"and give containers one more port group, VIC-Container-Network-2, as 'containers2'."
show_cmd docker vic configure vch1 \
	--container-network-firewall External-Consumer:peers \
	--container-network VIC-Container-Network-2:containers2
show_cmd docker vic inspect vch1 --format create-flags

narrate "remove the VCH" \
	"rm takes the container VMs, the endpoint VM, the folder and the resource pool away."
show_cmd docker vic rm vch1
show_cmd docker vic ls

# wait_for CMD...: give a fresh server a few seconds to listen before the demo shows CMD.
wait_for() {
	for _ in $(seq 1 20); do
		timeout 5 "$@" >/dev/null 2>&1 && return 0
		sleep 0.5
	done
}

# endpoint_part: the VIC documents' use cases on the testbed.
endpoint_part() {
	narrate "the endpoint: a VCH on this machine" \
		"scripts/testbed.sh up creates VCH vch-testbed on vcsim, plays each port group with a network" \
		"namespace holding a Linux bridge, gives this machine the endpoint VM's NICs (same MACs, the" \
		"public address 198.51.100.2), puts an 'outside' machine (198.51.100.10) on the public port" \
		"group, and starts vic-endpoint: Docker's network and IPAM driver 'vic' on this machine's engine."
	say "\$ eval \"\$(scripts/testbed.sh up)\""
	bash scripts/testbed.sh up >"$work/testbed.env"
	testbed_up=1
	# shellcheck disable=SC1091
	. "$work/testbed.env"
	bash scripts/image.sh
	remove_demo_objects

	narrate "use case 1: a container with a published port" \
		"VIC put such containers on its default bridge network; Docker's default bridge is Docker's own," \
		"so ours is a vic network. docker run -p publishes on the VCH's public address (and loopback):" \
		"the outside machine reaches the container there, never on the client or management addresses."
	show_cmd docker network create -d vic --ipam-driver vic vic-demo-default
	show_cmd docker run -d -p 8080:80 --net vic-demo-default --name vic-demo-web vic-busybox:test httpd -f -p 80 -h /www
	wait_for ip netns exec "$VIC_OUTSIDE_NS" busybox wget -qO- "http://$VIC_PUBLIC_IP:8080/"
	show_cmd timeout 5 ip netns exec "$VIC_OUTSIDE_NS" busybox wget -qO- "http://$VIC_PUBLIC_IP:8080/"
	say "Docker shows no ports for remote drivers (a libnetwork gap); docker vic does:"
	show_cmd docker vic port vic-demo-web

	narrate "use case 2: a simple bridge network" \
		"A new vic network: its own Linux bridge and subnet from the VCH's bridge range. Containers on" \
		"it find each other by name; containers on other vic networks cannot reach them."
	show_cmd docker network create -d vic --ipam-driver vic vic-demo-net
	show_cmd docker network ls --filter driver=vic
	show_cmd docker run -d --net vic-demo-net --name vic-demo-server --network-alias server vic-busybox:test sleep 3600
	show_cmd docker run --rm --net vic-demo-net --name vic-demo-client vic-busybox:test ping -c 3 server

	narrate "use case 3: bridged containers with an exposed port" \
		"A server on port 5000 of the same network, published on the VCH: its neighbours reach it by" \
		"name, the outside machine on the public address."
	show_cmd docker run -d -p 5000:5000 --net vic-demo-net --name vic-demo-app --network-alias app \
		vic-busybox:test vic-peer serve tcp 5000 'Hello world!'
	wait_for docker run --rm --net vic-demo-net vic-busybox:test vic-peer ask tcp app:5000
	show_cmd docker run --rm --net vic-demo-net vic-busybox:test vic-peer ask tcp app:5000
	show_cmd timeout 5 ip netns exec "$VIC_OUTSIDE_NS" bin/vic-peer ask tcp "$VIC_PUBLIC_IP:5000"
	say "(vic-peer answers with the address it sees: the outside machine keeps its own.)"
	show_cmd docker vic ps

	narrate "use case 4: a container using an external network" \
		"The VCH was created with --container-network External-Consumer:consumer: vic-endpoint made the" \
		"Docker network 'consumer' itself. A container on it sits on the port group with its own MAC and" \
		"an address of the network's range, reached there directly: no NAT, no VCH in the way. Its" \
		"firewall level (published) lets in only what it exposes, and ping."
	show_cmd docker network ls --filter driver=vic
	show_cmd docker run -d --expose=80 --net=consumer --name vic-demo-ext vic-busybox:test httpd -f -p 80 -h /www
	show_cmd docker inspect --format='{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}' vic-demo-ext
	ext_ip=$(docker inspect --format='{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}' vic-demo-ext)
	say "A machine on the External-Consumer port group ($VIC_NET_CONSUMER_NS) asks it:"
	wait_for ip netns exec "$VIC_NET_CONSUMER_NS" busybox wget -qO- "http://$ext_ip/"
	show_cmd timeout 5 ip netns exec "$VIC_NET_CONSUMER_NS" busybox wget -qO- "http://$ext_ip/"

	narrate "container VMs: what vSphere sees" \
		"As in VIC, every container on a vic network has a VM in the VCH's pool, named after it, with one" \
		"NIC per vic network carrying the container's MAC; its power follows the container."
	wait_for sh -c "docker vic containers $VIC_VCH | grep -q '^vic-demo-ext-'"
	show_cmd docker vic containers "$VIC_VCH"

	narrate "clean up" "Containers and networks go, then the testbed: namespaces, links, vic-endpoint, vcsim."
	show_cmd docker rm -f vic-demo-web vic-demo-server vic-demo-app vic-demo-ext
	show_cmd docker network rm vic-demo-default vic-demo-net
	say "\$ scripts/testbed.sh down"
	bash scripts/testbed.sh down
	testbed_up=0
}

# appliance_part: a VCH that boots, on the testbed's appliance mode.
appliance_part() {
	local vch=vch-demo iso=bin/appliance.iso
	narrate "a VCH that boots: the appliance" \
		"On vSphere a VCH's endpoint VM boots bin/appliance.iso: Debian's kernel, dockerd and" \
		"vic-endpoint under vic-init, its PID 1. make appliance builds it (cached after the first time)."
	show_cmd make --no-print-directory appliance
	narrate "vSphere VMs that really boot" \
		"scripts/testbed.sh up --appliance puts vcsim on the management port group (203.0.113.97), as a" \
		"vCenter would be, and a harness that boots each VM with an ISO under qemu: one NIC per vSphere" \
		"NIC, same MAC, on its port group's wire. We play an admin on the client network."
	say "\$ eval \"\$(scripts/testbed.sh up --appliance)\""
	bash scripts/testbed.sh up --appliance >"$work/appliance.env"
	testbed_up=1
	# shellcheck disable=SC1091
	. "$work/appliance.env"
	export DOCKER_CONFIG=$VIC_DOCKER_CONFIG
	unset DOCKER_HOST DOCKER_CONTEXT
	# at_client CMD...: show CMD, then run it on the client machine (the client network's namespace).
	at_client() {
		printf '%s(client)$%s' "$vic_dim" "$vic_off"
		printf ' %q' "$@"
		printf '\n'
		timeout 330 ip netns exec "$VIC_CLIENTSIDE_NS" "$@"
	}

	narrate "docker vic create, then docker info" \
		"create uploads the ISO, makes the VM and powers it on. The guest makes its own TLS key and asks" \
		"for a certificate; create signs it with the VCH's CA and hands over the vSphere credentials" \
		"sealed to that key: nothing secret goes through vSphere in clear. Under qemu without KVM the" \
		"boot takes about half a minute."
	at_client docker vic create --name "$vch" --compute-resource /DC0/host/DC0_C0 --appliance-iso "$iso" \
		--public-network Docker-Public --public-network-ip "$VIC_PUBLIC_CIDR" --public-network-gateway "$VIC_PUBLIC_GATEWAY" \
		--bridge-network VIC-Bridge \
		--client-network VIC-Client --client-network-ip "$VIC_CLIENT_CIDR" \
		--management-network VIC-Management --management-network-ip "$VIC_MANAGEMENT_CIDR"
	at_client docker --context "$vch" info --format 'Name: {{.Name}}  Docker: {{.ServerVersion}}  OS: {{.OperatingSystem}}'
	at_client docker vic inspect "$vch"

	narrate "use case 1 on the appliance" \
		"The image comes with docker load (no registry here); the container's port 80 is published on" \
		"the VCH's public address, where the outside machine reaches it."
	bash scripts/image.sh
	say "\$ docker save vic-busybox:test | docker --context $vch load"
	docker save vic-busybox:test | timeout 120 ip netns exec "$VIC_CLIENTSIDE_NS" docker --context "$vch" load
	at_client docker --context "$vch" network create -d vic --ipam-driver vic vic-demo-web
	at_client docker --context "$vch" run -d -p 8080:80 --net vic-demo-web --name vic-demo-web vic-busybox:test httpd -f -p 80 -h /www
	wait_for ip netns exec "$VIC_OUTSIDE_NS" busybox wget -qO- "http://$VIC_PUBLIC_IP:8080/"
	show_cmd timeout 5 ip netns exec "$VIC_OUTSIDE_NS" busybox wget -qO- "http://$VIC_PUBLIC_IP:8080/"

	narrate "remove it" "rm powers the VM off (qemu ends) and removes it, its disks and the ISO from the datastore."
	at_client docker vic rm --force "$vch"
	say "\$ scripts/testbed.sh down"
	bash scripts/testbed.sh down
	testbed_up=0
}

if [ "$(id -u)" -ne 0 ]; then
	narrate "the endpoint part is skipped" "It makes network namespaces and links: run the demo as root."
elif [ ! -x bin/vic-endpoint ]; then
	narrate "the endpoint part is skipped" "bin/vic-endpoint was not built (endpoint/cmd/vic-endpoint is missing)."
else
	endpoint_part
	if [ "${DEMO_APPLIANCE:-1}" = 0 ]; then
		narrate "the appliance part is skipped" "DEMO_APPLIANCE=0 says so."
	else
		appliance_part
	fi
fi

narrate "done" "Nothing is left behind: vcsim stops and the temporary files go now."
