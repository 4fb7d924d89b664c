#!/usr/bin/env bash
# e2e-plugin.sh: the vic drivers as a Docker managed plugin (scripts/plugin.sh), on a private
# Docker engine (scripts/nodes.sh) and never on the machine's own, driven as a user would:
# docker plugin create, set and enable; a bridge network of the plugin, two containers reaching
# each other by name and a published port answering outside the engine's namespace; the same
# after docker plugin disable/enable, a restart of the engine and an upgrade (the plugin removed
# and created again: the state lives on the host); then docker plugin rm leaves no link and no
# rule behind.
#
# vSphere is vcsim, serving on 127.0.0.1 inside the engine's namespace vic-node-1 (the plugin
# shares that namespace); `docker vic create` makes VCH vch-plugin there, and the namespace gets
# its endpoint VM's NICs: a veth vic-pl-pub carrying the public NIC's MAC and 198.51.100.2/24,
# whose peer is in the namespace vic-pl-outside (198.51.100.10/24, the outside machine), and a
# veth vic-pl-bridge carrying the bridge NIC's. The plugin is set as on a real endpoint: VIC_VCH,
# VIC_TARGET, VIC_THUMBPRINT and the credentials file. No testbed (and no wait for its lock).
#
#   scripts/e2e-plugin.sh              run every check
#   E2E_STOP=1 scripts/e2e-plugin.sh   stop at the first failed check
#   E2E_KEEP=1 scripts/e2e-plugin.sh   leave the engine, its plugin and containers up at the end
set -euo pipefail
# shellcheck source=scripts/lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source=scripts/checks.sh
. "$(dirname "$0")/checks.sh"
# run_until, expect_ok and expect_out (the rest of it is the testbed's, unused here).
# shellcheck source=scripts/e2e/endpoint/expect.sh
. "$(dirname "$0")/e2e/endpoint/expect.sh"
# shellcheck source=scripts/e2e/vcsim.sh
. "$(dirname "$0")/e2e/vcsim.sh"
cd "$VIC_ROOT"

[ "$(id -u)" -eq 0 ] || die "e2e-plugin.sh needs root (namespaces, a private dockerd)"

passed=0 failed=0 skipped=0
work=$(mktemp -d "${TMPDIR:-/tmp}/vic-e2e-plugin.XXXXXX")
out=$work/out err=$work/err
export VIC_NODES_DIR=/tmp/vic-e2e-plugin-nodes
plugin=vic:latest
outside=vic-pl-outside
public_ip=198.51.100.2
outside_ip=198.51.100.10
net=vic-e2e-plnet web=vic-e2e-plweb client=vic-e2e-plclient
image=vic-busybox:test
conf=$VIC_NODES_DIR/conf state=$VIC_NODES_DIR/state
vch='vch-plugin'
# vcsim's namespace, its address and the engine's on their link.
vcenter=vic-pl-vcenter vcenter_ip=203.0.113.97 vcenter_client_ip=203.0.113.98
# The port groups of the VCH; vcsim serves them.
portgroups=(Docker-Public VIC-Bridge)

# stop_vcenter: vcsim and its namespace go.
stop_vcenter() {
	stop_vcsim "$work"
	ip netns del "$vcenter" 2>/dev/null || true
}

