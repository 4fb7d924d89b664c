# shellcheck shell=bash disable=SC2086,SC2154 # e2e-endpoint.sh sets prefix, image, out... (no blanks)
# Use case 2 of the VIC documents: a simple bridge network whose containers find each other by
# name; a container on a vic network and Docker's bridge at once; outbound traffic leaving
# through the public interface, masqueraded.

header "use case 2: simple bridge network, containers find each other by name"
run docker network create -d vic --ipam-driver vic ${prefix}net
expect_ok "docker network create -d vic --ipam-driver vic ${prefix}net"
run docker run -d --net ${prefix}net --name ${prefix}server --network-alias server $image sleep 3600
expect_ok "docker run -d --net ${prefix}net --name ${prefix}server (alias server)"
run docker run -d --net ${prefix}net --name ${prefix}client $image sleep 3600
expect_ok "docker run -d --net ${prefix}net --name ${prefix}client"
run docker exec ${prefix}client ping -c 1 -W 2 server
expect_out '1 packets received' "client pings server by name"
run docker exec ${prefix}server ping -c 1 -W 2 ${prefix}client
expect_out '1 packets received' "server pings client by name"
run docker run --rm --net ${prefix}net $image ping -c 1 -W 2 server
expect_out '1 packets received' "a throwaway container (docker run --rm) pings server by name"
say "    ${prefix}net is $(docker network inspect -f '{{range .IPAM.Config}}{{.Subnet}}{{end}}' ${prefix}net); server has $(cip ${prefix}server ${prefix}net)"

header "a container on a vic network and on Docker's bridge at once"
run docker run -d --net bridge --name ${prefix}plain $image sleep 3600
expect_ok "docker run ${prefix}plain on Docker's bridge"
run docker run -d --net bridge --name ${prefix}dual $image sleep 3600
expect_ok "docker run ${prefix}dual on Docker's bridge"
run docker network connect ${prefix}net ${prefix}dual
expect_ok "docker network connect ${prefix}net ${prefix}dual"
plain_ip=$(cip ${prefix}plain bridge)
run docker exec ${prefix}dual ping -c 1 -W 2 server
expect_out '1 packets received' "${prefix}dual pings server on ${prefix}net by name"
run docker exec ${prefix}dual ping -c 1 -W 2 "$plain_ip"
expect_out '1 packets received' "${prefix}dual pings ${prefix}plain on Docker's bridge ($plain_ip)"
run docker exec ${prefix}server ping -c 1 -W 2 ${prefix}dual
expect_out '1 packets received' "server pings ${prefix}dual by name"

header "outbound traffic leaves through the public interface, masqueraded"
run docker exec ${prefix}client vic-peer ask tcp "$outside_server"
expect_out "^outside $VIC_PUBLIC_IP\$" "the outside server sees ${prefix}client's connection coming from $VIC_PUBLIC_IP"

end_case ${prefix}server ${prefix}client ${prefix}plain ${prefix}dual -- ${prefix}net
