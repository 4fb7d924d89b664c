# shellcheck shell=bash disable=SC2154 # e2e-swarm.sh sets plugin, image, nodes, outside, out...
# container-networks.sh: the VCH's container networks in a swarm, sourced by scripts/e2e-swarm.sh
# (its functions: on, run, run_until, expect_*; its wires: a link of each node on the port groups
# VIC-Static and VIC-DHCP, bridged in $outside as vic-sw-cst and vic-sw-cdh).
#   - the swarm's manager makes their Docker networks itself, of swarm scope;
#   - a service on the static network swstatic (203.0.113.200-205, gateway .193) gets an
#     address of the range per task, none twice across the nodes, allocated by the manager;
#   - a service on the DHCP network swdhcp gets each task's address from the port group's DHCP
#     server (busybox udhcpd in $outside, 203.0.113.226-238, router .225), leased by the node
#     that runs it for the task's own MAC; tasks.NAME names those leases;
#   - tasks reach each other across nodes over the port group, and the port group's machine
#     (the outside) reaches them at their own addresses; a global service's published port
#     (mode=host) answers at each task's own address; removing the services gives the leases
#     back.

cn_static=swstatic cn_dhcp=swdhcp
cn_svc_static=vic-e2e-swcst cn_svc_dhcp=vic-e2e-swcdh cn_svc_pub=vic-e2e-swcpub
cn_dir=$VIC_NODES_DIR/udhcpd

# cn_stop_dhcp: stop the DHCP server of the DHCP port group, if it runs.
cn_stop_dhcp() {
	local pid
	pid=$(cat "$cn_dir/udhcpd.pid" 2>/dev/null || true)
	[ -z "$pid" ] || kill "$pid" 2>/dev/null || true
}
# e2e-swarm.sh's cleanup also stops the DHCP server (unless E2E_KEEP keeps it all).
eval "cn_$(declare -f cleanup)"
cleanup() {
	[ -n "${E2E_KEEP:-}" ] || cn_stop_dhcp
	cn_cleanup
}

# cn_tasks SERVICE NETWORK: "ADDRESS MAC NODE" of each task of SERVICE on NETWORK, on every node.
# shellcheck disable=SC2317 # run calls it
cn_tasks() {
	local i c
	for i in $(seq 1 "$nodes"); do
		for c in $(on "$i" docker ps -q -f "label=com.docker.swarm.service.name=$1"); do
			on "$i" docker inspect -f "{{with index .NetworkSettings.Networks \"$2\"}}{{.IPAddress}} {{.MacAddress}}{{end}} $i" "$c"
		done
	done
}

# cn_count SERVICE NETWORK N: the nodes run N containers of SERVICE's tasks on NETWORK.
# shellcheck disable=SC2317 # run_until calls it
cn_count() { [ "$(cn_tasks "$1" "$2" | grep -c .)" -eq "$3" ]; }

# cn_running SERVICE N: N tasks of SERVICE run.
# shellcheck disable=SC2317 # run_until calls it
cn_running() {
	[ "$(on 1 docker service ps -f desired-state=running --format '{{.CurrentState}}' "$1" | grep -c '^Running')" -eq "$2" ]
}

# cn_service NAME NETWORK N: a service NAME of N web servers on NETWORK, its tasks running; $out
# then holds cn_tasks of it.
cn_service() {
	run on 1 docker service create -d --name "$1" --replicas "$3" --network "$2" --endpoint-mode dnsrr \
		--restart-condition any "$image" httpd -f -p 80 -h /www
	expect_ok "docker service create --replicas $3 --network $2 --endpoint-mode dnsrr $1"
	run_until 90 cn_running "$1" "$3"
	expect_ok "the $3 tasks of $1 run"
	run cn_tasks "$1" "$2"
}

header "container networks in a swarm: the manager makes their networks"
run_until 60 on 1 docker network inspect -f '{{.Name}} {{.Scope}} {{.Driver}} {{range .IPAM.Config}}{{.Subnet}}{{end}}' "$cn_static" "$cn_dhcp"
if [ "$status" -eq 0 ] && grep -qx "$cn_static swarm $plugin 203.0.113.192/27" "$out" && grep -q "^$cn_dhcp swarm $plugin\b" "$out"; then
	pass "node 1, the manager, made $cn_static (203.0.113.192/27) and $cn_dhcp, of swarm scope with the plugin's driver"
else
	fail "node 1, the manager, made $cn_static (203.0.113.192/27) and $cn_dhcp, of swarm scope with the plugin's driver" "two networks of swarm scope"
fi

header "a service on the static container network"
cn_service "$cn_svc_static" "$cn_static" 5
static_ips=$(awk '{print $1}' "$out")
if [ "$status" -eq 0 ] && [ "$(sort -u <<<"$static_ips" | grep -c '^203\.0\.113\.20[0-5]$')" -eq 5 ] && [ "$(awk '{print $3}' "$out" | sort -u | grep -c .)" -ge 2 ]; then
	pass "the 5 tasks, on $(awk '{print $3}' "$out" | sort -u | grep -c .) nodes, have 5 different addresses of the range 203.0.113.200-205"
