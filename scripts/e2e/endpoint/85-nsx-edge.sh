# shellcheck shell=bash disable=SC2086,SC2154 # e2e-endpoint.sh sets prefix, image, out... (no blanks)
# The NSX Edge scenario of the VIC documents (004): containers on a DHCP container network sit
# behind an Edge gateway, which gives them their addresses and DNATs its outside address:8080 to
# a container's port 80 for clients beyond it. The testbed's DHCP server namespace on
# VIC-Container-Network plays the Edge; a namespace of its own plays a client outside. The
# client's link lives only between those two namespaces, never on this machine's routes.

edge=$VIC_NET_CONTAINERS_NS
client=vtb-edge-client
edge_out=198.51.100.253 client_addr=198.51.100.254

header "the NSX Edge scenario: an Edge on the DHCP network DNATs its outside port 8080 to a container"
run docker run -d --net containers -p 80 --name ${prefix}edged $image httpd -f -p 80 -h /www
expect_ok "docker run -d --net containers -p 80 ${prefix}edged (its address from the Edge's DHCP)"
edged_ip=$(cip ${prefix}edged containers)
run sh -c "ip netns add $client &&
	ip link add vtb-edge-o type veth peer name vtb-edge-c &&
	ip link set vtb-edge-o netns $edge && ip link set vtb-edge-c netns $client &&
	ip -n $edge addr add $edge_out/30 dev vtb-edge-o && ip -n $edge link set vtb-edge-o up &&
	ip -n $client addr add $client_addr/30 dev vtb-edge-c && ip -n $client link set vtb-edge-c up &&
	ip -n $client link set lo up &&
	ip netns exec $edge sysctl -qw net.ipv4.ip_forward=1 &&
	ip netns exec $edge iptables -t nat -A PREROUTING -d $edge_out -p tcp --dport 8080 -j DNAT --to-destination $edged_ip:80"
expect_ok "the Edge gets an outside interface $edge_out and DNATs $edge_out:8080 to $edged_ip:80"
run_until 10 in_ns $client busybox wget -qO- "http://$edge_out:8080/"
expect_out 'hello from vic-busybox' "a client beyond the Edge reaches ${prefix}edged through the Edge's DNAT"
run in_ns $client busybox wget -qO- "http://$edged_ip/"
expect_no_reach "the client has no route to the container network itself: only the Edge's DNAT leads in"

header "clean up"
run sh -c "ip netns exec $edge iptables -t nat -D PREROUTING -d $edge_out -p tcp --dport 8080 -j DNAT --to-destination $edged_ip:80;
	ip -n $edge link del vtb-edge-o; ip netns del $client"
expect_ok "the Edge's outside interface, its DNAT and the client go"
run docker rm -f ${prefix}edged
expect_ok "docker rm -f ${prefix}edged"
