# shellcheck shell=bash disable=SC2086,SC2154 # e2e-endpoint.sh sets prefix, image, out... (no blanks)
# Use case 4 of the VIC documents: a container using an external network. The container network
# consumer (port group External-Consumer, firewall level published) gives containers their own
# address and MAC on the port group; docker vic configure changes the level while they run.

header "container network consumer (VIC: a container using an external network)"
if [ "$(docker network inspect -f '{{.Driver}}' consumer 2>/dev/null || true)" != vic ]; then
	fail "vic-endpoint made the 'consumer' network for port group External-Consumer (SPEC §5)" "a vic network named consumer"
	return 0
fi
pass "vic-endpoint made the Docker network 'consumer' for port group External-Consumer by itself"
run docker run -d --net consumer -p 80:80 -p 8081:80 --name ${prefix}ext $image httpd -f -p 80 -h /www
expect_ok "docker run -d --net consumer -p 80:80 -p 8081:80 ${prefix}ext"
ext_ip=$(cip ${prefix}ext consumer)
expect_value "$ext_ip" '203\.0\.113\.(1[45][0-9]|160)' "${prefix}ext has an address of the configured range: $ext_ip" \
	"an address in 203.0.113.140-203.0.113.160"
run_until 10 in_ns "$VIC_NET_CONSUMER_NS" busybox wget -qO- "http://$ext_ip/"
expect_out 'hello from vic-busybox' "a machine on External-Consumer reaches ${prefix}ext at its own address, no NAT"
run in_ns "$VIC_NET_CONSUMER_NS" busybox wget -qO- "http://$ext_ip:8081/"
expect_out 'hello from vic-busybox' "-p 8081:80 on a container network: port 8081 of the container's address reaches its port 80"
run docker exec -d ${prefix}ext httpd -f -p 8080 -h /www
run docker exec ${prefix}ext wget -qO- http://127.0.0.1:8080/
expect_out 'hello from vic-busybox' "inside ${prefix}ext, an unpublished port 8080 answers on loopback"
run in_ns "$VIC_NET_CONSUMER_NS" busybox wget -qO- "http://$ext_ip:8080/"
expect_no_reach "firewall level published: the unpublished port 8080 is closed to the port group"
run in_ns "$VIC_NET_CONSUMER_NS" busybox ping -c 1 -W 2 "$ext_ip"
expect_ok "firewall level published: ${prefix}ext answers ping"
run docker exec ${prefix}ext ping -c 1 -W 2 203.0.113.130
expect_ok "${prefix}ext reaches the port group's machine 203.0.113.130 (outbound is open)"
if [ "$port_source" = plugin ]; then
	run docker vic port ${prefix}ext
	expect_out "80/tcp -> $ext_ip:8081" "docker vic port ${prefix}ext shows 8081 at the container's own address"
fi
mac=$(docker inspect -f '{{(index .NetworkSettings.Networks "consumer").MacAddress}}' ${prefix}ext)
run in_ns "$VIC_NET_CONSUMER_NS" ip neigh show "$ext_ip"
expect_out "$mac" "the port group sees ${prefix}ext with its own MAC $mac (a macvlan, not the endpoint's NIC)"
vm=${prefix}ext-$(docker inspect -f '{{.Id}}' ${prefix}ext | cut -c1-12)
run_until 20 sh -c "docker vic containers $VIC_VCH | grep -E '^$vm +[0-9a-f]{12} +poweredOn +$VIC_VCH +External-Consumer=$mac\$'"
expect_ok "vSphere: container VM $vm is powered on, with one NIC on External-Consumer carrying the container's MAC"
run docker stop -t 1 ${prefix}ext
run_until 20 sh -c "docker vic containers $VIC_VCH | grep -E '^$vm +[0-9a-f]{12} +poweredOff '"
expect_ok "vSphere: docker stop powers container VM $vm off"
run docker network create -d vic --ipam-driver vic -o com.docker.network.vic.portgroup=VIC-Bridge --ipam-opt com.docker.network.vic.portgroup=VIC-Bridge ${prefix}pg
expect_err 'not a container network' "a vic network on a port group the VCH does not list as a container network"

header "docker vic configure changes the firewall level of running containers"
run docker run -d --expose=80 --net=consumer --name ${prefix}exp $image httpd -f -p 80 -h /www
expect_ok "docker run -d --expose=80 --net=consumer ${prefix}exp (the VIC document's external network use case)"
exp_ip=$(cip ${prefix}exp consumer)
run_until 10 in_ns "$VIC_NET_CONSUMER_NS" busybox wget -qO- "http://$exp_ip/"
expect_out 'hello from vic-busybox' "--expose=80: port 80 of ${prefix}exp answers at its own address"
run docker vic configure "$VIC_VCH" --container-network-firewall External-Consumer:closed
expect_ok "docker vic configure $VIC_VCH --container-network-firewall External-Consumer:closed"
run_until 20 sh -c "! timeout 3 ip netns exec $VIC_NET_CONSUMER_NS busybox wget -qO- http://$exp_ip/"
expect_ok "the new level reaches the running ${prefix}exp within seconds: port 80 no longer answers the port group"
run docker vic configure "$VIC_VCH" --container-network-firewall External-Consumer:published
expect_ok "docker vic configure back to published"
run_until 20 in_ns "$VIC_NET_CONSUMER_NS" busybox wget -qO- "http://$exp_ip/"
expect_out 'hello from vic-busybox' "published again: port 80 of ${prefix}exp answers"

header "clean up"
run docker rm -f ${prefix}ext ${prefix}exp
expect_ok "docker rm -f ${prefix}ext ${prefix}exp"
run_until 20 sh -c "! docker vic containers $VIC_VCH | grep -E '^${prefix}(ext|exp)-'"
expect_ok "vSphere: the container VMs go with their containers"
run sh -c "ip -o link show | grep -E ': vm-' || true"
if [ ! -s "$out" ]; then pass "no container macvlan (vm-*) is left on the endpoint"; else fail "no vm-* link left" "no vm-* link"; fi
