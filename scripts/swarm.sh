#!/usr/bin/env bash
# swarm.sh: a VCH of N endpoints as N private Docker engines in one swarm on this machine, the vic
# drivers installed on each as the managed plugin with VIC_SWARM=true: the ground of
# scripts/e2e-swarm.sh and of the swarm benchmarks. The machine's own engine is never touched.
#
#   eval "$(scripts/swarm.sh up [N] [--managers M])"
#                                       clear a stale one, build it (N = 3 by default), print export lines
#                                       (nodes 1..M managers, M = 1 by default)
#   scripts/swarm.sh env                print the export lines again
#   scripts/swarm.sh down               stop and remove all of it; safe to run twice
#
# vSphere is vcsim with N hosts in its cluster, in namespace vic-sw-outside (the machine outside the
# endpoints), where `docker vic create --endpoints N` makes the VCH vch-swarm. The wires are there:
# bridge vic-sw-pub for the public port group (198.51.100.10/24, vcsim serves on it), bridge
# vic-sw-bpg for the bridge port group, untagged as a port group is, and bridges vic-sw-cst and
# vic-sw-cdh for the container networks swstatic (port group VIC-Static, 203.0.113.192/27,
# containers from .200-.205) and swdhcp (VIC-DHCP: a DHCP server's, which the caller runs). Node I
# (scripts/nodes.sh: namespace vic-node-I) is endpoint VM I: a veth `public` on the first
# (198.51.100.(1+I)/24), a veth `bridge` on the second and one on each container network's, with
# the MACs of that VM's NICs, so that its plugin knows which endpoint VM it is. Node 1 inits the
# swarm (advertising its public address) and leads it; nodes 2..M join as managers (a swarm of
# three managers outlives one), the others as workers. Each node has the test image
# vic-busybox:test.
#
# DIR is $VIC_NODES_DIR (default /tmp/vic-swarm-nodes). Export lines: those of scripts/nodes.sh env,
# and VIC_SWARM_VCH, VIC_SWARM_OUTSIDE (the namespace), VIC_SWARM_OUTSIDE_IP, VIC_SWARM_VCSIM (a
# root-only file whose first line exports VIC_TARGET, login included, and VIC_THUMBPRINT), and per
# node VIC_NODE_I_PUBLIC. `docker vic` against vcsim: DOCKER_CONFIG=$DIR/docker-config, from the
# outside namespace.
set -euo pipefail
# shellcheck source=scripts/lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source=scripts/e2e/vcsim.sh
. "$(dirname "$0")/e2e/vcsim.sh"
cd "$VIC_ROOT"

export VIC_NODES_DIR=${VIC_NODES_DIR:-/tmp/vic-swarm-nodes}
DIR=$VIC_NODES_DIR
OUTSIDE=vic-sw-outside OUTSIDE_IP=198.51.100.10
VCH=vch-swarm PLUGIN=vic:latest
PORTGROUPS=(Docker-Public VIC-Bridge VIC-Static VIC-DHCP)
# The container networks' port groups and their wires (bridges) in the outside namespace.
CNET_WIRES=(VIC-Static:vic-sw-cst VIC-DHCP:vic-sw-cdh)

[ "$(id -u)" -eq 0 ] || die "swarm.sh needs root (namespaces, private dockerd)"

# public_ip I: node I's address on the public port group.
public_ip() { printf '198.51.100.%s' $((1 + $1)); }

# docker_vic ARGS...: the CLI plugin against vcsim, from the outside namespace; VIC_TARGET (with
# vcsim's password) goes in the environment, not on a command line.
docker_vic() {
	DOCKER_CONFIG="$DIR/docker-config" VIC_TARGET="$VIC_TARGET" VIC_THUMBPRINT="$VIC_THUMBPRINT" \
		ip netns exec "$OUTSIDE" docker vic "$@"
}

# quietly WHAT CMD...: CMD with its output kept in DIR/swarm.log; on failure, its tail and a stop.
quietly() {
	local what=$1
	shift
	if ! "$@" >>"$DIR/swarm.log" 2>&1; then
		tail -n 15 "$DIR/swarm.log" >&2
		die "swarm.sh: $what failed (log: $DIR/swarm.log)"
	fi
}

