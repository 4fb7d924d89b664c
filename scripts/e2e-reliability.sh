#!/usr/bin/env bash
# e2e-reliability.sh: the faults the vic endpoint must survive, against the local testbed
# (scripts/testbed.sh) and the real Docker engine:
#   1. kill -9 of vic-endpoint in the middle of 20 `docker run -d -p`, dead for 18 s (longer than
#      Docker retries a plugin, so at least one run fails): afterwards every running
#      container has its own address, every published port answers from outside, and no link,
#      rule, port map element or driver endpoint is left over from the runs that failed;
#   2. `nft delete table ip vic` and `iptables -F VIC-FWD` (what a firewall reload does): the
#      published ports' map elements and the forward rules are back within 10 s;
#   3. 50 parallel `docker run -d -p 80` on one network: 50 addresses, 50 host ports, all answer;
#   4. dockerd restarted: a --restart=always container's published port answers again.
# Every check counts; the last line says how many passed and failed, and the exit status is
# non-zero when any failed. Everything it creates is named vic-rel-*; stale ones go first.
#
#   scripts/e2e-reliability.sh                 run everything
#   VIC_REL_SKIP_DOCKERD=1 scripts/e2e-reliability.sh   leave dockerd alone (shared engines)
set -euo pipefail
# shellcheck source=scripts/lib.sh
. "$(dirname "$0")/lib.sh"
cd "$VIC_ROOT"

[ "$(id -u)" -eq 0 ] || die "needs root (network namespaces, iptables, nftables, dockerd)"
for tool in nft jq curl; do command -v "$tool" >/dev/null || die "$tool is not installed: run scripts/setup.sh"; done

IMAGE=${VIC_IMAGE:-vic-busybox:test}
SOCKET=${VIC_SOCKET:-/run/docker/plugins/vic.sock}
PREFIX=vic-rel-
# The networks are named per run: Docker 20.10 sometimes keeps counting the endpoints of a
# network whose containers a killed run left half removed, and refuses to remove it.
KILLNET=${PREFIX}kill-$$ PARNET=${PREFIX}par-$$ ALWAYSNET=${PREFIX}always-$$
# How long vic-endpoint stays dead: longer than Docker's ~15 s of retries, so that the run in
# flight fails and its leftovers (none allowed) are checked too.
DOWN_SECONDS=${VIC_REL_DOWN_SECONDS:-18}
# Host ports of the fixed publications; ephemeral ones come from the endpoint.
KILL_BASE=28100 ALWAYS_PORT=28290

passed=0 failed=0 testbed_up=0
work=$(mktemp -d "${TMPDIR:-/tmp}/vic-rel.XXXXXX")

pass() { passed=$((passed + 1)); say "  ${vic_green}ok${vic_off}   $1"; }

# fail WHAT [DETAIL...]: count a failed check and show why.
fail() {
	failed=$((failed + 1))
	say "  ${vic_red}FAIL${vic_off} $1"
	shift
	local line
	for line in "$@"; do say "       $line"; done
}

# check WHAT CMD...: pass when CMD succeeds.
check() {
	local what=$1
	shift
	if "$@" >"$work/check.out" 2>&1; then pass "$what"; else fail "$what" "$(head -c 2000 "$work/check.out")"; fi
}

remove_ours() { remove_prefixed "${PREFIX}"; }

trap 'leave_testbed "$PREFIX"' EXIT
trap 'exit 130' INT TERM
# The testbed is ours while this script runs: another testbed.sh up waits, and its down refuses.
export VIC_TESTBED_OWNER=$$

finish() {
	say ""
	say "e2e-reliability: $passed passed, $failed failed"
	[ "$failed" -eq 0 ] && exit 0
	exit 1
}

# --- the testbed --------------------------------------------------------------------------------

