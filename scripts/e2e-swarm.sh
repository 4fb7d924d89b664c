#!/usr/bin/env bash
# e2e-swarm.sh: a VCH of three endpoints under Docker Swarm mode, driven as a user would. Three
# private Docker engines (scripts/nodes.sh) form one swarm, the vic drivers installed on each as
# the managed plugin with VIC_SWARM=true, so that vic networks have swarm scope and span the
# endpoints over the bridge port group (endpoint/span):
#   - a service of 6 replicas on a vic bridge network spreads over the three nodes; the
#     manager allocates every task's address through the plugin (no address twice), the
#     service's name (tasks.NAME) names all 6, and tasks reach each other on one node and
#     across nodes with their own addresses; a task reaches the outside masqueraded by its own
#     endpoint; the gateway's MAC never reaches the wire;
#   - two vic networks stay apart, on one node and across nodes;
#   - a global service's published port (mode=host) answers at each endpoint's public address
#     from outside;
#   - a stopped node's tasks run elsewhere, addresses still unique; back, it holds no link of
#     its old tasks; a node killed at once, as at a power-off, runs a new task of the global
#     service, its published port free again;
#   - the three nodes are managers: the leader's engine stops, another leads, every address
#     stays unique across the change and back (scripts/e2e/swarm/managers.sh);
#   - removing the services and the networks leaves no link, rule or filter on any node.
#
# The ground is scripts/swarm.sh: the VCH vch-swarm of three endpoint VMs on vcsim, node I being
# endpoint VM I (its links carry that VM's MACs), the wires of the public and bridge port groups in
# namespace vic-sw-outside, the machine outside the endpoints. No testbed (and no wait for its
# lock); the private engines' lock (nodes_lock) keeps other runs of them out meanwhile.
#
#   scripts/e2e-swarm.sh              run every check
#   E2E_STOP=1 scripts/e2e-swarm.sh   stop at the first failed check
#   E2E_KEEP=1 scripts/e2e-swarm.sh   leave the swarm, its plugins and services up at the end
set -euo pipefail
# shellcheck source=scripts/lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source=scripts/checks.sh
. "$(dirname "$0")/checks.sh"
# run_until, expect_ok and expect_out (the rest of it is the testbed's, unused here).
# shellcheck source=scripts/e2e/endpoint/expect.sh
. "$(dirname "$0")/e2e/endpoint/expect.sh"
cd "$VIC_ROOT"

[ "$(id -u)" -eq 0 ] || die "e2e-swarm.sh needs root (namespaces, private dockerd)"

passed=0 failed=0 skipped=0
work=$(mktemp -d "${TMPDIR:-/tmp}/vic-e2e-swarm.XXXXXX")
out=$work/out err=$work/err
export VIC_NODES_DIR=/tmp/vic-e2e-swarm-nodes
nodes=3
plugin=vic:latest
image=vic-busybox:test
net=vic-e2e-swnet web=vic-e2e-swweb edge=vic-e2e-swedge
net2=vic-e2e-swnet2 other=vic-e2e-swother