down() {
	[ ! -d "$DIR" ] || stop_vcsim "$DIR/vcsim"
	bash scripts/nodes.sh down >/dev/null 2>&1 || true
	ip netns del "$OUTSIDE" 2>/dev/null || true
}

# wires: the outside namespace and its two bridges.
wires() {
	ip netns add "$OUTSIDE"
	ip -n "$OUTSIDE" link set lo up
	ip -n "$OUTSIDE" link add vic-sw-pub type bridge
	ip -n "$OUTSIDE" addr add "$OUTSIDE_IP/24" dev vic-sw-pub
	ip -n "$OUTSIDE" link set vic-sw-pub up
	ip -n "$OUTSIDE" link add vic-sw-bpg type bridge
	ip -n "$OUTSIDE" link set vic-sw-bpg up
}

# plug_nodes N: node I gets endpoint VM I's public and bridge NICs, by MAC.
plug_nodes() {
	local n=$1 i nics public_mac bridge_mac ns cw wire mac
	nics=$(docker_vic inspect "$VCH" --format json | jq -r '.Endpoints[] | .Number as $n | .NICs[] | "\($n) \(.PortGroup) \(.MAC)"')
	for i in $(seq 1 "$n"); do
		ns=vic-node-$i
		public_mac=$(awk -v n="$i" '$1 == n && $2 == "Docker-Public" {print $3}' <<<"$nics")
		bridge_mac=$(awk -v n="$i" '$1 == n && $2 == "VIC-Bridge" {print $3}' <<<"$nics")
		[ -n "$public_mac" ] && [ -n "$bridge_mac" ] || die "swarm.sh: docker vic inspect $VCH shows no public or bridge NIC of endpoint $i"
		ip link add public netns "$ns" address "$public_mac" type veth peer name "vic-sw-pub$i" netns "$OUTSIDE"
		ip link add bridge netns "$ns" address "$bridge_mac" type veth peer name "vic-sw-bpg$i" netns "$OUTSIDE"
		ip -n "$OUTSIDE" link set "vic-sw-pub$i" master vic-sw-pub up
		ip -n "$OUTSIDE" link set "vic-sw-bpg$i" master vic-sw-bpg up
		ip -n "$ns" addr add "$(public_ip "$i")/24" dev public
		ip -n "$ns" link set public up
		ip -n "$ns" link set bridge up
		for cw in "${CNET_WIRES[@]}"; do # a link on each container network's wire, with the NIC's MAC
			wire=${cw#*:} mac=$(awk -v n="$i" -v pg="${cw%%:*}" '$1 == n && $2 == pg {print $3}' <<<"$nics")
			[ -n "$mac" ] || die "swarm.sh: docker vic inspect $VCH shows no NIC of endpoint $i on ${cw%%:*}"
			ip -n "$OUTSIDE" link show "$wire" >/dev/null 2>&1 || ip -n "$OUTSIDE" link add "$wire" type bridge
			ip -n "$OUTSIDE" link set "$wire" up
			ip link add "$wire" netns "$ns" address "$mac" type veth peer name "$wire$i" netns "$OUTSIDE"
			ip -n "$OUTSIDE" link set "$wire$i" master "$wire" up
			ip -n "$ns" link set "$wire" up
		done
	done
}

# install_plugin I: the test image and the plugin on node I, set as endpoint VM I of the VCH.
install_plugin() {
	local i=$1 d=$DIR/node-$1 target
	mkdir -p "$d/conf" "$d/state"
	target=$(vcsim_credentials "$d/conf/credentials")
	quietly "importing the test image on node $i" on "$i" bash scripts/image.sh
	quietly "docker plugin create on node $i" on "$i" docker plugin create "$PLUGIN" bin/plugin
	quietly "docker plugin set on node $i" on "$i" docker plugin set "$PLUGIN" "VIC_VCH=$VCH" "VIC_TARGET=$target" \
		"VIC_THUMBPRINT=$VIC_THUMBPRINT" VIC_SWARM=true "VIC_LOG_LEVEL=${VIC_SWARM_LOG_LEVEL:-debug}" \
		"config.source=$d/conf" "state.source=$d/state"
	quietly "docker plugin enable on node $i" on "$i" docker plugin enable "$PLUGIN"
}

print_env() {
	local i
	bash scripts/nodes.sh env
	printf 'export VIC_SWARM_VCH=%q VIC_SWARM_OUTSIDE=%q VIC_SWARM_OUTSIDE_IP=%q VIC_SWARM_VCSIM=%q\n' \
		"$VCH" "$OUTSIDE" "$OUTSIDE_IP" "$DIR/vcsim/vcsim.out"
	for i in $(bash scripts/nodes.sh env | sed -n 's/^export VIC_NODE_\([0-9]*\)_NS=.*/\1/p'); do
		printf 'export VIC_NODE_%s_PUBLIC=%q\n' "$i" "$(public_ip "$i")"
	done
}

up() {
	local n=$1 managers=$2 i token
	down
	bash scripts/nodes.sh up "$n" >/dev/null
	mkdir -p "$DIR/vcsim" "$DIR/docker-config/cli-plugins"
	wires
	quietly "go build bin/vcsim" go build -o bin/vcsim ./vcsim
	quietly "go build bin/docker-vic" go build -o bin/docker-vic ./cli-plugin
	install -m 0755 bin/docker-vic "$DIR/docker-config/cli-plugins/docker-vic"
	start_vcsim "$OUTSIDE" "$OUTSIDE_IP" "$DIR/vcsim" "$n" "${PORTGROUPS[@]}"
	quietly "docker vic create $VCH --endpoints $n" docker_vic create --name "$VCH" --endpoints "$n" \
		--compute-resource /DC0/host/DC0_C0 --public-network Docker-Public --bridge-network VIC-Bridge \
		--no-context --appliance-iso none --timeout 2m \
		--container-network VIC-Static:swstatic --container-network-gateway VIC-Static:203.0.113.193/27 \
		--container-network-ip-range VIC-Static:203.0.113.200-203.0.113.205 --container-network-firewall VIC-Static:peers \
		--container-network VIC-DHCP:swdhcp --container-network-firewall VIC-DHCP:peers
	plug_nodes "$n"
	quietly "scripts/plugin.sh" bash scripts/plugin.sh
	for i in $(seq 1 "$n"); do install_plugin "$i"; done
	quietly "docker swarm init on node 1" on 1 docker swarm init --advertise-addr "$(public_ip 1)"
	for i in $(seq 2 "$n"); do
		if [ "$i" -le "$managers" ]; then token=$(on 1 docker swarm join-token -q manager); else token=$(on 1 docker swarm join-token -q worker); fi
		quietly "docker swarm join on node $i" on "$i" docker swarm join --token "$token" "$(public_ip 1):2377"
	done
	say "swarm: $n engines in one swarm ($managers of them managers), the vic plugin on each, as the endpoint VMs of VCH $VCH (log $DIR/swarm.log)" >&2
	print_env
}

case ${1:-} in
up)
	n=3 managers=1
	[ $# -lt 2 ] || [[ $2 == --* ]] || { n=$2 && shift; }
	[[ $n =~ ^[1-9][0-9]?$ ]] && [ "$n" -le 32 ] || die "up takes the number of endpoints, 1 to 32, not '$n'"
	case ${2:-} in
	'') ;;
	--managers) managers=${3:-} ;;
	*) die "usage: scripts/swarm.sh up [N] [--managers M]" ;;
	esac
	[[ $managers =~ ^[1-9][0-9]?$ ]] && [ "$managers" -le "$n" ] || die "--managers takes a number of managers from 1 to the $n endpoints, not '$managers'"
	up "$n" "$managers"
	;;
env) print_env ;;
down) down ;;
*) die "usage: scripts/swarm.sh up [N] [--managers M]|env|down" ;;
esac
