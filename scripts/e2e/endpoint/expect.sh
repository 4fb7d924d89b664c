# shellcheck shell=bash disable=SC2154 # lib.sh, checks.sh and e2e-endpoint.sh set the variables
# expect.sh: the facts and expectations the use cases of scripts/e2e-endpoint.sh share, sourced
# by it after lib.sh and checks.sh. The runner sets prefix (vic-e2e-), image, peer (bin/vic-peer),
# port_source, outside_server and the testbed's VIC_* exports before any use case runs.

# run_until SECONDS CMD...: like run, but retries quietly until CMD succeeds or SECONDS pass
# (a server in a fresh container needs a moment to listen).
run_until() {
	local secs=$1 end
	shift
	end=$((SECONDS + secs))
	while :; do
		status=0
		bounded 20 "$@" >"$out" 2>"$err" </dev/null || status=$?
		[ "$status" -eq 0 ] || [ "$SECONDS" -ge "$end" ] && break
		sleep 0.5
	done
	printf '%s$%s' "$vic_dim" "$vic_off"
	printf ' %q' "$@"
	printf '\n'
	sed 's/^/    /' "$out"
	sed 's/^/    /' "$err"
}

# in_ns NS CMD...: CMD in namespace NS, bounded by 5 s (busybox wget -T segfaults).
# shellcheck disable=SC2317 # in_ns and web_get run through run/bounded.
in_ns() {
	local ns=$1
	shift
	timeout 5 ip netns exec "$ns" "$@"
}

# web_get URL: what busybox wget fetches from URL on the host, bounded by 5 s.
# shellcheck disable=SC2317
web_get() { timeout 5 busybox wget -qO- "$1"; }

expect_ok() { if [ "$status" -eq 0 ]; then pass "$1"; else fail "$1" "exit status 0"; fi; }
expect_fail() { if [ "$status" -ne 0 ]; then pass "$1"; else fail "$1" "a non-zero exit status"; fi; }

# expect_out REGEX WHAT: the command succeeded and stdout matches the extended REGEX.
expect_out() {
	if [ "$status" -eq 0 ] && grep -Eq -- "$1" "$out"; then pass "$2"; else fail "$2" "success and stdout matching /$1/"; fi
}
# expect_no_reach WHAT: the command failed or printed nothing of the served page.
expect_no_reach() {
	if [ "$status" -ne 0 ] && ! grep -Eq 'hello|Hello' "$out"; then pass "$1"; else fail "$1" "no answer (a failed connection)"; fi
}
# expect_err REGEX WHAT: the command failed and stderr matches REGEX, case-insensitively.
expect_err() {
	if [ "$status" -ne 0 ] && grep -Eiq -- "$1" "$err"; then pass "$2"; else fail "$2" "failure with stderr matching /$1/"; fi
}

# expect_value VALUE REGEX WHAT EXPECTED: a fact the script read itself matches the extended
# REGEX as a whole (an empty REGEX: the value is empty).
expect_value() {
	status=0
	echo "$1" >"$out"
	: >"$err"
	if [[ $1 =~ ^($2)$ ]]; then pass "$3"; else fail "$3" "$4"; fi
}

# expect_credentials_file WHAT: the running vic-endpoint's command line names the testbed's
# credentials file and holds no user:password.
expect_credentials_file() {
	run sh -c "tr '\\0' ' ' </proc/\$(cat '$VIC_TESTBED_DIR/endpoint.pid')/cmdline"
	if [ "$status" -eq 0 ] && grep -qF -- "--credentials $VIC_TESTBED_DIR/credentials" "$out" && ! grep -qF -- "$VIC_TARGET" "$out"; then
		pass "$1"
	else
		fail "$1" "--credentials $VIC_TESTBED_DIR/credentials and no user:password in the target"
	fi
}

# cip NAME NETWORK: the container's address on NETWORK.
cip() { docker inspect -f "{{(index .NetworkSettings.Networks \"$2\").IPAddress}}" "$1" 2>/dev/null; }

# endpoint_id NAME NETWORK: the container's endpoint ID on NETWORK.
endpoint_id() { docker inspect -f "{{(index .NetworkSettings.Networks \"$2\").EndpointID}}" "$1" 2>/dev/null; }

# vic_links: the bridge and veth links the vic driver owns on the host, sorted.
vic_links() { ip -o link show | awk -F': ' '{print $2}' | sed 's/@.*//' | grep -E '^(vb|ve)-' | sort || true; }

# network_names: the Docker network names, sorted.
network_names() { docker network ls --format '{{.Name}}' | sort; }

# host_port NAME PORT/PROTO NETWORK: the host port the vic driver picked for NAME's PORT/PROTO,
# from `docker vic port` (or the endpoint's /VIC.Ports API when the plugin lacks that command).
# Empty when neither can say.
host_port() {
	local name=$1 spec=$2 ep
	case $port_source in
	plugin)
		{ docker vic port "$name" 2>/dev/null || true; } | grep -E "^${spec}[[:space:]]" | grep -oE ':[0-9]+$' | tr -d : | head -n 1 || true
		;;
	api)
		ep=$(endpoint_id "$name" "$3")
		{ curl -sf --max-time 5 --unix-socket /run/docker/plugins/vic.sock -X POST http://vic/VIC.Ports -d '{}' || true; } |
			jq -r --arg ep "$ep" --arg p "${spec%/*}" --arg proto "${spec#*/}" \
				'.Endpoints[] | select(.EndpointID == $ep) | .Ports[] | select((.ContainerPort|tostring) == $p and (.Proto|ascii_downcase) == $proto) | .HostPort' |
			head -n 1 || true
		;;
	esac
}

# end_case CONTAINER... -- NETWORK...: the end of a use case: its containers and networks go,
# and with them the networks' bridges and every container veth, so the next use case starts
# from a clean host.
end_case() {
	local containers=() networks=() bridges="" left="" id n b
	while [ $# -gt 0 ] && [ "$1" != -- ]; do containers+=("$1") && shift; done
	[ $# -eq 0 ] || shift
	networks=("$@")
	for n in "${networks[@]}"; do
		id=$(docker network inspect -f '{{.Id}}' "$n" 2>/dev/null || true)
		[ -z "$id" ] || bridges="$bridges vb-${id:0:12}"
	done
	header "clean up"
	if [ ${#containers[@]} -gt 0 ]; then
		run docker rm -f "${containers[@]}"
		expect_ok "docker rm -f every container of the use case"
	fi
	[ ${#networks[@]} -gt 0 ] || return 0
	run docker network rm "${networks[@]}"
	expect_ok "docker network rm every network of the use case"
	for b in $bridges; do ip link show "$b" >/dev/null 2>&1 && left="$left $b"; done
	expect_value "$left" "" "the networks' bridges are gone:$bridges" "no link among$bridges"
	run sh -c "ip -o link show | grep -E ': ve-' || true"
	if [ ! -s "$out" ]; then pass "no container veth (ve-*) is left on the host"; else fail "no ve-* link left" "no ve-* link"; fi
}