testbed_start() {
	header "testbed"
	[ -f scripts/testbed.sh ] || die "scripts/testbed.sh is missing"
	if ! bash scripts/testbed.sh up >"$work/testbed.out" 2>"$work/testbed.err"; then
		cat "$work/testbed.out" "$work/testbed.err" >&2
		die "scripts/testbed.sh up failed"
	fi
	testbed_up=1
	eval "$(grep -E '^export [A-Z_]+=' "$work/testbed.out")"
	: "${VIC_PUBLIC_IP:?testbed printed no VIC_PUBLIC_IP}" "${VIC_OUTSIDE_NS:?testbed printed no VIC_OUTSIDE_NS}"
	say "public address $VIC_PUBLIC_IP, outside namespace $VIC_OUTSIDE_NS, endpoint log ${VIC_ENDPOINT_LOG:-?}"
	if ! docker image inspect "$IMAGE" >/dev/null 2>&1; then
		bash scripts/image.sh >"$work/image.out" 2>&1 || { cat "$work/image.out" >&2; die "scripts/image.sh failed"; }
	fi
	remove_ours
}

# endpoint_pid: the pid of the testbed's vic-endpoint.
endpoint_pid() {
	local f pid
	for f in "${VIC_TESTBED_DIR:-/nonexistent}"/*endpoint*.pid; do
		[ -f "$f" ] || continue
		pid=$(cat "$f")
		[ "$(cat "/proc/$pid/comm" 2>/dev/null)" = vic-endpoint ] && { echo "$pid"; return; }
	done
	pgrep -xo vic-endpoint
}

# --- observing the engine, the kernel and the endpoint ----------------------------------------------

# The container's command: busybox httpd on port 80 answering its own name.
SERVE=(sh -c 'mkdir -p /www && echo "vic-rel $(hostname)" >/www/index.html && exec httpd -f -p 80 -h /www')

# vic_state FILE: one line per running container attached to a vic network:
#   NAME ENDPOINTID IP NETWORKID BINDINGS   (BINDINGS: proto/cport/hostip/hostport,... from HostConfig)
vic_state() {
	local nets ids
	nets=$(docker network ls --no-trunc -q --filter driver=vic | jq -R . | jq -s -c .)
	ids=$(docker ps -q --no-trunc)
	if [ -z "$ids" ]; then : >"$1"; return; fi
	# shellcheck disable=SC2086
	{ docker inspect $ids 2>/dev/null || true; } | jq -r --argjson nets "$nets" '
		.[] | . as $c
		| ($c.NetworkSettings.Networks // {}) | to_entries[]
		| select(.value.NetworkID as $n | $nets | index($n))
		| [ ($c.Name | ltrimstr("/")), .value.EndpointID, .value.IPAddress, .value.NetworkID,
		    ([ ($c.HostConfig.PortBindings // {}) | to_entries[] | .key as $k | .value[]
		       | "\($k | split("/")[1])/\($k | split("/")[0])/\(.HostIp)/\(.HostPort)" ] | join(",")) ]
		| @tsv' | sort >"$1"
}

# snapshot FILE: the endpoint's own view (POST /VIC.Ports on the plugin socket).
snapshot() {
	curl -sS --max-time 10 --unix-socket "$SOCKET" -X POST -H 'Content-Type: application/json' -d '{}' \
		http://vic/VIC.Ports >"$1"
}

# expected_dnat STATE SNAPSHOT: the DNAT map elements the running containers need, as
# "ADDR PROTO HOSTPORT CIP:CPORT"; ephemeral host ports are looked up in the snapshot.
expected_dnat() {
	local _name ep ip _net binds list b proto cport hip hport addr a
	while IFS=$'\t' read -r _name ep ip _net binds; do
		[ -n "$binds" ] || continue
		IFS=, read -ra list <<<"$binds"
		for b in "${list[@]}"; do
			IFS=/ read -r proto cport hip hport <<<"$b"
			if ! [[ $hport =~ ^[1-9][0-9]*$ ]]; then
				hport=$(jq -r --arg ep "$ep" --arg p "$proto" --argjson c "$cport" \
					'[.Endpoints[]? | select(.EndpointID == $ep) | .Ports[]? | select(.ContainerPort == $c and (.Proto | ascii_downcase) == $p) | .HostPort][0] // "?"' "$2")
			fi
			if [ -z "$hip" ] || [ "$hip" = 0.0.0.0 ]; then addr="$VIC_PUBLIC_IP 127.0.0.1"; else addr=$hip; fi
			for a in $addr; do echo "$a $proto $hport $ip:$cport"; done
		done
	done <"$1" | sort
}

# actual_dnat: the elements of the port maps of nftables table ip vic (tcpports, udpports,
# sctpports; host address . host port : container address . container port), in the same form.
# A missing table or map reads as no elements.
actual_dnat() {
	local proto
	for proto in tcp udp sctp; do
		{ nft -j list map ip vic "${proto}ports" 2>/dev/null || true; } |
			jq -r --arg p "$proto" '.nftables[]?.map? // empty | .elem[]?
				| map(if type == "object" and has("elem") then .elem.val else . end)
				| "\(.[0].concat[0]) \($p) \(.[0].concat[1]) \(.[1].concat[0]):\(.[1].concat[1])"'
	done | sort
}

# owned_links: the vb-/ve-/vc- links of the host's namespace.
owned_links() { ip -o link show | awk -F': ' '{sub(/@.*/, "", $2); print $2}' | grep -E '^(vb|ve|vc)-' | sort || true; }

