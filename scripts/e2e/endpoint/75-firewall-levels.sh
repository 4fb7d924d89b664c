# shellcheck shell=bash disable=SC2086,SC2154 # e2e-endpoint.sh sets prefix, image, out... (no blanks)
# The firewall levels of a container network, by traffic: docker vic configure moves consumer
# (External-Consumer) through outbound, open and closed while a container runs, and a plain -p
# on a closed network is refused at docker run, not silently left shut.

# level LEVEL: set consumer's firewall level; the endpoint follows the change within a second or so.
level() {
	run docker vic configure "$VIC_VCH" --container-network-firewall External-Consumer:$1
	expect_ok "docker vic configure $VIC_VCH --container-network-firewall External-Consumer:$1"
}

header "firewall levels of a container network, by traffic"
run docker run -d --net consumer -p 80 --name ${prefix}lvl $image httpd -f -p 80 -h /www
expect_ok "docker run -d --net consumer -p 80 ${prefix}lvl (level published)"
lvl_ip=$(cip ${prefix}lvl consumer)
run docker exec -d ${prefix}lvl httpd -f -p 8080 -h /www
run_until 10 in_ns "$VIC_NET_CONSUMER_NS" busybox wget -qO- "http://$lvl_ip/"
expect_out 'hello from vic-busybox' "published: the port group's machine reaches the published port 80"

level outbound
run_until 20 sh -c "! timeout 3 ip netns exec $VIC_NET_CONSUMER_NS busybox wget -qO- http://$lvl_ip/"
expect_ok "outbound: port 80 no longer answers the port group"
run in_ns "$VIC_NET_CONSUMER_NS" busybox ping -c 1 -W 2 "$lvl_ip"
expect_fail "outbound: ${prefix}lvl answers no ping from the port group"
run docker exec ${prefix}lvl ping -c 1 -W 2 203.0.113.130
expect_ok "outbound: ${prefix}lvl reaches the port group's machine 203.0.113.130, and the replies come back"

level open
run_until 20 in_ns "$VIC_NET_CONSUMER_NS" busybox wget -qO- "http://$lvl_ip:8080/"
expect_out 'hello from vic-busybox' "open: even the unpublished port 8080 answers the port group"

level closed
run_until 20 sh -c "! timeout 3 ip netns exec $VIC_NET_CONSUMER_NS busybox wget -qO- http://$lvl_ip:8080/"
expect_ok "closed: nothing answers the port group"
run docker exec ${prefix}lvl ping -c 1 -W 2 203.0.113.130
expect_fail "closed: ${prefix}lvl reaches nothing outside either"
run docker exec ${prefix}lvl wget -qO- http://127.0.0.1:8080/
expect_out 'hello from vic-busybox' "closed: inside ${prefix}lvl, loopback still works"
run docker run -d --net consumer -p 80 --name ${prefix}shut $image httpd -f -p 80 -h /www
expect_err 'firewall level "closed", which lets no connection in' "closed: docker run -p 80 is refused at run time, with the reason"

level published
run_until 20 in_ns "$VIC_NET_CONSUMER_NS" busybox wget -qO- "http://$lvl_ip/"
expect_out 'hello from vic-busybox' "published again: port 80 answers"

header "clean up"
run docker rm -f ${prefix}lvl ${prefix}shut
expect_ok "docker rm -f ${prefix}lvl ${prefix}shut"