else
	fail "the 5 tasks, on several nodes, have 5 different addresses of the range 203.0.113.200-205" "5 distinct addresses of the range"
fi
cn_first=$(on 1 docker ps -q -f "label=com.docker.swarm.service.name=$cn_svc_static" | head -n 1)
run on 1 docker exec "$cn_first" nslookup "tasks.$cn_svc_static"
expect_out 'Address( [0-9]+)?: 203\.0\.113\.20[0-5]' "tasks.$cn_svc_static names the tasks' addresses of the range"
run_until 30 on 1 docker exec "$cn_first" sh -c "for a in \$(nslookup tasks.$cn_svc_static | sed -n 's/^Address[ 0-9]*: \(203\.[0-9.]*\).*/\1/p'); do timeout 5 wget -qO- http://\$a/ >/dev/null && echo \$a; done | sort -u | grep -c . | grep -qx 5"
expect_ok "from node 1, each of the 5 tasks answers at its address, across the nodes over the port group"
ip -n "$outside" addr add 203.0.113.193/27 dev vic-sw-cst
for a in $static_ips; do
	run_until 20 ip netns exec "$outside" busybox ping -c 1 -W 2 "$a"
	expect_ok "the port group's machine (at the gateway's address) reaches the task at $a, no NAT"
done
run on 1 docker service scale -d "$cn_svc_static=7"
expect_ok "docker service scale $cn_svc_static=7: one task more than the range's 6 addresses"
run_until 60 cn_running "$cn_svc_static" 6
expect_ok "6 tasks of $cn_svc_static run, one per address of the range"
sleep 5
run on 1 docker service ps -f desired-state=running --format '{{.CurrentState}}' "$cn_svc_static"
# A task the manager cannot give an address stays New: the swarm allocates it again later.
if [ "$status" -eq 0 ] && [ "$(grep -c '^Running' "$out")" -eq 6 ] && [ "$(grep -cE '^(New|Pending)' "$out")" -eq 1 ]; then
	pass "the seventh task waits for an address (New): none is handed out twice"
else
	fail "the seventh task waits for an address (New): none is handed out twice" "6 running tasks and 1 new"
fi
run cn_tasks "$cn_svc_static" "$cn_static"
if [ "$status" -eq 0 ] && [ "$(awk '{print $1}' "$out" | sort -u | grep -c '^203\.0\.113\.20[0-5]$')" -eq 6 ] && [ "$(grep -c . "$out")" -eq 6 ]; then
	pass "the 6 running tasks hold the 6 addresses of the range"
else
	fail "the 6 running tasks hold the 6 addresses of the range" "6 distinct addresses of the range"
fi
run on 1 docker service scale -d "$cn_svc_static=5"
# The containers of the tasks the scale removed stop a moment later.
run_until 60 cn_count "$cn_svc_static" "$cn_static" 5
expect_ok "docker service scale $cn_svc_static=5: 5 containers of its tasks are left on the nodes"
run cn_tasks "$cn_svc_static" "$cn_static"
static_ips=$(awk '{print $1}' "$out")

header "a service on the DHCP container network"
mkdir -p "$cn_dir"
ip -n "$outside" addr add 203.0.113.225/28 dev vic-sw-cdh
printf '%s\n' 'start 203.0.113.226' 'end 203.0.113.238' 'interface vic-sw-cdh' "lease_file $cn_dir/udhcpd.leases" \
	"pidfile $cn_dir/udhcpd.pid" 'opt subnet 255.255.255.240' 'opt router 203.0.113.225' 'opt lease 600' >"$cn_dir/udhcpd.conf"
: >"$cn_dir/udhcpd.leases"
ip netns exec "$outside" busybox udhcpd -f "$cn_dir/udhcpd.conf" >"$cn_dir/udhcpd.log" 2>&1 8>&- &
echo $! >"$cn_dir/udhcpd.pid"
cn_service "$cn_svc_dhcp" "$cn_dhcp" 3
dhcp_tasks=$(cat "$out")
if [ "$status" -eq 0 ] && [ "$(awk '{print $1}' <<<"$dhcp_tasks" | sort -u | grep -cE '^203\.0\.113\.(22[6-9]|23[0-8])$')" -eq 3 ]; then
	pass "the 3 tasks have 3 different addresses of the DHCP server's pool 203.0.113.226-238"
else
	fail "the 3 tasks have 3 different addresses of the DHCP server's pool 203.0.113.226-238" "3 distinct leased addresses"
fi
# busybox udhcpd writes its leases file on SIGUSR1: MAC, address, host name, time left.
kill -USR1 "$(cat "$cn_dir/udhcpd.pid")"
sleep 1
run busybox dumpleases -f "$cn_dir/udhcpd.leases"
leased=0
while read -r a mac _; do
	grep -qiE "^$mac +$a " "$out" && leased=$((leased + 1))
