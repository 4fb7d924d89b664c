# shellcheck shell=bash disable=SC2154 # e2e-swarm.sh sets plugin, image, net, web, out, status...
# managers.sh: a swarm of three managers loses its leader, sourced by scripts/e2e-swarm.sh after
# its other parts (scripts/swarm.sh up 3 --managers 3: node 1 leads, nodes 2 and 3 follow). Its
# functions: on, run, run_until, expect_*, task_on, ip_of; container-networks.sh's $cn_static.
#   - node 1's engine stops: nodes 2 and 3 elect a leader, whose allocator asks its plugin
#     again for the swarm's allocations; the tasks of $web run again on nodes 2 and 3, the
#     ones that kept running keep their addresses and the new ones get addresses nobody holds,
#     node 1's old tasks' included; scaled up, every task has its own address and tasks reach
#     each other across nodes; the static container network's addresses stay unique; a vic
#     network made on the new leader works; a network is removed;
#   - node 1 comes back as a follower, and its plugin forgets the swarm's pools it held;
#   - node 1 leads again (the others demoted, then promoted back): the removed network's subnet
#     is free, and every address is still unique, also after its engine restarts.

mg_static=vic-e2e-swmst mg_net=vic-e2e-swnet3 mg_svc=vic-e2e-swsvc3
mg_gone=vic-e2e-swgone mg_back=vic-e2e-swback mg_net4=vic-e2e-swnet4 mg_subnet=172.30.0.0/16

# mg_addresses SERVICE NETWORK I...: the address on NETWORK of each container of SERVICE on the
# nodes I..., one a line.
# shellcheck disable=SC2317 # run calls it
mg_addresses() {
	local svc=$1 network=$2 i c
	shift 2
	for i in "$@"; do
		for c in $(on "$i" docker ps -q -f "label=com.docker.swarm.service.name=$svc"); do
			on "$i" docker inspect -f "{{(index .NetworkSettings.Networks \"$network\").IPAddress}}" "$c"
		done
	done
}

# mg_count SERVICE NETWORK N I...: the nodes I... run N containers of SERVICE's tasks.
# shellcheck disable=SC2317 # run_until calls it
mg_count() {
	local svc=$1 network=$2 n=$3
	shift 3
	[ "$(mg_addresses "$svc" "$network" "$@" | grep -c .)" -eq "$n" ]
}

# mg_running I SERVICE N: node I, a manager, sees N tasks of SERVICE running (a stopped node's
# tasks count until the swarm sees it down).
# shellcheck disable=SC2317 # run_until calls it
mg_running() {
	[ "$(on "$1" docker service ps -f desired-state=running --format '{{.CurrentState}}' "$2" | grep -c '^Running')" -eq "$3" ]
}

# mg_leader I: the number of the node that leads the swarm, as node I sees it.
mg_leader() { on "$1" docker node ls --format '{{.Hostname}} {{.ManagerStatus}}' | sed -n 's/^vic-node-\([0-9]*\) Leader$/\1/p'; }

# mg_leads I J: node I sees node J lead the swarm.
# shellcheck disable=SC2317 # run_until calls it
mg_leads() { [ "$(mg_leader "$1")" = "$2" ]; }

# mg_unique N [HELD]: $out holds N addresses, all different, none of the lines of HELD.
mg_unique() {
	[ "$(grep -c . "$out")" -eq "$1" ] && [ "$(sort -u "$out" | grep -c .)" -eq "$1" ] &&
		{ [ -z "${2:-}" ] || ! grep -qxFf <(printf '%s\n' "$2") "$out"; }
}

# mg_expect WHAT EXPECTED CMD...: pass WHAT when the last command and CMD succeed, else fail.
mg_expect() {
	local what=$1 expected=$2
	shift 2
	if [ "$status" -eq 0 ] && "$@"; then pass "$what"; else fail "$what" "$expected"; fi
}

# mg_distinct SERVICE NETWORK N WHAT: N containers of SERVICE's tasks run on the nodes, each
# with its own address on NETWORK.
mg_distinct() {
	run_until 90 mg_count "$1" "$2" "$3" 1 2 3
	expect_ok "$3 tasks of $1 run"
	run mg_addresses "$1" "$2" 1 2 3
	mg_expect "$4" "$3 distinct addresses" mg_unique "$3"
}

# mg_fresh N KEPT: $out holds N different addresses, every line of KEPT among them, and none
# of node 1's old tasks' ($web_lost).
mg_fresh() { mg_unique "$1" "$web_lost" && mg_holds "$2"; }

# mg_in_range: every address of $out is of the static container network's range.
mg_in_range() { ! grep -qvE '^203\.0\.113\.20[0-5]$' "$out"; }

# mg_holds LINES: $out holds every line of LINES.
mg_holds() { [ -z "$1" ] || [ -z "$(comm -23 <(sort -u <<<"$1") <(sort -u "$out"))" ]; }

