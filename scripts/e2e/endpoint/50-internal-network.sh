# shellcheck shell=bash disable=SC2086,SC2154 # e2e-endpoint.sh sets prefix, image, out... (no blanks)
# An --internal vic network: its containers reach each other and nothing else.

header "an --internal vic network"
run docker network create -d vic --ipam-driver vic --internal ${prefix}internal
expect_ok "docker network create -d vic --internal ${prefix}internal"
run docker run -d --net ${prefix}internal --name ${prefix}int-a $image sleep 3600
expect_ok "docker run ${prefix}int-a on ${prefix}internal"
run docker run -d --net ${prefix}internal --name ${prefix}int-b $image sleep 3600
expect_ok "docker run ${prefix}int-b on ${prefix}internal"
run docker exec ${prefix}int-a ping -c 1 -W 2 ${prefix}int-b
expect_out '1 packets received' "peers on an internal network still reach each other"
run docker exec ${prefix}int-a vic-peer ask tcp "$outside_server"
expect_fail "a container on an internal network cannot reach the outside machine"

end_case ${prefix}int-a ${prefix}int-b -- ${prefix}internal