done <<<"$dhcp_tasks"
if [ "$leased" -eq 3 ]; then
	pass "each task's address is the DHCP server's lease for the task's own MAC"
else
	fail "each task's address is the DHCP server's lease for the task's own MAC" "3 leases matching the tasks (found $leased)"
fi
dhcp_first=$(on 1 docker ps -q -f "label=com.docker.swarm.service.name=$cn_svc_dhcp" | head -n 1)
if [ -n "$dhcp_first" ]; then
	run on 1 docker exec "$dhcp_first" ip route
	expect_out 'default via 203\.0\.113\.225' "a task routes through its lease's router 203.0.113.225"
	run on 1 docker exec "$dhcp_first" nslookup "tasks.$cn_svc_dhcp"
	if [ "$status" -eq 0 ] && [ "$(grep -cE '^Address( [0-9]+)?: 203\.0\.113\.2[23][0-9]' "$out")" -eq 3 ]; then
		pass "tasks.$cn_svc_dhcp names the 3 leased addresses, not the manager's placeholder"
	else
		fail "tasks.$cn_svc_dhcp names the 3 leased addresses, not the manager's placeholder" "3 addresses of the DHCP pool"
	fi
else
	fail "a task of $cn_svc_dhcp runs on node 1" "a task on node 1"
fi
while read -r a _ i; do
	run_until 20 ip netns exec "$outside" timeout 5 busybox wget -qO- "http://$a/"
	expect_out 'hello from vic-busybox' "the port group's machine reaches the task on node $i at its lease $a, port 80 (level peers: the lease's subnet)"
done <<<"$dhcp_tasks"

header "published ports of a service on a container network (mode=host)"
# As docker run -p on a container network: the port is published on the task's own address, so
# each task answers at its own lease (8081: the bridge network's global service holds 8080).
run on 1 docker service create -d --name "$cn_svc_pub" --mode global --network "$cn_dhcp" --endpoint-mode dnsrr \
	--publish mode=host,target=80,published=8081 "$image" httpd -f -p 80 -h /www
expect_ok "docker service create --mode global --network $cn_dhcp --publish mode=host,published=8081 $cn_svc_pub"
run_until 90 cn_running "$cn_svc_pub" "$nodes"
expect_ok "a task of $cn_svc_pub runs on each of the $nodes nodes"
run cn_tasks "$cn_svc_pub" "$cn_dhcp"
pub_tasks=$(cat "$out")
expect_value "$(grep -c . <<<"$pub_tasks")" "$nodes" "the nodes run $nodes containers of $cn_svc_pub's tasks" "$nodes tasks"
while read -r a _ i; do
	run_until 20 ip netns exec "$outside" timeout 5 busybox wget -qO- "http://$a:8081/"
	expect_out 'hello from vic-busybox' "the port group's machine reaches the task on node $i at its own address $a, port 8081"
done <<<"$pub_tasks"
run vic_on 2 ps
expect_out "^[0-9a-f]{12} +$cn_svc_pub\.[^ ]+ +$cn_dhcp +(203\.0\.113\.[0-9]+) +203\.0\.113\.[0-9]+:8081->80/tcp" "docker vic ps on node 2: its task of $cn_svc_pub, port 8081 on the task's own address"

header "docker run on another node, on the attachable container networks"
run on 2 docker run --rm --net "$cn_static" "$image" ip -4 -o addr show eth0
cn_ip=$(grep -oE '203\.0\.113\.[0-9]+' "$out" | head -n 1)
if [ "$status" -eq 0 ] && [[ $cn_ip =~ ^203\.0\.113\.20[0-5]$ ]] && ! grep -qx "$cn_ip" <<<"$static_ips"; then
	pass "docker run --net $cn_static on node 2, not the leader: $cn_ip of the range, held by no task"
else
	fail "docker run --net $cn_static on node 2, not the leader: an address of the range, held by no task" "a free address of 203.0.113.200-205"
fi
run on 2 docker run --rm --net "$cn_dhcp" "$image" ip -4 -o addr show eth0
expect_out 'inet 203\.0\.113\.(22[6-9]|23[0-8])/28' "docker run --net $cn_dhcp on node 2, not the leader: a lease of the DHCP server's pool"

header "removing the services of the container networks"
run on 1 docker service rm "$cn_svc_static" "$cn_svc_dhcp" "$cn_svc_pub"
expect_ok "docker service rm $cn_svc_static $cn_svc_dhcp $cn_svc_pub"
# cn_released: the DHCP server holds no active lease any more.
# shellcheck disable=SC2317 # run_until calls it
cn_released() {
	kill -USR1 "$(cat "$cn_dir/udhcpd.pid")" && sleep 0.5 &&
		! busybox dumpleases -f "$cn_dir/udhcpd.leases" | awk 'NR > 1' | grep -v expired | grep -q .
}
run_until 60 cn_released
expect_ok "the DHCP server's leases of the tasks are given back"
cn_stop_dhcp