header "three managers: the leader's engine stops"
run on 1 docker node ls --format '{{.Hostname}} {{.ManagerStatus}}'
if [ "$status" -eq 0 ] && grep -qx 'vic-node-1 Leader' "$out" && [ "$(grep -c ' Reachable$' "$out")" -eq 2 ]; then
	pass "docker node ls: node 1 leads, nodes 2 and 3 are managers too"
else
	fail "docker node ls: node 1 leads, nodes 2 and 3 are managers too" "vic-node-1 Leader and two Reachable"
fi
run on 1 docker network create -d "$plugin" --ipam-driver "$plugin" --subnet "$mg_subnet" "$mg_gone"
expect_ok "node 1: docker network create --subnet $mg_subnet $mg_gone, which goes while node 1 is away"
run on 1 docker service create -d --name "$mg_static" --replicas 3 --network "$cn_static" --endpoint-mode dnsrr \
	--restart-condition any "$image" httpd -f -p 80 -h /www
expect_ok "docker service create --replicas 3 --network $cn_static $mg_static"
run_until 90 mg_running 1 "$mg_static" 3
expect_ok "the 3 tasks of $mg_static run"
web_kept=$(mg_addresses "$web" "$net" 2 3)
web_lost=$(mg_addresses "$web" "$net" 1)
static_lost=$(mg_addresses "$mg_static" "$cn_static" 1)
say "    $web: on node 1 ${web_lost//$'\n'/ }; on nodes 2 and 3 ${web_kept//$'\n'/ }; $mg_static on node 1: ${static_lost//$'\n'/ }"

run bash scripts/nodes.sh stop 1
expect_ok "scripts/nodes.sh stop 1: the leader's engine and its tasks stop"
run_until 90 sh -c "DOCKER_HOST=$VIC_NODE_2_HOST docker node ls --format '{{.Hostname}} {{.ManagerStatus}}' | grep -Eqx 'vic-node-[23] Leader'"
expect_ok "nodes 2 and 3 elect a new leader"
leader=$(mg_leader 2)
leader=${leader:-2}
follower=$((5 - leader))
run_until 120 mg_count "$web" "$net" 6 2 3
expect_ok "node $leader leads: the 6 tasks of $web run again, on nodes 2 and 3"
run mg_addresses "$web" "$net" 2 3
mg_expect "6 different addresses on nodes 2 and 3: the tasks that kept running kept theirs, the new ones have none of node 1's old tasks'" \
	"6 distinct addresses holding ${web_kept//$'\n'/ }, none of ${web_lost//$'\n'/ }" mg_fresh 6 "$web_kept"
web_now=$(cat "$out")
run on "$leader" docker service scale -d "$web=9"
expect_ok "docker service scale $web=9 on node $leader"
run_until 90 mg_count "$web" "$net" 9 2 3
expect_ok "9 tasks of $web run on nodes 2 and 3"
run mg_addresses "$web" "$net" 2 3
mg_expect "9 different addresses: the 3 new tasks got none that the swarm had handed out" \
	"9 distinct addresses, none of ${web_lost//$'\n'/ }" mg_fresh 9 "$web_now"
far=$(task_on 3)
far_ip=$(ip_of 3 "$far")
run_until 20 on 2 docker exec "$(task_on 2)" timeout 5 wget -qO- "http://$far_ip/"
expect_out 'hello from vic-busybox' "a task on node 2 reaches a task on node 3 at $far_ip"

header "the static container network across the change of leader"
held=$(grep -c . <<<"$static_lost" || true)
run on "$leader" docker service scale -d "$mg_static=6"
expect_ok "docker service scale $mg_static=6: the range's 6 addresses, $held of them held by node 1's old tasks"
run_until 90 mg_count "$mg_static" "$cn_static" $((6 - held)) 2 3
expect_ok "$((6 - held)) tasks of $mg_static run on nodes 2 and 3: node 1's old tasks keep their addresses until node 1 says they stopped"
sleep 5
run mg_addresses "$mg_static" "$cn_static" 2 3
mg_expect "their $((6 - held)) addresses are different, none of node 1's old tasks'" "distinct addresses" \
	mg_unique $((6 - held)) "$static_lost"
mg_expect "all of them of the range 203.0.113.200-205" "addresses of the range" mg_in_range

header "a vic network made on the new leader"
run on "$leader" docker network create -d "$plugin" --ipam-driver "$plugin" --attachable "$mg_net"
expect_ok "node $leader: docker network create $mg_net"
run on "$leader" docker network inspect -f '{{range .IPAM.Config}}{{.Subnet}}{{end}}' "$mg_net" "$net" "$net2" "$mg_gone"
if [ "$status" -eq 0 ] && [ "$(sort -u "$out" | grep -c '^172\.')" -eq 4 ]; then
	pass "$mg_net has a subnet of its own ($(head -n 1 "$out")), none of $net's, $net2's or $mg_gone's"
else
	fail "$mg_net has a subnet of its own, none of $net's, $net2's or $mg_gone's" "4 different subnets"
fi
run on "$leader" docker service create -d --name "$mg_svc" --mode global --network "$mg_net" --endpoint-mode dnsrr \
	"$image" httpd -f -p 80 -h /www
