# shellcheck shell=bash disable=SC2154,SC2034 # e2e-appliance.sh sets iso, image, work, out, the testbed's exports...
# swarm.sh: a VCH of two endpoints that boot, sourced by scripts/e2e-appliance.sh after its VCH of
# one is removed (its functions: client, run, run_until, expect_*, qemu_pids_of). From the client
# network, as a user would:
#   - docker vic create --endpoints 2 boots two appliances, each with its own static public,
#     client and management addresses and its own certificate, and makes them one swarm:
#     endpoint 1 the manager, endpoint 2 a worker, the vic drivers a managed plugin on each;
#   - docker --context VCH node ls shows two ready nodes, and each endpoint's Docker API answers
#     with the VCH's client certificate;
#   - a service on a vic network of swarm scope, one task per endpoint (--mode global): each
#     endpoint's public address answers its mode=host published port from the outside machine,
#     and the task on endpoint 1 reaches the one on endpoint 2 at its own address, through the
#     bridge port group; tasks.NAME names both;
#   - vSphere shows each task's container VM beside the endpoint VM that runs it;
#   - endpoint 2 powered off and on in vSphere boots again into its place in the swarm, and a
#     new task of the global service publishes port 8080 there again;
#   - docker vic configure --endpoints 3 boots a third endpoint that joins the swarm and runs a
#     task of the global service, and endpoints 2 and 3 become managers beside endpoint 1;
#     --endpoints 2 takes it out again and leaves one manager; --endpoints 1 is refused;
#   - docker vic rm stops both qemus and leaves nothing.

sw=vic-e2e-sw
sw_net=vic-e2e-span sw_web=vic-e2e-swweb
sw_pub2=198.51.100.3 sw_client2=203.0.113.3 sw_mgmt2=203.0.113.99
sw_pub3=198.51.100.4 sw_client3=203.0.113.4 sw_mgmt3=203.0.113.101
sw_certs=$DOCKER_CONFIG/vic/$sw

# swdocker ARGS...: docker on the swarm VCH's context (its manager, endpoint 1).
swdocker() { client docker --context "$sw" "$@"; }
# swdocker_at ADDR ARGS...: docker on the Docker API at ADDR, with the VCH's client certificate.
swdocker_at() {
	local a=$1
	shift
	client docker -H "tcp://$a:2376" --tlsverify --tlscacert "$sw_certs/ca.pem" \
		--tlscert "$sw_certs/cert.pem" --tlskey "$sw_certs/key.pem" "$@"
}
# swdocker2 ARGS...: docker on endpoint 2's Docker API.
swdocker2() { swdocker_at "$sw_client2" "$@"; }
# sw_ready N: the swarm has N ready nodes.
sw_ready() { test "$(swdocker node ls --format '{{.Status}}' | grep -c '^Ready')" -eq "$1"; }
# sw_running N: N tasks of $sw_web run.
sw_running() {
	test "$(swdocker service ps "$sw_web" --filter desired-state=running --format '{{.CurrentState}}' | grep -c '^Running')" -eq "$1"
}
# sw_vms_on ENDPOINTS: docker vic containers shows the tasks' container VMs powered on, beside
# ENDPOINTS (sorted, space-separated endpoint VM names).
sw_vms_on() {
	local rows
	rows=$(docker vic containers "$sw" | awk -v w="^$sw_web\\." '$1 ~ w && $3 == "poweredOn" {print $4}' | sort | paste -sd' ')
	echo "$rows"
	[ "$rows" = "$1" ]
}
# sw_qemus N: N qemus run endpoint VMs of $sw.
sw_qemus() { test "$(qemu_pids_of "$sw" | wc -l)" -eq "$1"; }
# sw_new_task2 OLD: endpoint 2 runs a task of $sw_web other than container OLD.
sw_new_task2() {
	local id
	id=$(swdocker2 ps -q --filter "label=com.docker.swarm.service.name=$sw_web")
	echo "$id"
	[ -n "$1" ] && [ -n "$id" ] && [ "$id" != "$1" ]
}
# sw_task_ip N: the address of the task of $sw_web that endpoint N runs.
sw_task_ip() {
	local d=swdocker id
	[ "$1" = 2 ] && d=swdocker2
	id=$($d ps -q --filter "label=com.docker.swarm.service.name=$sw_web" | head -n 1)
	[ -n "$id" ] && $d inspect -f "{{(index .NetworkSettings.Networks \"$sw_net\").IPAddress}}" "$id"
}

