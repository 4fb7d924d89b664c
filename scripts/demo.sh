#!/usr/bin/env bash
# demo.sh: a narrated walk through `docker vic` against vcsim, following the VIC documents:
# the five networks of a Virtual Container Host, its dedicated bridge, container networks with
# aliases, then configure and rm. Leaves nothing behind: vcsim stops, temporary files go.
#
#   make demo                 build, set the machine up, run this
#   DEMO_PAUSE=3 make demo    wait 3 s after each narration, to follow along live
set -euo pipefail
# shellcheck source=scripts/lib.sh
. "$(dirname "$0")/lib.sh"
cd "$VIC_ROOT"

work=$(mktemp -d "${TMPDIR:-/tmp}/vic-demo.XXXXXX")
cleanup() {
	stop_vcsim
	rm -rf "$work"
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
show_cmd docker vic create --name vch1 --compute-resource /DC0/host/DC0_C0 \
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
if show_cmd docker vic create --name vch2 --compute-resource /DC0/host/DC0_C0 \
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

narrate "done" \
	"Still to come: vic-endpoint, the daemon on the endpoint VM that serves 'docker network create -d vic'," \
	"published ports and the container networks. vcsim stops and the temporary files go now."
