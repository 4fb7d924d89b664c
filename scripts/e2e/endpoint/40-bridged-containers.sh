# shellcheck shell=bash disable=SC2086,SC2154 # e2e-endpoint.sh sets prefix, image, out... (no blanks)
# Use case 3 of the VIC documents: bridged containers with an exposed port (docker run -p
# 5000:5000); isolation between vic bridge networks; hairpin to a network peer's published port.

header "use case 3: bridged containers with exposed port (docker run -p 5000:5000)"
run docker network create -d vic --ipam-driver vic ${prefix}app
expect_ok "docker network create -d vic --ipam-driver vic ${prefix}app"
run docker run -d -p 5000:5000 --net ${prefix}app --name ${prefix}app-server --network-alias server $image vic-peer serve tcp 5000 'Hello world!'
expect_ok "docker run -d -p 5000:5000 --net ${prefix}app --name ${prefix}app-server (alias server)"
run docker run -d --net ${prefix}app --name ${prefix}app-client $image sleep 3600
expect_ok "docker run -d --net ${prefix}app --name ${prefix}app-client"
run docker exec ${prefix}app-client ping -c 3 -W 2 server
expect_out '3 packets received' "client pings server by name, 3 times"
run_until 10 docker exec ${prefix}app-client vic-peer ask tcp server:5000
expect_out '^Hello world!' "client connects to server:5000 by name"
run_until 10 in_ns "$VIC_OUTSIDE_NS" "$peer" ask tcp "$VIC_PUBLIC_IP:5000"
expect_out '^Hello world!' "the outside machine connects to port 5000 on the VCH's public address"
expect_out "^Hello world! $VIC_OUTSIDE_IP\$" "the server sees the outside machine's own address ($VIC_OUTSIDE_IP)"
app_server_ip=$(cip ${prefix}app-server ${prefix}app)

header "isolation between vic bridge networks"
run docker network create -d vic --ipam-driver vic ${prefix}other
expect_ok "docker network create -d vic --ipam-driver vic ${prefix}other"
run docker run -d --net ${prefix}other --name ${prefix}other-client $image sleep 3600
expect_ok "docker run -d --net ${prefix}other --name ${prefix}other-client"
run docker exec ${prefix}other-client ping -c 1 -W 2 "$app_server_ip"
expect_fail "a container of ${prefix}other cannot ping one of ${prefix}app at $app_server_ip"
run docker exec ${prefix}other-client vic-peer ask tcp "$app_server_ip:5000"
expect_fail "a container of ${prefix}other cannot connect to ${prefix}app's server at $app_server_ip:5000"
run docker exec ${prefix}other-client vic-peer ask tcp "$VIC_PUBLIC_IP:5000"
expect_out '^Hello world!' "but it reaches that server through its published port $VIC_PUBLIC_IP:5000"

header "hairpin: containers reach published ports at the public address"
run docker exec ${prefix}app-client vic-peer ask tcp "$VIC_PUBLIC_IP:5000"
expect_out '^Hello world!' "${prefix}app-client reaches its network peer's published port $VIC_PUBLIC_IP:5000"

end_case ${prefix}app-server ${prefix}app-client ${prefix}other-client -- ${prefix}app ${prefix}other