header "a VCH of two endpoints: one swarm"
sw_args=(--name "$sw" --compute-resource /DC0/host/DC0_C0 --appliance-iso "$iso" --timeout 8m --endpoints 2
	--public-network Docker-Public --public-network-ip "$VIC_PUBLIC_CIDR,$sw_pub2/24" --public-network-gateway "$VIC_PUBLIC_GATEWAY"
	--bridge-network VIC-Bridge
	--client-network VIC-Client --client-network-ip "$VIC_CLIENT_CIDR,$sw_client2/26"
	--management-network VIC-Management --management-network-ip "$VIC_MANAGEMENT_CIDR,$sw_mgmt2/27")
sw_made=1
start=$SECONDS
RUN_TIMEOUT=510 run client docker vic create "${sw_args[@]}"
expect_ok "docker vic create --endpoints 2 $sw, in $((SECONDS - start)) s"
expect_lines "create's progress" "endpoint 1: certificate signed for .*$VIC_CLIENT_IP" "endpoint 2: certificate signed for .*$sw_client2" \
	"endpoint 2: vic drivers serving" "swarm started on endpoint 1 \($VIC_CLIENT_IP:2377\)" \
	"endpoint 2 joined the swarm" "swarm ready: 2 nodes" "Docker context \"$sw\" created"
if [ "$status" -ne 0 ]; then
	say "    the harness's last lines:"
	tail -n 20 "$VIC_HARNESS_LOG" | sed 's/^/      /'
fi
run sw_qemus 2
expect_ok "two endpoint VMs run under qemu"

run swdocker node ls --format '{{.Hostname}} {{.Status}} {{.ManagerStatus}}'
if [ "$(grep -c ' Ready' "$out")" -eq 2 ] && grep -q "^$sw Ready Leader" "$out"; then
	pass "docker --context $sw node ls: 2 nodes ready, endpoint 1 the leader"
else
	fail "docker --context $sw node ls: 2 nodes ready, endpoint 1 the leader" "2 Ready lines, one Leader"
fi
run client docker vic inspect "$sw"
if [ "$(grep -cE "^  [12] +$sw(-2)? .* ready; vic drivers serving\$" "$out")" -eq 2 ]; then
	pass "docker vic inspect $sw: both endpoints' appliances ready, their vic drivers serving"
else
	fail "docker vic inspect $sw: both endpoints' appliances ready, their vic drivers serving" "two endpoint lines ending 'ready; vic drivers serving'"
fi
run swdocker2 plugin ls --format '{{.Name}} {{.Enabled}}'
expect_out '^vic:latest true' "endpoint 2's Docker API answers with the VCH's certificate, the vic plugin enabled"

run sh -c "docker save $image >$work/image.tar"
expect_ok "docker save $image"
run client docker --context "$sw" load -i "$work/image.tar"
expect_out "$image" "docker --context $sw load: the image on endpoint 1"
run swdocker2 load -i "$work/image.tar"
expect_out "$image" "docker -H tcp://$sw_client2:2376 load: the image on endpoint 2"

run swdocker network create -d vic:latest --ipam-driver vic:latest --attachable "$sw_net"
expect_ok "docker network create -d vic:latest $sw_net, of swarm scope"
run swdocker service create -d --name "$sw_web" --mode global --network "$sw_net" --endpoint-mode dnsrr \
	--publish mode=host,target=80,published=8080 "$image" httpd -f -p 80 -h /www
expect_ok "docker service create --mode global --publish mode=host,published=8080 $sw_web"
run_until 180 sw_running 2
expect_ok "a task of $sw_web runs on each endpoint"
for a in "$VIC_PUBLIC_IP" "$sw_pub2"; do
	run_until 30 in_ns "$VIC_OUTSIDE_NS" busybox wget -qO- "http://$a:8080/"
	expect_out 'hello from vic-busybox' "the outside machine reaches $sw_web at endpoint $a:8080"
done
ip1=$(sw_task_ip 1 || true)
ip2=$(sw_task_ip 2 || true)
expect_value "$ip1 $ip2" '^172\.[0-9.]+ 172\.[0-9.]+$' "the tasks have addresses of $sw_net: $ip1 and $ip2" "two addresses"
task1=$(swdocker ps -q --filter "label=com.docker.swarm.service.name=$sw_web" | head -n 1)
run swdocker exec "$task1" wget -qO- "http://$ip2/"
expect_out 'hello from vic-busybox' "the task on endpoint 1 reaches the task on endpoint 2 at $ip2, over the bridge port group"
run swdocker exec "$task1" nslookup "tasks.$sw_web"
if grep -qF "$ip1" "$out" && grep -qF "$ip2" "$out"; then pass "tasks.$sw_web names both tasks"; else fail "tasks.$sw_web names both tasks" "$ip1 and $ip2"; fi
run_until 30 sw_vms_on "$sw $sw-2"
expect_ok "vSphere: a container VM of $sw_web beside each endpoint VM ($sw, $sw-2)"

