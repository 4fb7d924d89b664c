# shellcheck shell=bash disable=SC2086,SC2154 # e2e-endpoint.sh sets prefix, image, out... (no blanks)
# A DHCP container network: containers lease their address from the port group's own DHCP
# server (containers, port group VIC-Container-Network, firewall level peers), and a restarted
# endpoint takes a running container's lease back.

header "container network containers (DHCP from the port group's own server, firewall level peers)"
if [ "$(docker network inspect -f '{{.Driver}}' containers 2>/dev/null || true)" != vic ]; then
	fail "vic-endpoint made the 'containers' network for port group VIC-Container-Network" "a vic network named containers"
	return 0
fi
pass "vic-endpoint made the Docker network 'containers' for the DHCP port group VIC-Container-Network"
run docker run -d --net containers --name ${prefix}dhcp $image httpd -f -p 80 -h /www
expect_ok "docker run -d --net containers ${prefix}dhcp"
dhcp_ip=$(cip ${prefix}dhcp containers)
expect_value "$dhcp_ip" '203\.0\.113\.(2[01][0-9]|220)' "${prefix}dhcp leased $dhcp_ip from the port group's DHCP server (pool .200-.220)" \
	"an address in 203.0.113.200-203.0.113.220"
run docker exec ${prefix}dhcp ip route
expect_out 'default via 203\.0\.113\.193' "${prefix}dhcp routes through the lease's router 203.0.113.193"
run_until 10 in_ns "$VIC_NET_CONTAINERS_NS" busybox wget -qO- "http://$dhcp_ip/"
expect_out 'hello from vic-busybox' "firewall level peers: the DHCP server's machine, in the lease's subnet, reaches the unpublished port 80"

header "a restarted endpoint keeps the lease"
log_lines=$(wc -l <"$VIC_ENDPOINT_LOG")
run bash scripts/testbed.sh restart-endpoint
expect_ok "kill -9 of vic-endpoint and a restart while ${prefix}dhcp runs"
expect_credentials_file "the restarted vic-endpoint reads the login from the same credentials file"
run_until 20 sh -c "tail -n +$((log_lines + 1)) '$VIC_ENDPOINT_LOG' | grep -q 'renewing a DHCP lease held before the restart.*address=$dhcp_ip/'"
expect_ok "the restarted endpoint took ${prefix}dhcp's lease of $dhcp_ip back from the DHCP server"
run_until 10 in_ns "$VIC_NET_CONTAINERS_NS" busybox wget -qO- "http://$dhcp_ip/"
expect_out 'hello from vic-busybox' "after the restart ${prefix}dhcp still answers at $dhcp_ip"
run docker rm -f ${prefix}dhcp
expect_ok "docker rm -f ${prefix}dhcp"

header "docker rm releases the DHCP lease on the port group's server"
run docker run -d --net containers --name ${prefix}rel $image sleep 3600
expect_ok "docker run -d --net containers ${prefix}rel"
rel_ip=$(cip ${prefix}rel containers)
leases=$VIC_TESTBED_DIR/udhcpd-containers.leases
udhcpd_pid=$(cat "$VIC_TESTBED_DIR/udhcpd-containers.pid" 2>/dev/null || true)
# busybox udhcpd writes its leases file on SIGUSR1; dumpleases shows the time left of each.
run_until 10 sh -c "kill -USR1 $udhcpd_pid && sleep 0.5 && busybox dumpleases -f $leases | grep -E ' $rel_ip +' | grep -v expired"
expect_ok "the DHCP server holds an active lease of $rel_ip for ${prefix}rel"
run docker rm -f ${prefix}rel
expect_ok "docker rm -f ${prefix}rel"
run_until 10 sh -c "kill -USR1 $udhcpd_pid && sleep 0.5 && ! busybox dumpleases -f $leases | grep -E ' $rel_ip +' | grep -v expired"
expect_ok "after docker rm the server shows the lease of $rel_ip released (expired or gone)"