# bridge_networks: the IDs of the vic bridge networks: every vic network but the container
# networks the endpoint made from the VCH configuration (named by the aliases the testbed exports
# as VIC_NET_<ALIAS>_NS); those use macvlans, no bridge and no veth.
bridge_networks() {
	local aliases
	aliases=$(compgen -A variable | sed -nE 's/^VIC_NET_(.+)_NS$/\1/p' | tr '[:upper:]_' '[:lower:]-')
	docker network ls --no-trunc --filter driver=vic --format '{{.ID}} {{.Name}}' |
		while read -r id name; do
			grep -qxF "$name" <<<"$aliases" || echo "$id"
		done
}

# expected_links STATE: one bridge per vic bridge network, one host veth per running endpoint on one.
expected_links() {
	local nets
	nets=$(bridge_networks)
	{
		cut -c1-12 <<<"$nets" | grep . | sed "s/^/vb-/" || true
		awk -F'\t' 'NR == FNR {b[$1] = 1; next} b[$4] {print substr($2, 1, 12)}' <(echo "$nets") "$1" | sed 's/^/ve-/'
	} | sort
}

# diff_sets WHAT EXPECTED ACTUAL: pass when the two sorted files are equal, else show the difference.
diff_sets() {
	local what=$1
	if cmp -s "$2" "$3"; then
		pass "$what ($(wc -l <"$2") expected, all present, none extra)"
	else
		fail "$what" "missing: $(comm -23 "$2" "$3" | head -n 10 | tr '\n' ';')" \
			"extra:   $(comm -13 "$2" "$3" | head -n 10 | tr '\n' ';')"
	fi
}

# consistent LABEL: links, DNAT map elements and the endpoint's endpoints match the running containers
# exactly, and no two running containers share an address.
consistent() {
	local label=$1 dup
	vic_state "$work/state"
	if snapshot "$work/snap"; then
		cut -f2 "$work/state" | sort >"$work/eps.want"
		jq -r '.Endpoints[]?.EndpointID' "$work/snap" | sort >"$work/eps.have"
		diff_sets "$label: the endpoint's endpoints are the running containers'" "$work/eps.want" "$work/eps.have"
	else
		fail "$label: the endpoint answers POST /VIC.Ports" "$(cat "$work/snap")"
		echo '{}' >"$work/snap"
	fi
	dup=$(cut -f3 "$work/state" | sort | uniq -d | tr '\n' ' ')
	if [ -z "$dup" ] && ! cut -f3 "$work/state" | grep -qx ''; then
		pass "$label: $(wc -l <"$work/state") running containers, each with its own address"
	else
		fail "$label: each running container has its own address" "duplicated or empty: '$dup'" "$(cut -f1,3 "$work/state" | tr '\n' ';')"
	fi
	expected_links "$work/state" >"$work/links.want"
	owned_links >"$work/links.have"
	diff_sets "$label: links match networks and running containers" "$work/links.want" "$work/links.have"
	expected_dnat "$work/state" "$work/snap" >"$work/dnat.want"
	actual_dnat >"$work/dnat.have"
	diff_sets "$label: DNAT map elements match the published ports x 2 addresses" "$work/dnat.want" "$work/dnat.have"
}

