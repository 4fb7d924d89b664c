# shellcheck shell=bash disable=SC2086,SC2154 # e2e-endpoint.sh sets prefix, image, out... (no blanks)
# Use case 1 of the VIC documents: a container with a published port (docker run -p 8080:80) on
# a vic bridge network, and what goes with published ports: the host addresses they live on,
# ranges, ephemeral host ports, UDP, conflicts naming the holder, hairpin.

header "use case 1: container with published port (docker run -p 8080:80)"
run docker network create -d vic --ipam-driver vic ${prefix}default
expect_ok "docker network create -d vic --ipam-driver vic ${prefix}default"
run docker network ls --filter name=^${prefix}default\$ --format '{{.Name}} {{.Driver}}'
expect_out "^${prefix}default vic$" "docker network ls shows ${prefix}default with driver vic"
run docker network inspect -f '{{range .IPAM.Config}}{{.Subnet}} {{.Gateway}}{{end}}' ${prefix}default
expect_out '^172\.(1[6-9]|2[0-9]|3[01])\.0\.0/16 172\.[0-9]+\.0\.1$' "${prefix}default is a /16 of the bridge range 172.16.0.0/12, gateway .1"
run docker run -d -p 8080:80 --net ${prefix}default --name ${prefix}web $image httpd -f -p 80 -h /www
expect_ok "docker run -d -p 8080:80 --net ${prefix}default --name ${prefix}web"
run docker exec ${prefix}web ip -o -4 addr show
if [ "$status" -eq 0 ] && [ "$(grep -cv ' lo ' "$out")" -eq 1 ]; then pass "${prefix}web has one interface besides lo (no docker_gwbridge leg)"; else
	fail "${prefix}web has one interface besides lo" "lo and eth0 only"
fi
run_until 10 in_ns "$VIC_OUTSIDE_NS" busybox wget -qO- "http://$VIC_PUBLIC_IP:8080/"
expect_out 'hello from vic-busybox' "the outside machine reaches the page at $VIC_PUBLIC_IP:8080 (the VCH's public address)"
run web_get http://127.0.0.1:8080/
expect_out 'hello from vic-busybox' "the endpoint itself reaches it at 127.0.0.1:8080"
run web_get "http://$VIC_PUBLIC_IP:8080/"
expect_out 'hello from vic-busybox' "the endpoint itself reaches it at $VIC_PUBLIC_IP:8080"
run in_ns "$VIC_CLIENTSIDE_NS" busybox wget -qO- "http://$VIC_CLIENT_IP:8080/"
expect_no_reach "a machine on the client network does not reach port 8080 at the client address $VIC_CLIENT_IP"
run in_ns "$VIC_CLIENTSIDE_NS" busybox wget -qO- "http://$VIC_MANAGEMENT_IP:8080/"
expect_no_reach "a machine on the management network does not reach port 8080 at the management address $VIC_MANAGEMENT_IP"
run web_get "http://$VIC_CLIENT_IP:8080/"
expect_no_reach "the endpoint itself does not reach port 8080 at the client address"
if [ "$port_source" = plugin ]; then
	run docker vic port ${prefix}web
	expect_out "80/tcp.*8080" "docker vic port ${prefix}web shows 80/tcp on host port 8080"
	web_vm=${prefix}web-$(docker inspect -f '{{.Id}}' ${prefix}web | cut -c1-12)
	web_mac=$(docker inspect -f "{{(index .NetworkSettings.Networks \"${prefix}default\").MacAddress}}" ${prefix}web)
	run_until 20 sh -c "docker vic containers $VIC_VCH | grep -E '^$web_vm +[0-9a-f]{12} +poweredOn +$VIC_VCH +VIC-Bridge=$web_mac\$'"
	expect_ok "vSphere: container VM $web_vm is powered on, with its NIC on the bridge port group VIC-Bridge carrying the container's MAC"
	run docker vic ps
	expect_out "${prefix}web.*8080" "docker vic ps lists ${prefix}web with 8080"
fi

header "hairpin: a container reaches its own published port at the public address"
run docker exec ${prefix}web wget -qO- "http://$VIC_PUBLIC_IP:8080/"
expect_out 'hello from vic-busybox' "${prefix}web reaches its own published port $VIC_PUBLIC_IP:8080"

header "host addresses of published ports"
run docker run -d -p 127.0.0.1:8082:80 --net ${prefix}default --name ${prefix}local $image httpd -f -p 80 -h /www
expect_ok "docker run -d -p 127.0.0.1:8082:80 ${prefix}local"
run_until 10 web_get http://127.0.0.1:8082/
expect_out 'hello from vic-busybox' "the endpoint reaches ${prefix}local at 127.0.0.1:8082"
run in_ns "$VIC_OUTSIDE_NS" busybox wget -qO- "http://$VIC_PUBLIC_IP:8082/"
expect_no_reach "the outside machine does not reach a port published on 127.0.0.1 only"
run docker run -d -p "$VIC_CLIENT_IP:8083:80" --net ${prefix}default --name ${prefix}on-client $image httpd -f -p 80 -h /www
expect_err "public address|127\\.0\\.0\\.1" "-p $VIC_CLIENT_IP:8083:80 (the client address) is refused, naming where ports may live"
docker rm -f ${prefix}on-client >/dev/null 2>&1 || true

