# shellcheck shell=bash disable=SC2086,SC2154 # e2e-endpoint.sh sets prefix, image, out... (no blanks)
# The endpoint's state lost while Docker keeps the container networks (a `testbed down`, or a
# rebuilt endpoint, while vic-endpoint was dead): the Docker networks consumer and containers
# point at pools the vic IPAM driver no longer knows. The endpoint repairs them (creates them
# again, no container being on them) and containers start on them.

header "the endpoint's state lost while Docker keeps the container networks"
log_lines=$(wc -l <"$VIC_ENDPOINT_LOG")
declare -A before
for net in consumer containers; do before[$net]=$(docker network inspect -f '{{.Id}}' $net); done
run kill -9 "$(cat "$VIC_TESTBED_DIR/endpoint.pid")"
expect_ok "kill -9 vic-endpoint"
run rm -f "$VIC_TESTBED_DIR/state/state.db"
expect_ok "its state database is lost"
run bash scripts/testbed.sh restart-endpoint
expect_ok "vic-endpoint starts again with no state"
for net in consumer containers; do
	run_until 60 sh -c "docker rm -f ${prefix}lost-$net >/dev/null 2>&1; docker run -d --net $net --name ${prefix}lost-$net $image sleep 3600"
	expect_ok "docker run --net $net starts a container on the container network again"
	ip=$(cip ${prefix}lost-$net $net)
	expect_value "$ip" '203\.0\.113\.[0-9]+' "${prefix}lost-$net has an address of $net: $ip" "an address in 203.0.113.0/24"
	if [ "$(docker network inspect -f '{{.Id}}' $net)" != "${before[$net]}" ]; then
		run sh -c "tail -n +$((log_lines + 1)) '$VIC_ENDPOINT_LOG' | grep -E 'level=WARN msg=.the docker network of a container network lost its address pool.* network=$net '"
		expect_ok "the endpoint says it created $net again because the vic IPAM driver lost its pool"
	else
		pass "$net kept its ID: the endpoint's state came back with its pool"
	fi
done
end_case ${prefix}lost-consumer ${prefix}lost-containers --