header "an endpoint of the swarm reboots"
old_task2=$(swdocker2 ps -q --filter "label=com.docker.swarm.service.name=$sw_web" || true)
run bin/vic-vmconfig power "$sw-2" off
expect_ok "vSphere powers endpoint VM $sw-2 off"
run_until 90 sw_ready 1
expect_ok "the swarm sees endpoint 2 down"
run bin/vic-vmconfig power "$sw-2" on
expect_ok "vSphere powers endpoint VM $sw-2 on"
run_until 300 sw_ready 2
expect_ok "endpoint 2 boots again and is a ready node: its engine kept its place in the swarm on the data disk"
run_until 180 sw_new_task2 "$old_task2"
expect_ok "endpoint 2 runs a new task of the global service $sw_web (its old one was ${old_task2:-none})"
run_until 60 in_ns "$VIC_OUTSIDE_NS" busybox wget -qO- "http://$sw_pub2:8080/"
expect_out 'hello from vic-busybox' "the outside machine reaches $sw_web at endpoint 2's $sw_pub2:8080 again"

header "configure: the swarm gains an endpoint, and loses it"
RUN_TIMEOUT=560 run client docker vic configure "$sw" --endpoints 3 --timeout 9m \
	--public-network-ip "$VIC_PUBLIC_CIDR,$sw_pub2/24,$sw_pub3/24" --client-network-ip "$VIC_CLIENT_CIDR,$sw_client2/26,$sw_client3/26" \
	--management-network-ip "$VIC_MANAGEMENT_CIDR,$sw_mgmt2/27,$sw_mgmt3/27"
expect_ok "docker vic configure $sw --endpoints 3"
expect_lines "configure's progress" "endpoint 3: certificate signed for .*$sw_client3" "endpoint 3 joined the swarm" "swarm ready: 3 nodes" \
	"endpoint 2 is a manager of the swarm" "endpoint 3 is a manager of the swarm"
run swdocker node ls --format '{{.Hostname}} {{.Status}} {{.ManagerStatus}}'
expect_out "^$sw-3 Ready Reachable" "docker node ls: endpoint VM $sw-3 is a ready node, and a manager"
expect_value "$(grep -cE ' (Leader|Reachable)$' "$out")" 3 "the swarm of three endpoints has three managers" "3 manager lines"
run swdocker_at "$sw_client3" load -i "$work/image.tar"
expect_out "$image" "docker -H tcp://$sw_client3:2376 load: the image on endpoint 3"
# Its first task there was rejected (no image yet): Swarm tries again after a growing delay.
run_until 240 sw_running 3
expect_ok "the global service $sw_web runs a task on endpoint 3 too"
run_until 30 in_ns "$VIC_OUTSIDE_NS" busybox wget -qO- "http://$sw_pub3:8080/"
expect_out 'hello from vic-busybox' "the outside machine reaches $sw_web at endpoint 3's $sw_pub3:8080"
RUN_TIMEOUT=300 run client docker vic configure "$sw" --endpoints 2
expect_ok "docker vic configure $sw --endpoints 2"
expect_out "the node of endpoint VM \"$sw-3\" left the swarm" "configure takes endpoint 3's node out of the swarm"
expect_out "the node of endpoint VM \"$sw-3\" is drained, and a worker, before its VM goes" "configure drains endpoint 3's node and demotes it before its VM goes"
run_until 30 sw_ready 2
expect_ok "the swarm has 2 ready nodes again"
run swdocker node ls --format '{{.Hostname}}'
if [ "$status" -eq 0 ] && ! grep -qx "$sw-3" "$out"; then pass "docker node ls no longer lists $sw-3"; else fail "docker node ls no longer lists $sw-3" "no $sw-3 line"; fi
run swdocker node ls --format '{{.Hostname}} {{.ManagerStatus}}'
expect_value "$(grep -cE ' (Leader|Reachable)$' "$out")" 1 "back to two endpoints, endpoint 1 is the one manager again" "1 manager line"
run_until 30 sw_qemus 2
expect_ok "endpoint VM $sw-3's qemu is gone"
run client docker vic configure "$sw" --endpoints 1
expect_err 'boots the appliance as a swarm of endpoints, and stays so' "configure --endpoints 1 is refused: a swarm stays a swarm"

header "docker vic rm of the VCH of two endpoints"
pids=$(qemu_pids_of "$sw" | tr '\n' ' ')
run client docker vic rm --force "$sw"
expect_ok "docker vic rm --force $sw"
sw_made=0
run_until 30 sw_qemus 0
expect_ok "both endpoint VMs' qemus ($pids) are gone"
run client docker vic ls
if [ "$status" -eq 0 ] && ! grep -q "$sw" "$out"; then pass "docker vic ls no longer lists $sw"; else fail "docker vic ls no longer lists $sw" "no $sw line"; fi