expect_ok "docker service create --mode global --network $mg_net $mg_svc"
run_until 60 mg_running "$leader" "$mg_svc" 2
expect_ok "its tasks run on nodes 2 and 3"
far_ip=$(mg_addresses "$mg_svc" "$mg_net" 3 | head -n 1)
near=$(on 2 docker ps -q -f "label=com.docker.swarm.service.name=$mg_svc" | head -n 1)
run_until 20 on 2 docker exec "$near" timeout 5 wget -qO- "http://$far_ip/"
expect_out 'hello from vic-busybox' "its task on node 2 reaches its task on node 3 at $far_ip"
run on "$leader" docker network rm "$mg_gone"
expect_ok "docker network rm $mg_gone ($mg_subnet) while node 1 is away"

header "the old leader comes back, and follows"
run bash scripts/nodes.sh start 1
expect_ok "scripts/nodes.sh start 1: node 1's engine starts again, the plugin with it"
run_until 90 sh -c "DOCKER_HOST=$VIC_NODE_2_HOST docker node ls --format '{{.Hostname}} {{.Status}} {{.ManagerStatus}}' | grep -qx 'vic-node-1 Ready Reachable'"
expect_ok "node 1 is ready again, a manager that follows node $leader"
run_until 60 grep -c "forgot the swarm's pools" "$VIC_NODES_DIR/node-1/dockerd.log"
expect_ok "node 1's plugin forgot the swarm's pools it held as the leader"
run_until 90 mg_running "$leader" "$mg_static" 6
expect_ok "node 1's old tasks stopped and gave their addresses back: 6 tasks of $mg_static run"
mg_distinct "$mg_static" "$cn_static" 6 "the 6 tasks of $mg_static hold 6 different addresses across the nodes"
mg_expect "all of them of the range 203.0.113.200-205" "addresses of the range" mg_in_range

header "the old leader leads again"
run on "$leader" docker node demote "vic-node-$follower"
expect_ok "docker node demote vic-node-$follower"
run on 1 docker node demote "vic-node-$leader"
expect_ok "docker node demote vic-node-$leader, from node 1"
run_until 90 mg_leads 1 1
expect_ok "node 1 leads the swarm again, its only manager"
run on 1 docker network create -d "$plugin" --ipam-driver "$plugin" --subnet "$mg_subnet" "$mg_back"
expect_ok "docker network create --subnet $mg_subnet $mg_back: the subnet of the network removed meanwhile is free"
run on 1 docker service scale -d "$web=12"
expect_ok "docker service scale $web=12 on node 1"
mg_distinct "$web" "$net" 12 "12 different addresses across the nodes: nothing handed out twice"
mg_distinct "$mg_svc" "$mg_net" 3 "the global $mg_svc runs on the 3 nodes, with 3 different addresses"
run bash scripts/nodes.sh restart 1
expect_ok "scripts/nodes.sh restart 1: the engine of the only manager starts again, its plugin with it"
run_until 90 mg_leads 1 1
expect_ok "node 1 leads again"
mg_distinct "$web" "$net" 12 "12 different addresses: the allocator's requests for them all were answered as before, nothing twice"
header "the leader's plugin loses its state database"
run on 1 docker plugin disable -f "$plugin"
expect_ok "docker plugin disable -f $plugin on node 1, the leader: its tasks keep running"
run rm -f "$VIC_NODES_DIR/node-1/state/state.db"
expect_ok "its state database is gone"
run on 1 docker plugin enable "$plugin"
expect_ok "docker plugin enable $plugin: it rebuilds its pools from Docker, and the swarm's from the swarm"
run on 1 docker network create -d "$plugin" --ipam-driver "$plugin" "$mg_net4"
expect_ok "docker network create $mg_net4"
run on 1 docker network inspect -f '{{range .IPAM.Config}}{{.Subnet}}{{end}}' "$mg_net4" "$net" "$net2" "$mg_net" "$mg_back"
mg_expect "$mg_net4 has a subnet of its own ($(head -n 1 "$out")): the swarm's are rebuilt" "5 different subnets" \
	[ "$(sort -u "$out" | grep -c '^172\.')" -eq 5 ]
run on 1 docker service scale -d "$web=15"
expect_ok "docker service scale $web=15"
mg_distinct "$web" "$net" 15 "15 tasks of $web run with 15 different addresses: the rebuilt pool holds every task's"

run on 1 docker node promote vic-node-2 vic-node-3
expect_ok "docker node promote vic-node-2 vic-node-3: three managers again"

header "removing what the change of leader made"
run on 1 docker service rm "$mg_static" "$mg_svc"
expect_ok "docker service rm $mg_static $mg_svc"
run on 1 docker service scale -d "$web=6"
expect_ok "docker service scale $web=6"
run_until 60 on 1 docker network rm "$mg_net" "$mg_back" "$mg_net4"
expect_ok "docker network rm $mg_net $mg_back $mg_net4"