nodes_lock
cleanup() {
	kill "${peer_pid:-}" 2>/dev/null || true
	if [ -n "${E2E_KEEP:-}" ]; then
		say "E2E_KEEP is set: the swarm stays up (VIC_NODES_DIR=$VIC_NODES_DIR scripts/swarm.sh env; scripts/swarm.sh down removes it)"
	else
		bash scripts/swarm.sh down 2>&1 | sed 's/^/    /' || true
	fi
	rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

finish() {
	trap - EXIT
	cleanup
	summarize e2e-swarm
}

# public_ip I: node I's address on the public port group.
public_ip() { eval printf '%s' "\$VIC_NODE_${1}_PUBLIC"; }

# docker_vic ARGS...: the CLI plugin against vcsim, from the outside namespace.
# shellcheck disable=SC2317 # run calls it
docker_vic() {
	# In the environment, not on a command line: VIC_TARGET holds vcsim's password.
	DOCKER_CONFIG="$VIC_NODES_DIR/docker-config" VIC_TARGET="$VIC_TARGET" VIC_THUMBPRINT="$VIC_THUMBPRINT" \
		ip netns exec "$outside" docker vic "$@"
}

header "a VCH of three endpoints: three engines in one swarm"
run bash scripts/swarm.sh up "$nodes" --managers "$nodes"
expect_out '^export VIC_SWARM_VCH=' "scripts/swarm.sh up $nodes --managers $nodes: the VCH's endpoint VMs as private engines, the plugin on each, one swarm of $nodes managers"
[ "$status" -eq 0 ] || finish
eval "$(grep '^export ' "$out")"
eval "$(head -n 1 "$VIC_SWARM_VCSIM")"
unset DOCKER_CONTEXT DOCKER_HOST
vch=$VIC_SWARM_VCH outside=$VIC_SWARM_OUTSIDE outside_ip=$VIC_SWARM_OUTSIDE_IP
run docker_vic ls
expect_out "^vm-[0-9]+ +$vch .* $nodes +[0-9]+/[0-9]+ " "docker vic ls shows the $nodes endpoint VMs of $vch"
for i in $(seq 1 "$nodes"); do
	run on "$i" docker plugin inspect -f '{{.Enabled}} {{.Settings.Env}}' "$plugin"
	expect_out "^true .*VIC_SWARM=true" "node $i: the plugin $plugin is enabled, with VIC_SWARM=true"
done
run on 1 docker node ls --format '{{.Hostname}} {{.Status}} {{.ManagerStatus}}'
if [ "$status" -eq 0 ] && [ "$(grep -c ' Ready' "$out")" -eq "$nodes" ] && grep -q '^vic-node-1 Ready Leader' "$out"; then
	pass "docker node ls: $nodes nodes ready, node 1 the leader"
else
	fail "docker node ls: $nodes nodes ready, node 1 the leader" "$nodes Ready lines"
fi

header "a vic network of swarm scope and a service of 6 replicas"
run on 1 docker network create -d "$plugin" --ipam-driver "$plugin" --attachable "$net"
expect_ok "node 1: docker network create -d $plugin --attachable $net"
run on 1 docker network inspect -f '{{.Scope}} {{.Driver}} {{range .IPAM.Config}}{{.Subnet}}{{end}}' "$net"
expect_out "^swarm $plugin 172\\." "$net has swarm scope, the plugin's driver and a subnet of the bridge range"
run on 1 docker service create -d --name "$web" --replicas 6 --network "$net" --endpoint-mode dnsrr \
	--restart-condition any "$image" httpd -f -p 80 -h /www
expect_ok "docker service create --replicas 6 --network $net --endpoint-mode dnsrr $web"
run_until 90 sh -c "DOCKER_HOST=$VIC_NODE_1_HOST docker service ps -f desired-state=running --format '{{.CurrentState}}' $web | grep -c '^Running' | grep -qx 6"
expect_ok "the 6 tasks of $web run"
run on 1 docker service ps -f desired-state=running --format '{{.Node}}' "$web"
expect_out "vic-node-3" "docker service ps: tasks on every node, node 3 among them"
# web_vms ENDPOINTS: docker vic containers shows 6 container VMs of $web powered on, on ENDPOINTS
# distinct endpoint VMs, none of them on ${vch}-3 when ENDPOINTS is 2.
# shellcheck disable=SC2317 # run_until calls it
web_vms() {
	local rows
	rows=$(docker_vic containers "$vch" | awk -v w="^$web\\." '$1 ~ w && $3 == "poweredOn" {print $4}')
	[ "$(grep -c . <<<"$rows")" -eq 6 ] && [ "$(sort -u <<<"$rows" | grep -c .)" -eq "$1" ] &&
		{ [ "$1" -ne 2 ] || ! grep -qx "$vch-3" <<<"$rows"; }
}
run_until 60 web_vms 3
expect_ok "docker vic containers: the 6 tasks' container VMs, on, each carrying the endpoint VM that runs it (3 of them)"
# addresses_on I...: every address of a task of $web on $net, as the engines of nodes I... see
# their containers; addresses: on every node.
# shellcheck disable=SC2317,SC2046 # run calls them; seq gives one number a word
addresses() { addresses_on $(seq 1 "$nodes"); }
# shellcheck disable=SC2317
addresses_on() {
	local i
	for i in "$@"; do
		on "$i" docker ps -q -f "label=com.docker.swarm.service.name=$web" |
			xargs -r env DOCKER_HOST="$(eval printf '%s' "\$VIC_NODE_${i}_HOST")" docker inspect \
				-f "{{(index .NetworkSettings.Networks \"$net\").IPAddress}}"
	done
}
run addresses
if [ "$status" -eq 0 ] && [ "$(sort -u "$out" | grep -c .)" -eq 6 ]; then
	pass "the 6 tasks have 6 different addresses across the nodes"
else
	fail "the 6 tasks have 6 different addresses across the nodes" "6 distinct addresses"
fi
task=$(on 1 docker ps -q -f "label=com.docker.swarm.service.name=$web" | head -n 1)
run on 1 docker exec "$task" nslookup "tasks.$web"
if [ "$status" -eq 0 ] && [ "$(grep -cE '^Address( [0-9]+)?: 172\.' "$out")" -eq 6 ]; then
	pass "tasks.$web names the 6 tasks, from a task on node 1"
else
	fail "tasks.$web names the 6 tasks, from a task on node 1" "6 addresses in the answer"
fi
peer=$(on 1 docker ps -q -f "label=com.docker.swarm.service.name=$web" | sed -n 2p)
peer_ip=$(on 1 docker inspect -f "{{(index .NetworkSettings.Networks \"$net\").IPAddress}}" "$peer")
run on 1 docker exec "$task" timeout 5 wget -qO- "http://$peer_ip/"
expect_out 'hello from vic-busybox' "a task reaches another task on its node at $peer_ip"

header "across endpoints, over the bridge port group"
# task_on I: a task of $web on node I; ip_of I CONTAINER: its address on $net.
task_on() { on "$1" docker ps -q -f "label=com.docker.swarm.service.name=$web" | head -n 1; }
ip_of() { on "$1" docker inspect -f "{{(index .NetworkSettings.Networks \"$net\").IPAddress}}" "$2"; }
for i in 2 3; do
	far=$(task_on "$i")
	far_ip=$(ip_of "$i" "$far")
	run_until 20 on 1 docker exec "$task" timeout 5 wget -qO- "http://$far_ip/"
	expect_out 'hello from vic-busybox' "a task on node 1 reaches a task on node $i at $far_ip, its own address"
done
run on 1 docker exec "$task" sh -c "for a in \$(nslookup tasks.$web | sed -n 's/^Address[ 0-9]*: \(172\.[0-9.]*\).*/\1/p'); do timeout 5 wget -qO- http://\$a/ >/dev/null && echo \$a; done"
if [ "$status" -eq 0 ] && [ "$(sort -u "$out" | grep -c .)" -eq 6 ]; then
	pass "from node 1, every address tasks.$web names answers: the 6 tasks on 3 nodes"
else
	fail "from node 1, every address tasks.$web names answers: the 6 tasks on 3 nodes" "6 addresses answering"
fi
ip netns exec "$outside" bin/vic-peer serve tcp 7000 outside >/dev/null 2>&1 8>&- &
peer_pid=$!
far=$(task_on 2)
run_until 20 on 2 docker exec "$far" vic-peer ask tcp "$outside_ip:7000"
expect_out "^outside $(public_ip 2)\$" "a task on node 2 reaches the outside through its own endpoint, masqueraded to $(public_ip 2)"
kill "$peer_pid" 2>/dev/null || true
net_id=$(on 1 docker network inspect -f '{{.Id}}' "$net")
gw_mac=$(ip -n vic-node-2 -br link show "vb-${net_id:0:12}" | awk '{print $3}')
run bridge -n "$outside" fdb show br vic-sw-bpg
if [ -n "$gw_mac" ] && [ "$status" -eq 0 ] && ! grep -qi "^$gw_mac " "$out" && [ "$(ip -n vic-node-3 -br link show "vb-${net_id:0:12}" | awk '{print $3}')" = "$gw_mac" ]; then
	pass "the gateway has one MAC ($gw_mac) on every endpoint, and the bridge port group never learned it"
else
	fail "the gateway has one MAC ($gw_mac) on every endpoint, and the bridge port group never learned it" "no fdb entry of $gw_mac"
fi

header "two vic networks stay apart across endpoints"
run on 1 docker network create -d "$plugin" --ipam-driver "$plugin" --attachable "$net2"
expect_ok "node 1: docker network create $net2"
run on 1 docker service create -d --name "$other" --mode global --network "$net2" --endpoint-mode dnsrr "$image" httpd -f -p 80 -h /www
expect_ok "docker service create --mode global --network $net2 $other"
run_until 60 sh -c "DOCKER_HOST=$VIC_NODE_1_HOST docker ps -q -f label=com.docker.swarm.service.name=$other | grep -q ."
stranger=$(on 1 docker ps -q -f "label=com.docker.swarm.service.name=$other" | head -n 1)
run_until 60 sh -c "DOCKER_HOST=$VIC_NODE_2_HOST docker ps -q -f label=com.docker.swarm.service.name=$other | grep -q ."
kin=$(on 2 docker ps -q -f "label=com.docker.swarm.service.name=$other" | head -n 1)
kin_ip=$(on 2 docker inspect -f "{{(index .NetworkSettings.Networks \"$net2\").IPAddress}}" "$kin")
run_until 20 on 1 docker exec "$stranger" timeout 5 wget -qO- "http://$kin_ip/"
expect_out 'hello from vic-busybox' "a task of $net2 on node 1 reaches its peer of $net2 on node 2 at $kin_ip"
far=$(task_on 2)
far_ip=$(ip_of 2 "$far")
run on 1 docker exec "$stranger" timeout 5 wget -qO- "http://$far_ip/"
expect_fail "a task of $net2 on node 1 does not reach the task of $net at $far_ip on node 2"
run on 1 docker exec "$stranger" timeout 5 wget -qO- "http://$(ip_of 1 "$task")/"
expect_fail "nor the task of $net on its own node"
# On the wire itself: a container of $net2 that takes an address of $net's subnet, on link,
# speaks to the task of $net on node 2 directly; the span filter of its own endpoint stops it.
net_subnet=$(on 1 docker network inspect -f '{{range .IPAM.Config}}{{.Subnet}}{{end}}' "$net")
spoof_ip=${net_subnet%.*.*}.250.250
run on 1 docker run --rm --cap-add NET_ADMIN --network "$net2" "$image" sh -c \
	"ip addr add $spoof_ip/${net_subnet#*/} dev eth0 && timeout 5 wget -qO- http://$far_ip/"
expect_fail "a container of $net2 on node 1 that takes $spoof_ip of $net's subnet does not reach $far_ip on node 2 over the wire"
for i in $(seq 1 "$nodes"); do
	run ip netns exec "vic-node-$i" nft list table bridge vic
	# A wire end has the addresses of the set sources that it lets through; one not in it, none.
	if [ "$status" -eq 0 ] && grep -q "${net_subnet%/*}" "$out" && grep -q 'iifname . ip saddr != @sources drop' "$out" &&
		grep -q 'oifname . ip saddr != @sources drop' "$out"; then
		pass "node $i: the span filter knows $net's subnet and closes the wire ends it does not know"
	else
		fail "node $i: the span filter knows $net's subnet and closes the wire ends it does not know" "table bridge vic with ${net_subnet%/*}"
	fi
done

header "published ports of a global service (mode=host)"
run on 1 docker service create -d --name "$edge" --mode global --network "$net" --endpoint-mode dnsrr \
	--publish mode=host,target=80,published=8080 "$image" httpd -f -p 80 -h /www
expect_ok "docker service create --mode global --publish mode=host,published=8080 $edge"
for i in $(seq 1 "$nodes"); do
	run_until 60 ip netns exec "$outside" curl -sS --max-time 5 "http://$(public_ip "$i"):8080/"
	expect_out 'hello from vic-busybox' "port 8080 answers at node $i's public address $(public_ip "$i") from outside"
done

# vic_on I ARGS...: docker vic ARGS on node I, where its drivers run: their socket is in the
# node's own /run, so in its mount namespace.
# shellcheck disable=SC2317 # run calls it
vic_on() {
	local i=$1
	shift
	nsenter -t "$(cat "$VIC_NODES_DIR/node-$i/docker.pid")" -m -n \
		env DOCKER_CONFIG="$VIC_NODES_DIR/docker-config" DOCKER_HOST=unix:///run/docker.sock docker vic "$@"
}
run vic_on 2 ps
expect_out "^[0-9a-f]{12} +$edge\.[^ ]+ +$net +172\.[0-9.]+ +$(public_ip 2):8080->80/tcp" "docker vic ps on node 2: its task of $edge, its address on $net and port 8080 at node 2's public address"
edge2=$(on 2 docker ps --format '{{.Names}}' -f "label=com.docker.swarm.service.name=$edge" | head -n 1)
run vic_on 2 port "$edge2"
expect_out "^80/tcp -> $(public_ip 2):8080\$" "docker vic port $edge2 on node 2: 80/tcp at node 2's public address"

# shellcheck source=scripts/e2e/swarm/container-networks.sh
. scripts/e2e/swarm/container-networks.sh

header "a node stops: Swarm runs its tasks elsewhere"
# veths_of I: the host ends of the veths of node I's containers on vic networks.
# shellcheck disable=SC2317 # run calls it
veths_of() { ip -n "vic-node-$1" -o link show | grep -oE ' ve-[0-9a-f]{12}' | tr -d ' ' | sort -u; }
old_veths=$(veths_of 3)
run bash scripts/nodes.sh stop 3
expect_ok "scripts/nodes.sh stop 3: node 3's engine and its tasks stop"
run_until 90 sh -c "[ \"\$(DOCKER_HOST=$VIC_NODE_1_HOST docker service ps -f desired-state=running --format '{{.Node}} {{.CurrentState}}' $web | grep ' Running' | grep -vc '^vic-node-3 ')\" -eq 6 ]"
expect_ok "the 6 tasks of $web run again, all on nodes 1 and 2"
run addresses_on 1 2
if [ "$status" -eq 0 ] && [ "$(grep -c . "$out")" -eq 6 ] && [ "$(sort -u "$out" | grep -c .)" -eq 6 ]; then
	pass "the 6 running tasks have 6 different addresses: none was handed out twice"
else
	fail "the 6 running tasks have 6 different addresses: none was handed out twice" "6 distinct addresses"
fi
far=$(task_on 2)
far_ip=$(ip_of 2 "$far")
run_until 20 on 1 docker exec "$(task_on 1)" timeout 5 wget -qO- "http://$far_ip/"
expect_out 'hello from vic-busybox' "a task on node 1 still reaches a task on node 2 at $far_ip"
run bash scripts/nodes.sh start 3
expect_ok "scripts/nodes.sh start 3: node 3's engine starts again, the plugin with it"
run_until 60 sh -c "DOCKER_HOST=$VIC_NODE_1_HOST docker node ls --format '{{.Hostname}} {{.Status}}' | grep -qx 'vic-node-3 Ready'"
expect_ok "node 3 is ready in the swarm again"
run_until 60 sh -c "! DOCKER_HOST=$VIC_NODE_3_HOST docker ps -aq -f label=com.docker.swarm.service.name=$web | grep -q ."
expect_ok "node 3 removed its old tasks of $web"
run_until 60 ip netns exec "$outside" curl -sS --max-time 5 "http://$(public_ip 3):8080/"
expect_out 'hello from vic-busybox' "the global service's task runs on node 3 again: port 8080 answers at $(public_ip 3)"
run_until 60 web_vms 2
expect_ok "docker vic containers: 6 container VMs of $web, on endpoints 1 and 2; node 3's plugin removed the VMs of its old tasks"
run veths_of 3
if [ "$status" -eq 0 ] && [ -n "$old_veths" ] && ! grep -qxF "$old_veths" "$out"; then
	pass "none of the veths node 3 had before it stopped is left (${old_veths//$'\n'/ })"
else
	fail "none of the veths node 3 had before it stopped is left (${old_veths//$'\n'/ })" "no old veth among them"
fi

header "a node crashes: back, its plugin holds nothing of its old tasks"
# As at a power-off: no one tells the plugin that the tasks' endpoints are gone, and the engine,
# a swarm node, keeps none of them across its restart. The new task must get port 8080 again.
old_edge=$(on 3 docker ps -q --no-trunc -f "label=com.docker.swarm.service.name=$edge")
run bash scripts/nodes.sh crash 3
expect_ok "scripts/nodes.sh crash 3: node 3's engine, plugin and containers are killed at once"
run bash scripts/nodes.sh start 3
expect_ok "scripts/nodes.sh start 3: node 3's engine starts again, the plugin with it"
run_until 60 sh -c "DOCKER_HOST=$VIC_NODE_1_HOST docker node ls --format '{{.Hostname}} {{.Status}}' | grep -qx 'vic-node-3 Ready'"
expect_ok "node 3 is ready in the swarm again"
run_until 120 ip netns exec "$outside" curl -sS --max-time 5 "http://$(public_ip 3):8080/"
expect_out 'hello from vic-busybox' "port 8080 answers at node 3's public address $(public_ip 3) again"
run on 3 docker ps -q --no-trunc -f "label=com.docker.swarm.service.name=$edge"
if [ "$status" -eq 0 ] && [ -n "$old_edge" ] && [ "$(grep -c . "$out")" -eq 1 ] && ! grep -qx "$old_edge" "$out"; then
	pass "a new task of $edge runs on node 3, not the one from before the crash"
else
	fail "a new task of $edge runs on node 3, not the one from before the crash" "one container, not ${old_edge:0:12}"
fi
run on 1 docker service ps --no-trunc --format '{{.Node}} {{.Error}}' "$edge"
if [ "$status" -eq 0 ] && ! grep '^vic-node-3 ' "$out" | grep -q 'external connectivity\|port already in use'; then
	pass "no task of $edge on node 3 was refused its port 8080 after the crash"
else
	fail "no task of $edge on node 3 was refused its port 8080 after the crash" "no error about port 8080 on vic-node-3"
fi
run grep -o 'the engine starts: forgot the endpoints[^"]*\\" endpoints=[0-9]*' "$VIC_NODES_DIR/node-3/dockerd.log"
expect_out 'endpoints=[1-9]' "node 3's plugin says, as its engine starts, that it forgot the endpoints of its dead tasks"
run vic_on 3 ps
if [ "$status" -eq 0 ] && [ "$(grep -c ':8080->80/tcp' "$out")" -eq 1 ]; then
	pass "docker vic ps on node 3: one endpoint publishes 8080, the new task's; the old one is forgotten"
else
	fail "docker vic ps on node 3: one endpoint publishes 8080, the new task's; the old one is forgotten" "one row with :8080->80/tcp"
fi

# shellcheck source=scripts/e2e/swarm/managers.sh
. scripts/e2e/swarm/managers.sh

header "removal"
run on 1 docker service rm "$web" "$edge" "$other"
expect_ok "docker service rm $web $edge $other"
run_until 60 sh -c "! DOCKER_HOST=$VIC_NODE_2_HOST docker ps -q | grep -q ."
expect_ok "the tasks are gone from node 2"
run_until 30 on 1 docker network rm "$net" "$net2"
expect_ok "docker network rm $net $net2"
# no_network_objects I: node I's namespace holds no link of a vic network (bridges, veths, spans,
# the trunk), no rule naming one and no span filter.
# shellcheck disable=SC2317 # run_until calls it
no_network_objects() {
	local links rules tables
	links=$(ip -n "vic-node-$1" -o link show | awk -F': ' '{print $2}')
	rules=$(ip netns exec "vic-node-$1" iptables-save)
	tables=$(ip netns exec "vic-node-$1" nft list tables)
	! grep -qE '^(vb|ve|vs|vw|vt)-' <<<"$links" && ! grep -qE 'v[bt]-' <<<"$rules" && ! grep -q 'bridge vic' <<<"$tables"
}
for i in $(seq 1 "$nodes"); do
	run_until 30 no_network_objects "$i"
	expect_ok "node $i: no link, rule or span filter of a vic network is left"
done

finish