nodes_lock
cleanup() {
	if [ -n "${E2E_KEEP:-}" ]; then
		say "E2E_KEEP is set: the engine stays up (eval \"\$(scripts/nodes.sh env)\" with VIC_NODES_DIR=$VIC_NODES_DIR; scripts/nodes.sh down removes it)"
	else
		bash scripts/nodes.sh down 2>&1 | sed 's/^/    /' || true
		stop_vcenter
		ip netns del "$outside" 2>/dev/null || true
	fi
	rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

finish() {
	trap - EXIT
	cleanup
	summarize e2e-plugin
}

# expect_none REGEX WHAT: the command succeeded and no line of stdout matches REGEX.
expect_none() {
	if [ "$status" -eq 0 ] && ! grep -Eq -- "$1" "$out"; then pass "$2"; else fail "$2" "success and no line matching /$1/"; fi
}

# The user's view of the network: by name inside, the published port from outside. busybox wget
# has no -T here (it segfaults): timeout bounds it.
check_network() {
	local when=$1
	run_until 30 docker exec "$client" timeout 5 wget -qO- "http://$web/"
	expect_out 'hello from vic-busybox' "$when: $client reaches $web by name on $net"
	run_until 30 ip netns exec "$outside" curl -sS --max-time 5 "http://$public_ip:8080/"
	expect_out 'hello from vic-busybox' "$when: the published port answers at $public_ip:8080 from outside the engine"
}

# kernel_objects: the links, iptables chains and nftables tables of the vic drivers in the
# engine's namespace.
# shellcheck disable=SC2317 # run calls it
kernel_objects() {
	ip -n vic-node-1 -o link show | awk -F': ' '{print $2}' | sed 's/@.*//' | grep -E '^(vb|ve)-' || true
	ip netns exec vic-node-1 iptables-save | grep -E '^:VIC' || true
	ip netns exec vic-node-1 nft list tables | grep -E ' vic' || true
}

header "a private engine, wired as an endpoint"
ip netns del "$outside" 2>/dev/null || true
run bash scripts/nodes.sh up 1
expect_ok "scripts/nodes.sh up 1: a private dockerd in namespace vic-node-1"
[ "$status" -eq 0 ] || finish
eval "$(grep '^export ' "$out")"
export DOCKER_HOST=$VIC_NODE_1_HOST
unset DOCKER_CONTEXT
run docker info --format '{{.Name}}'
expect_out '^vic-node-1$' "the private engine answers as host vic-node-1, not the machine's engine"
run go build -o bin/vcsim ./vcsim
expect_ok "go build bin/vcsim"
run go build -o bin/docker-vic ./cli-plugin
expect_ok "go build bin/docker-vic"
mkdir -p "$conf" "$state" "$VIC_NODES_DIR/docker-config/cli-plugins"
install -m 0755 bin/docker-vic "$VIC_NODES_DIR/docker-config/cli-plugins/docker-vic"
# vcsim is a vCenter of its own, in namespace $vcenter on a link to the engine's namespace:
# the engine's restarts (nodes.sh stops every process of its namespace) leave it running.
stop_vcenter
ip netns add "$vcenter"
ip link add vic-pl-vc netns vic-node-1 type veth peer name vic-pl-vc-p netns "$vcenter"
ip -n vic-node-1 addr add "$vcenter_client_ip/30" dev vic-pl-vc
ip -n vic-node-1 link set vic-pl-vc up
ip -n "$vcenter" addr add "$vcenter_ip/30" dev vic-pl-vc-p
ip -n "$vcenter" link set vic-pl-vc-p up
ip -n "$vcenter" link set lo up
start_vcsim "$vcenter" "$vcenter_ip" "$work" 2 "${portgroups[@]}"
# web_vm_on: docker vic containers shows the container VM of $web powered on, its NIC on the
# bridge port group.
# shellcheck disable=SC2317 # run_until calls it
web_vm_on() { docker_vic containers "$vch" | grep -E "^$web-[0-9a-f]{12} .*poweredOn .*VIC-Bridge="; }
# docker_vic ARGS...: the CLI plugin against vcsim, from the engine's namespace.
docker_vic() {
	# In the environment, not on a command line: VIC_TARGET holds vcsim's password.
	DOCKER_CONFIG="$VIC_NODES_DIR/docker-config" VIC_TARGET="$VIC_TARGET" VIC_THUMBPRINT="$VIC_THUMBPRINT" \
		ip netns exec vic-node-1 docker vic "$@"
}
run docker_vic create --name "$vch" --compute-resource /DC0/host/DC0_C0 --public-network Docker-Public \
	--public-network-ip "$public_ip/24" --public-network-gateway 198.51.100.1 --bridge-network VIC-Bridge \
	--no-context --appliance-iso none --timeout 2m
expect_ok "docker vic create $vch on vcsim"
nics=$(docker_vic inspect "$vch" --format json | jq -r '.NICs[] | "\(.PortGroup) \(.MAC)"')
public_mac=$(awk '$1 == "Docker-Public" {print $2}' <<<"$nics")
bridge_mac=$(awk '$1 == "VIC-Bridge" {print $2}' <<<"$nics")
if [ -z "$public_mac" ] || [ -z "$bridge_mac" ]; then die "docker vic inspect $vch shows no public or bridge NIC"; fi
ip netns add "$outside"
ip -n "$outside" link set lo up
ip link add vic-pl-pub netns vic-node-1 address "$public_mac" type veth peer name vic-pl-out netns "$outside"
ip -n vic-node-1 addr add "$public_ip/24" dev vic-pl-pub
ip -n vic-node-1 link set vic-pl-pub up
ip -n "$outside" addr add "$outside_ip/24" dev vic-pl-out
ip -n "$outside" link set vic-pl-out up
ip link add vic-pl-bridge netns vic-node-1 address "$bridge_mac" type veth peer name vic-pl-bridge-p netns vic-node-1
ip -n vic-node-1 link set vic-pl-bridge up
# The login goes to the root-only credentials file; the plugin's target has none.
target=$(vcsim_credentials "$conf/credentials")
run bash scripts/image.sh
expect_ok "scripts/image.sh imports $image into the private engine"

header "install the plugin"
run bash scripts/plugin.sh
expect_out 'docker plugin create' "scripts/plugin.sh assembles bin/plugin"
run docker plugin create "$plugin" bin/plugin
expect_ok "docker plugin create $plugin bin/plugin"
run docker plugin set "$plugin" "VIC_VCH=$vch" "VIC_TARGET=$target" "VIC_THUMBPRINT=$VIC_THUMBPRINT" "config.source=$conf" "state.source=$state"
expect_ok "docker plugin set: the VCH, vSphere and the host directories of configuration (credentials) and state"
run docker plugin enable "$plugin"
expect_ok "docker plugin enable $plugin"
run docker plugin inspect -f '{{.Enabled}}' "$plugin"
expect_out '^true$' "the plugin is enabled"

header "a bridge network of the plugin"
run docker network create -d "$plugin" --ipam-driver "$plugin" "$net"
expect_ok "docker network create -d $plugin --ipam-driver $plugin $net"
run docker network inspect -f '{{.Driver}} {{.IPAM.Driver}} {{range .IPAM.Config}}{{.Subnet}}{{end}}' "$net"
expect_out "^$plugin $plugin 172\.(1[6-9]|2[0-9]|3[01])\." "$net has the plugin's drivers and a subnet of the bridge range"
run docker run -d --restart unless-stopped --name "$web" --network "$net" -p 8080:80 "$image" httpd -f -p 80 -h /www
expect_ok "docker run -d -p 8080:80 $web (httpd)"
run docker run -d --restart unless-stopped --name "$client" --network "$net" "$image" sleep 100000
expect_ok "docker run -d $client"
check_network "enabled"
run_until 30 web_vm_on
expect_ok "docker vic containers $vch shows $web's container VM, on, with its NIC on VIC-Bridge"
run docker network create -d vic vic-e2e-pluntagged
expect_err 'could not resolve driver vic' "docker network create -d vic is refused: networks name the plugin with its tag"

header "docker plugin disable and enable"
run docker plugin disable "$plugin"
if [ "$status" -ne 0 ] && grep -q 'in use' "$err"; then pass "docker plugin disable refuses while $net uses the plugin"; else fail "docker plugin disable refuses while $net uses the plugin" "an 'in use' error"; fi
run docker plugin disable -f "$plugin"
expect_ok "docker plugin disable -f $plugin"
run_until 10 ip netns exec "$outside" curl -sS --max-time 5 "http://$public_ip:8080/"
expect_out 'hello from vic-busybox' "disabled: the published port still answers (rules and links stay)"
run docker plugin enable "$plugin"
expect_ok "docker plugin enable $plugin again"
check_network "enabled again"
run docker run --rm --network "$net" "$image" timeout 5 wget -qO- "http://$web/"
expect_out 'hello from vic-busybox' "enabled again: a new container joins $net and reaches $web"

header "a restart of the engine"
run bash scripts/nodes.sh restart 1
expect_ok "scripts/nodes.sh restart 1: dockerd stopped (with its plugin and containers) and started"
run_until 30 docker plugin inspect -f '{{.Enabled}}' "$plugin"
expect_out '^true$' "the plugin is enabled again with the engine"
run_until 60 sh -c "docker inspect -f '{{.State.Running}}' $web $client | grep -c true | grep -qx 2"
expect_ok "both containers run again (restart policy)"
check_network "after the engine's restart"
run_until 30 web_vm_on
expect_ok "after the engine's restart: $web's container VM is on in vSphere (vcsim ran through it)"
run ls "$state"
expect_out '^state\.db$' "the state lives on the host, in $state"

header "an upgrade: the plugin removed and created again"
run docker plugin disable -f "$plugin"
expect_ok "docker plugin disable -f $plugin"
run docker plugin rm -f "$plugin"
expect_ok "docker plugin rm -f $plugin while $net uses it"
run docker plugin create "$plugin" bin/plugin
expect_ok "docker plugin create $plugin bin/plugin again"
run docker plugin set "$plugin" "VIC_VCH=$vch" "VIC_TARGET=$target" "VIC_THUMBPRINT=$VIC_THUMBPRINT" "config.source=$conf" "state.source=$state"
expect_ok "docker plugin set: the same settings and host directories"
run docker plugin enable "$plugin"
expect_ok "docker plugin enable $plugin"
check_network "after the upgrade"
run_until 30 web_vm_on
expect_ok "after the upgrade: $web's container VM is on in vSphere"
run docker run --rm --network "$net" "$image" timeout 5 wget -qO- "http://$web/"
expect_out 'hello from vic-busybox' "after the upgrade: a new container joins $net and reaches $web"

header "removal leaves nothing"
run docker rm -f "$web" "$client"
expect_ok "docker rm -f $web $client"
run docker network rm "$net"
expect_ok "docker network rm $net"
run docker plugin disable "$plugin"
expect_ok "docker plugin disable $plugin"
run docker plugin rm "$plugin"
expect_ok "docker plugin rm $plugin"
run kernel_objects
expect_none '.' "no vb-/ve- link, no VIC iptables chain and no vic nftables table is left in the engine's namespace"
run docker plugin ls -q
expect_none '.' "docker plugin ls is empty"

finish