# why FILE: the first error line of a failed docker command's output.
why() { { grep -m 1 -i error "$1" || head -n 1 "$1"; } 2>/dev/null | cut -c1-400; }

# answers PORT [EXPECT]: the public address's PORT answers HTTP from the outside namespace.
answers() {
	local body
	body=$(ip netns exec "$VIC_OUTSIDE_NS" curl -sS --max-time 4 "http://$VIC_PUBLIC_IP:$1/" 2>&1) || {
		sleep 1
		body=$(ip netns exec "$VIC_OUTSIDE_NS" curl -sS --max-time 4 "http://$VIC_PUBLIC_IP:$1/" 2>&1)
	} || { echo "$body"; return 1; }
	case $body in *"${2:-vic-rel}"*) return 0 ;; esac
	echo "port $1 answered: $body"
	return 1
}

# all_answer LABEL: every public DNAT map element of the running containers answers from outside.
all_answer() {
	local label=$1 n=0 bad=() a proto port dest
	while read -r a proto port dest; do
		if [ "$a" != "$VIC_PUBLIC_IP" ] || [ "$proto" != tcp ]; then continue; fi
		n=$((n + 1))
		answers "$port" >/dev/null 2>&1 || bad+=("$port->$dest")
	done <"$work/dnat.want"
	if [ "${#bad[@]}" -eq 0 ] && [ "$n" -gt 0 ]; then
		pass "$label: all $n published ports answer from $VIC_OUTSIDE_NS"
	else
		fail "$label: all published ports answer from $VIC_OUTSIDE_NS" "$n ports, silent: ${bad[*]:-none published}"
	fi
}

net_create() { docker network create -d vic --ipam-driver vic "$1" >/dev/null; }

# --- 1. kill -9 in the middle of 20 starts ----------------------------------------------------------

