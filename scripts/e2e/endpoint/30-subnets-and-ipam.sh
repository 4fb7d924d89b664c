# shellcheck shell=bash disable=SC2086,SC2154 # e2e-endpoint.sh sets prefix, image, out... (no blanks)
# Bridge networks with addresses of the user's choice: --subnet with the vic IPAM, Docker's
# default IPAM with --gateway and --ip-range, and --ip with the vic IPAM.

header "a vic network with a --subnet of the user's choice"
run docker network create -d vic --ipam-driver vic --subnet 172.30.0.0/16 ${prefix}sub
expect_ok "docker network create -d vic --ipam-driver vic --subnet 172.30.0.0/16 ${prefix}sub"
run docker run --rm --net ${prefix}sub $image ip -o -4 addr show eth0
expect_out 'inet 172\.30\.0\.[0-9]+/16' "a container on ${prefix}sub gets an address of 172.30.0.0/16"
run docker network rm ${prefix}sub
expect_ok "docker network rm ${prefix}sub"

header "Docker's default IPAM, and --gateway, --ip-range and --ip with the vic IPAM"
run docker network create -d vic --subnet 172.29.0.0/16 --gateway 172.29.0.254 --ip-range 172.29.5.0/24 ${prefix}dflt
expect_ok "docker network create -d vic (Docker's default IPAM) --gateway 172.29.0.254 --ip-range 172.29.5.0/24 ${prefix}dflt"
run docker run --rm --net ${prefix}dflt $image sh -c 'ip -o -4 addr show eth0; ip route'
expect_out 'inet 172\.29\.5\.[0-9]+/16' "with Docker's default IPAM a container gets an address of the --ip-range"
expect_out 'default via 172\.29\.0\.254' "its default route is the --gateway, which the vic bridge carries"
run docker network rm ${prefix}dflt
expect_ok "docker network rm ${prefix}dflt"
run docker network create -d vic --ipam-driver vic --subnet 172.28.0.0/16 --gateway 172.28.0.254 --ip-range 172.28.7.0/24 ${prefix}ipr
expect_ok "docker network create -d vic --ipam-driver vic --gateway 172.28.0.254 --ip-range 172.28.7.0/24 ${prefix}ipr"
run docker run -d --net ${prefix}ipr --ip 172.28.9.9 --name ${prefix}fixed $image sleep 300
expect_ok "docker run --ip 172.28.9.9 on ${prefix}ipr"
run cip ${prefix}fixed ${prefix}ipr
expect_out '^172\.28\.9\.9$' "the vic IPAM honours --ip"
run docker run --rm --net ${prefix}ipr $image sh -c 'ip -o -4 addr show eth0; ip route; ping -c 1 -W 2 172.28.9.9'
expect_out 'inet 172\.28\.7\.[0-9]+/16' "the vic IPAM hands out addresses of the --ip-range"
expect_out 'default via 172\.28\.0\.254' "and the --gateway is the default route"
expect_out '1 packets received' "and reaches the container with the fixed address"
run docker run --rm --net ${prefix}ipr --ip 172.28.9.9 $image sh -c 'echo unreachable'
expect_err '172\.28\.9\.9' "a second container asking for 172.28.9.9 is refused, naming the address"
docker rm -f ${prefix}fixed >/dev/null 2>&1 || true
run docker network rm ${prefix}ipr
expect_ok "docker network rm ${prefix}ipr"
