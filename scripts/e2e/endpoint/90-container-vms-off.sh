# shellcheck shell=bash disable=SC2086,SC2154 # e2e-endpoint.sh sets prefix, image, out... (no blanks)
# An admin who wants only the network mapping turns container VMs off with docker vic configure
# --container-vms=false: the VMs already made go, the containers keep working, and turning
# them back on brings the VMs back.

header "container VMs off and on again (docker vic configure --container-vms)"
run docker network create -d vic --ipam-driver vic ${prefix}novms
expect_ok "docker network create -d vic --ipam-driver vic ${prefix}novms"
run docker run -d -p 8090:80 --net ${prefix}novms --name ${prefix}novm $image httpd -f -p 80 -h /www
expect_ok "docker run -d -p 8090:80 --net ${prefix}novms --name ${prefix}novm"
vm=${prefix}novm-$(docker inspect -f '{{.Id}}' ${prefix}novm | cut -c1-12)
run_until 20 sh -c "docker vic containers $VIC_VCH | grep -E '^$vm +[0-9a-f]{12} +poweredOn '"
expect_ok "vSphere: container VM $vm is powered on"

run docker vic configure "$VIC_VCH" --container-vms=false
expect_ok "docker vic configure $VIC_VCH --container-vms=false"
run docker vic inspect "$VIC_VCH"
expect_out 'Container VMs: +off' "docker vic inspect says container VMs are off"
run_until 15 sh -c "! docker vic containers $VIC_VCH | grep -E '^$vm '"
expect_ok "vSphere: container VM $vm goes within seconds: the endpoint follows the configuration (no polling: its resync is 5 min)"
run_until 10 in_ns "$VIC_OUTSIDE_NS" busybox wget -qO- "http://$VIC_PUBLIC_IP:8090/"
expect_out 'hello from vic-busybox' "${prefix}novm still serves at $VIC_PUBLIC_IP:8090 without its VM"

run docker vic configure "$VIC_VCH" --container-vms
expect_ok "docker vic configure $VIC_VCH --container-vms"
run_until 15 sh -c "docker vic containers $VIC_VCH | grep -E '^$vm +[0-9a-f]{12} +poweredOn '"
expect_ok "vSphere: container VM $vm is back within seconds"

header "clean up"
run docker rm -f ${prefix}novm
expect_ok "docker rm -f ${prefix}novm"
run docker network rm ${prefix}novms
expect_ok "docker network rm ${prefix}novms"
run_until 20 sh -c "! docker vic containers $VIC_VCH | grep -E '^${prefix}novm-'"
expect_ok "vSphere: the container VM goes with its container"