header "a range of published ports: -p 9000-9002:9000-9002"
run docker run -d -p 9000-9002:9000-9002 --net ${prefix}default --name ${prefix}range $image httpd -f -p 9001 -h /www
expect_ok "docker run -d -p 9000-9002:9000-9002 ${prefix}range"
run docker vic port ${prefix}range
expect_out '9002/tcp -> 198\.51\.100\.2:9002' "docker vic port lists every port of the range"
run_until 10 in_ns "$VIC_OUTSIDE_NS" busybox wget -qO- "http://$VIC_PUBLIC_IP:9001/"
expect_out 'hello from vic-busybox' "the outside machine reaches port 9001 of the range"
run docker vic ps
expect_out "${prefix}range.*9000" "docker vic ps shows the container and its ports"
docker rm -f ${prefix}range >/dev/null 2>&1 || true

header "ephemeral host ports: -p 80 and -P"
run docker run -d -p 80 --net ${prefix}default --name ${prefix}eph $image httpd -f -p 80 -h /www
expect_ok "docker run -d -p 80 ${prefix}eph"
run docker run -d --expose 80 -P --net ${prefix}default --name ${prefix}eph-all $image httpd -f -p 80 -h /www
expect_ok "docker run -d --expose 80 -P ${prefix}eph-all"
for name in ${prefix}eph ${prefix}eph-all; do
	if [ -z "$port_source" ]; then
		skip "$name: the picked host port cannot be read (no docker vic port, no curl+jq)"
		continue
	fi
	hp=$(host_port "$name" 80/tcp ${prefix}default)
	if [ -n "$hp" ] && [ "$hp" -ge 1024 ]; then
		status=0
		: >"$out"
		: >"$err"
		pass "$name got an ephemeral host port for 80/tcp: $hp"
		run_until 10 in_ns "$VIC_OUTSIDE_NS" busybox wget -qO- "http://$VIC_PUBLIC_IP:$hp/"
		expect_out 'hello from vic-busybox' "the outside machine reaches $name at $VIC_PUBLIC_IP:$hp"
	else
		status=1
		: >"$out"
		: >"$err"
		fail "$name got an ephemeral host port for 80/tcp" "a port >= 1024 from docker vic port (got '${hp}')"
	fi
done

header "UDP: -p 5353:5353/udp"
run docker run -d -p 5353:5353/udp --net ${prefix}default --name ${prefix}udp $image vic-peer serve udp 5353 pong
expect_ok "docker run -d -p 5353:5353/udp ${prefix}udp"
run_until 10 in_ns "$VIC_OUTSIDE_NS" "$peer" ask udp "$VIC_PUBLIC_IP:5353"
expect_out "^pong $VIC_OUTSIDE_IP\$" "the outside machine gets a UDP answer from $VIC_PUBLIC_IP:5353"

header "port conflicts name the holder"
run docker run -d -p 8080:80 --net ${prefix}default --name ${prefix}web2 $image httpd -f -p 80 -h /www
expect_fail "a second container on host port 8080"
expect_err "8080" "the error names port 8080"
expect_err "container \"${prefix}web\"" "the error names the container holding it (${prefix}web)"
run_until 5 in_ns "$VIC_OUTSIDE_NS" busybox wget -qO- "http://$VIC_PUBLIC_IP:8080/"
expect_out 'hello from vic-busybox' "${prefix}web still serves $VIC_PUBLIC_IP:8080"
docker rm -f ${prefix}web2 >/dev/null 2>&1 || true
# A holder that started a moment ago is named too: the endpoint follows Docker's events.
run sh -c "docker run -d -p 8097:80 --net ${prefix}default --name ${prefix}fresh $image httpd -f -p 80 -h /www &&
	docker run -d -p 8097:80 --net ${prefix}default --name ${prefix}fresh2 $image httpd -f -p 80 -h /www"
expect_err "container \"${prefix}fresh\"" "a conflict right after the holder started names the container (${prefix}fresh), not an endpoint ID"
docker rm -f ${prefix}fresh ${prefix}fresh2 >/dev/null 2>&1 || true
# A port some other process of the endpoint has bound.
"$peer" serve tcp 8099 squatter >"$work/squatter.log" 2>&1 &
squatter=$!
sleep 0.3
run docker run -d -p 8099:80 --net ${prefix}default --name ${prefix}web3 $image httpd -f -p 80 -h /www
expect_fail "a container on host port 8099, which another process holds"
expect_err "8099" "the error names port 8099"
expect_err "vic-peer|pid $squatter" "the error names the process (vic-peer, pid $squatter)"
kill "$squatter" 2>/dev/null || true
wait "$squatter" 2>/dev/null || true
docker rm -f ${prefix}web3 >/dev/null 2>&1 || true

end_case ${prefix}web ${prefix}local ${prefix}eph ${prefix}eph-all ${prefix}udp -- ${prefix}default
run web_get http://127.0.0.1:8080/
expect_no_reach "port 8080 is no longer published"