test_kill() {
	header "kill -9 of vic-endpoint during 20 docker run -d -p"
	net_create "$KILLNET"
	local i pid rcs ok=0 nbad=0
	(
		for i in $(seq 1 20); do
			rc=0
			timeout 120 docker run -d --name ${PREFIX}k$i --net "$KILLNET" -p $((KILL_BASE + i)):80 "$IMAGE" "${SERVE[@]}" \
				>"$work/k$i.out" 2>&1 || rc=$?
			echo "$rc" >"$work/k$i.rc"
		done
	) &
	local loop=$!
	for _ in $(seq 1 600); do
		[ "$(ls "$work"/k*.rc 2>/dev/null | wc -l)" -ge 5 ] && break
		sleep 0.1
	done
	pid=$(endpoint_pid) || die "cannot find the vic-endpoint process"
	# Land somewhere inside the next run's sequence of plugin calls, not always between runs.
	local delay=$((RANDOM % 300))
	sleep "$(printf '0.%03d' "$delay")"
	say "kill -9 vic-endpoint (pid $pid) after $(ls "$work"/k*.rc | wc -l) starts + $delay ms"
	kill -9 "$pid"
	sleep "$DOWN_SECONDS"
	bash scripts/testbed.sh restart-endpoint >"$work/restart.out" 2>&1 || { cat "$work/restart.out"; fail "testbed.sh restart-endpoint succeeds"; }
	eval "$(grep -E '^export [A-Z_]+=' "$work/restart.out" || true)"
	say "endpoint restarted (pid $(endpoint_pid || echo none))"
	wait "$loop" || true
	for i in $(seq 1 20); do
		if [ "$(cat "$work/k$i.rc" 2>/dev/null)" = 0 ]; then ok=$((ok + 1)); else
			nbad=$((nbad + 1))
			say "  run $i failed: $(why "$work/k$i.out")"
		fi
	done
	say "$ok runs succeeded, $nbad failed (failures while the plugin is down are acceptable)"
	rcs=$(cat "$work/k18.rc" "$work/k19.rc" "$work/k20.rc" 2>/dev/null | tr -d '\n')
	if [ "$rcs" = 000 ]; then pass "runs after the restart succeed"; else fail "runs after the restart succeed" "exit statuses of runs 18-20: $rcs"; fi
	# A failed run leaves its container created, never running.
	local stray=()
	for i in $(seq 1 20); do
		[ "$(cat "$work/k$i.rc" 2>/dev/null)" = 0 ] && continue
		[ "$(docker inspect -f '{{.State.Running}}' ${PREFIX}k$i 2>/dev/null)" = true ] && stray+=("${PREFIX}k$i")
	done
	if [ ${#stray[@]} -eq 0 ]; then pass "no failed run left a running container"; else fail "no failed run left a running container" "${stray[*]}"; fi
	sleep 2
	consistent "after kill -9"
	all_answer "after kill -9"
}

# --- 2. a firewall reload: the deleted table and the flushed chain come back ------------------------

test_flush() {
	header "nft delete table ip vic; iptables -F VIC-FWD"
	local port fwd_before fwd i back=0
	port=$(awk -v a="$VIC_PUBLIC_IP" '$1 == a && $2 == "tcp" {print $3; exit}' "$work/dnat.want")
	if [ -z "$port" ]; then fail "a published port to watch" "no running container publishes a port"; return; fi
	fwd_before=$(iptables-save -t filter | grep -c '^-A VIC-FWD ' || true)
	nft delete table ip vic 2>"$work/nft.err" || fail "table ip vic exists before the reload" "$(cat "$work/nft.err")"
	iptables -F VIC-FWD
	if ! answers "$port" >/dev/null 2>&1; then say "port $port is silent after the flush, as it should be for a moment"; fi
	for i in $(seq 1 20); do
		sleep 0.5
		fwd=$(iptables-save -t filter | grep -c '^-A VIC-FWD ' || true)
		if [ "$fwd" -eq "$fwd_before" ] && actual_dnat | cmp -s - "$work/dnat.want"; then back=1; break; fi
	done
	if [ "$back" -eq 1 ]; then pass "rules and map elements are back within $((i / 2)).$((i % 2 * 5)) s ($fwd VIC-FWD rules, $(wc -l <"$work/dnat.want") DNAT map elements)"; else
		fail "rules and map elements are back within 10 s" "VIC-FWD rules: $fwd of $fwd_before; DNAT map elements: $(actual_dnat | wc -l) of $(wc -l <"$work/dnat.want")" \
			"endpoint log: $(tail -n 5 "${VIC_ENDPOINT_LOG:-/dev/null}" 2>/dev/null | tr '\n' ';')"
	fi
	check "port $port answers again after the flush" answers "$port"
	consistent "after the flush"
}

# --- 3. 50 parallel runs -----------------------------------------------------------------------------

test_parallel() {
	header "50 parallel docker run -d -p 80"
	net_create "$PARNET"
	local i n pids=() ports dupports
	for i in $(seq 1 50); do
		timeout 300 docker run -d --name ${PREFIX}p$i --net "$PARNET" -p 80 "$IMAGE" "${SERVE[@]}" >"$work/p$i.out" 2>&1 &
		pids+=($!)
	done
	n=0
	for i in "${!pids[@]}"; do
		if wait "${pids[$i]}"; then n=$((n + 1)); else say "  run $((i + 1)) failed: $(why "$work/p$((i + 1)).out")"; fi
	done
	if [ "$n" -eq 50 ]; then pass "50 parallel runs succeed"; else fail "50 parallel runs succeed" "$n succeeded"; fi
	consistent "after 50 parallel runs"
	grep -E "^${PREFIX}p[0-9]+	" "$work/state" >"$work/par" || true
	n=$(cut -f3 "$work/par" | sort -u | grep -c . || true)
	if [ "$n" -eq 50 ]; then pass "50 unique addresses"; else fail "50 unique addresses" "$n unique"; fi
	ports=$(cut -f2 "$work/par" | while read -r ep; do
		jq -r --arg ep "$ep" '.Endpoints[]? | select(.EndpointID == $ep) | .Ports[]?.HostPort' "$work/snap"
	done)
	n=$(echo "$ports" | sort -u | grep -c . || true)
	dupports=$(echo "$ports" | sort | uniq -d | tr '\n' ' ')
	if [ "$n" -eq 50 ] && [ -z "$dupports" ]; then pass "50 unique host ports"; else fail "50 unique host ports" "$n unique, duplicated: $dupports"; fi
	all_answer "after 50 parallel runs"
}

# --- 4. dockerd restart --------------------------------------------------------------------------------

# restart_dockerd: restart the engine the way it runs here; refuses engines it cannot restart.
restart_dockerd() {
	local pid ppid i
	if [ "$(cat /proc/1/comm 2>/dev/null)" = systemd ] && systemctl is-active --quiet docker 2>/dev/null; then
		systemctl restart docker
	else
		pid=$(cat /var/run/docker.pid 2>/dev/null) || { echo "no /var/run/docker.pid"; return 1; }
		[ "$(cat "/proc/$pid/comm" 2>/dev/null)" = dockerd ] || { echo "pid $pid of /var/run/docker.pid is not dockerd"; return 1; }
		ppid=$(awk '/^PPid:/ {print $2}' "/proc/$pid/status")
		if [ "$(cat "/proc/$ppid/comm" 2>/dev/null)" = systemd ]; then echo "dockerd $pid runs under systemd without a docker unit"; return 1; fi
		say "stopping dockerd (pid $pid)"
		kill "$pid"
		for i in $(seq 1 90); do
			[ -d "/proc/$pid" ] || break
			sleep 1
		done
		[ ! -d "/proc/$pid" ] || { echo "dockerd $pid did not stop within 90 s"; return 1; }
		rm -f /var/run/docker.pid
		say "starting dockerd (log: /var/log/dockerd.log)"
		setsid dockerd >>/var/log/dockerd.log 2>&1 </dev/null &
	fi
	for i in $(seq 1 60); do
		timeout 10 docker info >/dev/null 2>&1 && return 0
		sleep 1
	done
	echo "dockerd did not answer within 60 s"
	tail -n 20 /var/log/dockerd.log
	return 1
}

# answers_within SECONDS PORT: the port answers from outside within SECONDS.
answers_within() {
	local end=$((SECONDS + $1))
	while [ "$SECONDS" -lt "$end" ]; do
		answers "$2" >/dev/null 2>&1 && return 0
		sleep 1
	done
	answers "$2"
}

test_dockerd() {
	header "dockerd restart with a --restart=always container"
	if [ -n "${VIC_REL_SKIP_DOCKERD:-}" ]; then say "skipped (VIC_REL_SKIP_DOCKERD is set)"; return; fi
	net_create "$ALWAYSNET"
	docker run -d --name ${PREFIX}always --restart=always --net "$ALWAYSNET" -p $ALWAYS_PORT:80 "$IMAGE" "${SERVE[@]}" >/dev/null
	check "port $ALWAYS_PORT answers before the restart" answers_within 10 "$ALWAYS_PORT"
	if ! restart_dockerd >"$work/dockerd.out" 2>&1; then
		fail "dockerd restarts" "$(cat "$work/dockerd.out")"
		return
	fi
	cat "$work/dockerd.out"
	pass "dockerd restarts"
	check "port $ALWAYS_PORT answers again within 30 s" answers_within 30 "$ALWAYS_PORT"
	consistent "after the dockerd restart"
}

# --- cleanup check --------------------------------------------------------------------------------------

test_clean() {
	header "clean up"
	remove_ours
	consistent "after removing everything of ours"
}

testbed_start
test_kill
test_flush
remove_ours
test_parallel
remove_ours
test_dockerd
test_clean
finish
