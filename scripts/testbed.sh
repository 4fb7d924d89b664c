#!/usr/bin/env bash
# testbed.sh: a whole VCH on this one machine, for tests and the demo (SPEC.md §9).
#
#   eval "$(scripts/testbed.sh up)"     build, start vcsim, create VCH vch-testbed, wire it, start
#                                       vic-endpoint; print the export lines below
#   scripts/testbed.sh env              print the export lines of the running testbed again
#   scripts/testbed.sh restart-endpoint kill -9 vic-endpoint and start it again (reliability tests)
#   scripts/testbed.sh down [--force]   remove all of it; safe to run twice
#
# What `up` makes, all named with the prefix vtb- so that a later run can clear it:
#   - vcsim with the VIC documents' port groups, and VCH vch-testbed on it (plugin installed in a
#     DOCKER_CONFIG of the testbed's own, no Docker context);
#   - one network namespace per port group, vtb-pg-<port group>, holding a Linux bridge br0: the
#     port group's wire;
#   - per endpoint VM NIC, a veth whose host end carries that NIC's MAC (from `docker vic inspect`)
#     and the role's static address, and whose other end is a port of the wire's bridge:
#         vtb-public  Docker-Public   198.51.100.2/24   (published ports live here)
#         vtb-client  VIC-Client      203.0.113.2/26    (the Docker API in a real VCH)
#         vtb-mgmt    VIC-Management  203.0.113.66/26   (vSphere traffic in a real VCH)
#         vtb-bridge  VIC-Bridge      no address
#         vtb-c-ALIAS a container network's port group, no address (containers' macvlans hang here)
#   - machines on the wires: vtb-outside (198.51.100.10/24 on Docker-Public), vtb-clientside
#     (203.0.113.10/26 on VIC-Client, 203.0.113.70/26 on VIC-Management), and per container network
#     vtb-net-ALIAS (External-Consumer: 203.0.113.130/26; its containers get .140-.160, gateway .129;
#     VIC-Container-Network, a DHCP network: 203.0.113.193/26 runs busybox udhcpd handing out
#     .200-.220 with itself as router);
#   - vic-endpoint serving /run/docker/plugins/vic.sock, state in the testbed's directory.
# The host gets addresses on its vtb- links only (on-link routes in documentation ranges); its
# default route and eth0 are never touched, and 192.0.2.0/24 (eth0's network here) is never used.
#
# Progress goes to stderr; stdout carries only the export lines:
#   VIC_TARGET VIC_THUMBPRINT VIC_VCH VIC_PUBLIC_IP VIC_CLIENT_IP VIC_MANAGEMENT_IP VIC_OUTSIDE_NS
#   VIC_OUTSIDE_IP VIC_CLIENTSIDE_NS VIC_NET_<ALIAS>_NS VIC_TESTBED_DIR VIC_ENDPOINT_LOG
#   VIC_DOCKER_CONFIG (where the docker-vic plugin is installed: DOCKER_CONFIG=... docker vic port)
# VIC_TESTBED_DIR (default /tmp/vic-testbed) may be set before `up` and must then be set for `down`.
#
# One testbed at a time: there is one plugin socket per Docker engine. `up` records its owner,
# VIC_TESTBED_OWNER or else the calling process; another `up` while that owner still runs waits
# for it to finish (at most VIC_TESTBED_WAIT seconds, default 900) instead of tearing its testbed
# down, and `down` from anyone else is refused unless given --force. A testbed whose owner is gone
# is stale: the next `up` clears it.
set -euo pipefail
# shellcheck source=scripts/lib.sh
. "$(dirname "$0")/lib.sh"
cd "$VIC_ROOT"

TB_DIR=${VIC_TESTBED_DIR:-/tmp/vic-testbed}
TB_VCH=vch-testbed
TB_SOCKET=/run/docker/plugins/vic.sock
TB_PREFIX=vtb-
TB_LOCK=/run/lock/vic-testbed.lock
TB_OWNER=${VIC_TESTBED_OWNER:-$PPID}

# The VCH's networks. The three role subnets and the container network do not overlap, and
# none is 192.0.2.0/24.
PUBLIC_PG=Docker-Public PUBLIC_IP=198.51.100.2/24 PUBLIC_GW=198.51.100.1
OUTSIDE_IP=198.51.100.10/24
CLIENT_PG=VIC-Client CLIENT_IP=203.0.113.2/26 CLIENTSIDE_CLIENT_IP=203.0.113.10/26
MGMT_PG=VIC-Management MGMT_IP=203.0.113.66/26 CLIENTSIDE_MGMT_IP=203.0.113.70/26
BRIDGE_PG=VIC-Bridge
# Container networks: port group, alias, gateway (none: DHCP), range, firewall level, address of
# the machine on its wire (on a DHCP network it runs the DHCP server and is the router).
CN_PG=(External-Consumer VIC-Container-Network)
CN_ALIAS=(consumer containers)
CN_GW=(203.0.113.129/26 "")
CN_RANGE=(203.0.113.140-203.0.113.160 "")
CN_FIREWALL=(published peers)
CN_MACHINE_IP=(203.0.113.130/26 203.0.113.193/26)
DHCP_POOL=(203.0.113.200 203.0.113.220)

# Everything talks to stderr but the export lines.
log() { printf 'testbed: %s\n' "$*" >&2; }

need_root() { [ "$(id -u)" -eq 0 ] || die "testbed.sh needs root (network namespaces, links, iptables)"; }

# pid_of NAME COMM: the pid in TB_DIR/NAME.pid when that process still runs COMM.
pid_of() {
	local pid
	pid=$(cat "$TB_DIR/$1.pid" 2>/dev/null || true)
	[ -n "$pid" ] && [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = "$2" ] && printf '%s' "$pid"
	return 0
}

# stop_pid PID SIGNAL: signal PID and wait up to 10 s for it to go (KILL after that).
stop_pid() {
	local pid=$1 sig=$2
	[ -n "$pid" ] || return 0
	kill "-$sig" "$pid" 2>/dev/null || return 0
	for _ in $(seq 1 100); do
		kill -0 "$pid" 2>/dev/null || return 0
		sleep 0.1
	done
	kill -KILL "$pid" 2>/dev/null || true
	sleep 0.2
}

# slug TEXT: lowercase, non-alphanumerics as '-'.
slug() { printf '%s' "$1" | tr '[:upper:]' '[:lower:]' | tr -c 'a-z0-9\n' '-'; }

# envname TEXT: upper-case, non-alphanumerics as '_'.
envname() { printf '%s' "$1" | tr '[:lower:]' '[:upper:]' | tr -c 'A-Z0-9\n' '_'; }

wire_ns() { printf '%s' "${TB_PREFIX}pg-$(slug "$1")"; }

socket_answers() {
	if command -v curl >/dev/null; then
		curl -sf --max-time 2 --unix-socket "$TB_SOCKET" -X POST http://vic/Plugin.Activate 2>/dev/null | grep -q Implements
	else
		[ -S "$TB_SOCKET" ]
	fi
}

# lock: serialize the testbed's own commands (fd 9; background children must not inherit it).
lock() {
	mkdir -p "${TB_LOCK%/*}"
	exec 9>"$TB_LOCK"
	flock -w 600 9 || die "another testbed.sh has held $TB_LOCK for 10 minutes"
}
unlock() { flock -u 9; }

# owner_running: the process that brought the running testbed up still runs (and is not us).
owner_running() {
	local pid
	pid=$(cat "$TB_DIR/owner" 2>/dev/null || true)
	[ -n "$pid" ] && [ "$pid" != "$TB_OWNER" ] && [ -f "$TB_DIR/owner" ] && kill -0 "$pid" 2>/dev/null
}

# wait_for_owner: wait while another live caller owns the testbed.
wait_for_owner() {
	local waited=0 limit=${VIC_TESTBED_WAIT:-900} pid
	while owner_running; do
		pid=$(cat "$TB_DIR/owner" 2>/dev/null || true)
		if [ "$waited" -eq 0 ]; then
			log "a testbed is up for pid $pid ($(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | cut -c1-80)); waiting for it to finish"
		fi
		[ "$waited" -lt "$limit" ] || die "the testbed of pid $pid is still in use after $limit s (scripts/testbed.sh down --force takes it away)"
		unlock
		sleep 5
		waited=$((waited + 5))
		lock
	done
}

# --- down ---------------------------------------------------------------------------------------

# remove_alias_networks: the Docker networks vic-endpoint made for the container networks. Only
# possible while it serves: Docker asks the driver.
remove_alias_networks() {
	local alias driver
	for alias in "${CN_ALIAS[@]}"; do
		driver=$(timeout 20 docker network inspect --format '{{.Driver}}' "$alias" 2>/dev/null || true)
		[ "$driver" = vic ] || continue
		if ! timeout 60 docker network rm "$alias" >/dev/null 2>"$TB_DIR/docker-rm.err"; then
			log "warning: docker network rm $alias: $(head -n 1 "$TB_DIR/docker-rm.err")"
		fi
	done
}

down() {
	need_root
	local pid ns links l
	pid=$(pid_of endpoint vic-endpoint)
	if [ -n "$pid" ]; then
		remove_alias_networks
		log "stopping vic-endpoint (pid $pid)"
		stop_pid "$pid" TERM
		# A socket file left by a killed endpoint would make Docker dial a dead socket.
		socket_answers || rm -f "$TB_SOCKET"
	fi
	if [ -x bin/vic-endpoint ] && [ -d "$TB_DIR/state" ]; then
		bin/vic-endpoint teardown --state-dir "$TB_DIR/state" >&2 || log "warning: vic-endpoint teardown failed"
	fi
	stop_dhcp_servers
	ns=$(ip netns list 2>/dev/null | awk '{print $1}' | grep "^$TB_PREFIX" || true)
	for l in $ns; do ip netns delete "$l" 2>/dev/null || true; done
	links=$(ip -o link show 2>/dev/null | awk -F': ' '{print $2}' | sed 's/@.*//' | grep "^$TB_PREFIX" || true)
	for l in $links; do ip link delete "$l" 2>/dev/null || true; done
	pid=$(pid_of vcsim vcsim)
	[ -n "$pid" ] && stop_pid "$pid" TERM
	rm -rf "$TB_DIR"
	[ -n "$ns$links" ] && log "removed namespaces and links: $(printf '%s\n' "$ns" "$links" | tr -s '\n' ' ')"
	log "down"
}

# --- up -----------------------------------------------------------------------------------------

# check_host_ranges: refuse when the host already uses the testbed's ranges outside its own links.
check_host_ranges() {
	local taken
	taken=$(ip -4 -o addr show | awk '{print $2, $4}' | grep -v "^$TB_PREFIX" |
		grep -E ' (198\.51\.100|203\.0\.113)\.' || true)
	[ -z "$taken" ] || die "the host already has addresses in the testbed's ranges: $taken"
	taken=$(ip -4 route show | grep -E '^(198\.51\.100|203\.0\.113)\.' | grep -v "dev $TB_PREFIX" || true)
	[ -z "$taken" ] || die "the host already routes the testbed's ranges: $taken"
}

create_vch() {
	local args=() i
	for i in "${!CN_PG[@]}"; do
		args+=(--container-network "${CN_PG[$i]}:${CN_ALIAS[$i]}"
			--container-network-firewall "${CN_PG[$i]}:${CN_FIREWALL[$i]}")
		[ -z "${CN_GW[$i]}" ] || args+=(--container-network-gateway "${CN_PG[$i]}:${CN_GW[$i]}"
			--container-network-ip-range "${CN_PG[$i]}:${CN_RANGE[$i]}")
	done
	DOCKER_CONFIG=$TB_DIR/docker docker vic create --name "$TB_VCH" --compute-resource /DC0/host/DC0_C0 \
		--public-network "$PUBLIC_PG" --public-network-ip "$PUBLIC_IP" --public-network-gateway "$PUBLIC_GW" \
		--bridge-network "$BRIDGE_PG" \
		--client-network "$CLIENT_PG" --client-network-ip "$CLIENT_IP" \
		--management-network "$MGMT_PG" --management-network-ip "$MGMT_IP" \
		"${args[@]}" --no-context --timeout 2m >"$TB_DIR/create.log" 2>&1 ||
		{ cat "$TB_DIR/create.log" >&2; die "docker vic create $TB_VCH failed"; }
}

# make_wire PG: the namespace and bridge that play port group PG.
make_wire() {
	local ns
	ns=$(wire_ns "$1")
	ip netns list | awk '{print $1}' | grep -qx "$ns" && return 0
	ip netns add "$ns"
	ip -n "$ns" link set lo up
	ip -n "$ns" link add br0 type bridge
	ip -n "$ns" link set br0 up
}

# plug_host LINK MAC PG [CIDR]: a host link with MAC whose peer is a port of PG's wire.
plug_host() {
	local link=$1 mac=$2 pg=$3 cidr=${4:-} ns port
	ns=$(wire_ns "$pg")
	port=$(printf 'nic-%.11s' "${link#"$TB_PREFIX"}")
	make_wire "$pg"
	ip link add "$link" address "$mac" type veth peer name "$port" netns "$ns"
	ip -n "$ns" link set "$port" master br0 up
	[ -n "$cidr" ] && ip addr add "$cidr" dev "$link"
	ip link set "$link" up
}

# plug_machine NS IFACE PG CIDR: a machine namespace's IFACE on PG's wire.
plug_machine() {
	local ns=$1 iface=$2 pg=$3 cidr=$4 wire port
	wire=$(wire_ns "$pg")
	port=$(printf '%.15s' "${ns#"$TB_PREFIX"}-$iface")
	make_wire "$pg"
	ip netns list | awk '{print $1}' | grep -qx "$ns" || { ip netns add "$ns" && ip -n "$ns" link set lo up; }
	ip -n "$ns" link add "$iface" type veth peer name "$port" netns "$wire"
	ip -n "$wire" link set "$port" master br0 up
	ip -n "$ns" addr add "$cidr" dev "$iface"
	ip -n "$ns" link set "$iface" up
}

# host_link ROLES ALIASES: the host link name of a NIC.
host_link() {
	case ",$1," in
	*,public,*) echo "${TB_PREFIX}public" ;;
	*,client,*) echo "${TB_PREFIX}client" ;;
	*,management,*) echo "${TB_PREFIX}mgmt" ;;
	*,bridge,*) echo "${TB_PREFIX}bridge" ;;
	*) local a=${2%%,*}; echo "${TB_PREFIX}c-$(slug "$a" | cut -c1-9)" ;;
	esac
}

# wire_nics: read the endpoint VM's NICs from vSphere and give each a host link with its MAC.
wire_nics() {
	local pg mac roles aliases link cidr
	DOCKER_CONFIG=$TB_DIR/docker docker vic inspect "$TB_VCH" --format \
		'{{range .NICs}}{{.PortGroup}}|{{.MAC}}|{{range .Roles}}{{.}},{{end}}|{{range .Aliases}}{{.}},{{end}}{{"\n"}}{{end}}' \
		>"$TB_DIR/nics" 2>"$TB_DIR/inspect.err" || { cat "$TB_DIR/inspect.err" >&2; die "docker vic inspect $TB_VCH failed"; }
	while IFS='|' read -r pg mac roles aliases; do
		[ -n "$pg" ] || continue
		link=$(host_link "${roles%,}" "${aliases%,}")
		cidr=
		case ",$roles" in *,public,*) cidr=$PUBLIC_IP ;; *,client,*) cidr=$CLIENT_IP ;; *,management,*) cidr=$MGMT_IP ;; esac
		plug_host "$link" "$mac" "$pg" "$cidr"
		log "NIC $mac on $pg (${roles%,}${aliases:+ ${aliases%,}}) is host link $link${cidr:+ $cidr}"
	done <"$TB_DIR/nics"
	grep -q "^$PUBLIC_PG|" "$TB_DIR/nics" || die "the endpoint VM has no NIC on $PUBLIC_PG"
}

wire_machines() {
	local i
	plug_machine "${TB_PREFIX}outside" eth0 "$PUBLIC_PG" "$OUTSIDE_IP"
	plug_machine "${TB_PREFIX}clientside" eth0 "$CLIENT_PG" "$CLIENTSIDE_CLIENT_IP"
	plug_machine "${TB_PREFIX}clientside" eth1 "$MGMT_PG" "$CLIENTSIDE_MGMT_IP"
	for i in "${!CN_PG[@]}"; do
		plug_machine "${TB_PREFIX}net-$(slug "${CN_ALIAS[$i]}")" eth0 "${CN_PG[$i]}" "${CN_MACHINE_IP[$i]}"
		[ -n "${CN_GW[$i]}" ] || start_dhcp_server "$(slug "${CN_ALIAS[$i]}")" "${CN_MACHINE_IP[$i]}"
	done
}

# start_dhcp_server SLUG CIDR: busybox udhcpd in namespace vtb-net-SLUG, handing out DHCP_POOL
# with the machine itself (CIDR) as router and DNS server.
start_dhcp_server() {
	local slug=$1 ip=${2%/*} conf=$TB_DIR/udhcpd-$1.conf
	cat >"$conf" <<-EOF
		start ${DHCP_POOL[0]}
		end ${DHCP_POOL[1]}
		interface eth0
		lease_file $TB_DIR/udhcpd-$slug.leases
		pidfile $TB_DIR/udhcpd-$slug.pid
		opt subnet 255.255.255.192
		opt router $ip
		opt dns $ip
		opt lease 600
	EOF
	: >"$TB_DIR/udhcpd-$slug.leases"
	ip netns exec "${TB_PREFIX}net-$slug" busybox udhcpd "$conf" 9>&- || die "busybox udhcpd did not start on ${TB_PREFIX}net-$slug"
	log "DHCP server on ${TB_PREFIX}net-$slug ($ip) hands out ${DHCP_POOL[0]}-${DHCP_POOL[1]}"
}

# stop_dhcp_servers: the udhcpd of this testbed, also of an earlier run whose directory is gone.
stop_dhcp_servers() {
	pkill -f "^busybox udhcpd $TB_DIR/udhcpd-" 2>/dev/null || true
}

write_credentials() {
	local user pass
	user=$(printf '%s' "$VIC_TARGET" | sed -nE 's|^https?://([^:@/]+):[^@/]*@.*|\1|p')
	pass=$(printf '%s' "$VIC_TARGET" | sed -nE 's|^https?://[^:@/]+:([^@/]*)@.*|\1|p')
	(umask 077 && printf 'VIC_USER=%s\nVIC_PASSWORD=%s\n' "$user" "$pass" >"$TB_DIR/credentials")
	chmod 600 "$TB_DIR/credentials"
}

# start_endpoint: start vic-endpoint in the background and wait until its socket answers.
start_endpoint() {
	local target pid
	target=$(printf '%s' "$VIC_TARGET" | sed -E 's|^(https?://)[^@/]*@|\1|')
	# (Without curl a socket file is all one can see, and a stale one says nothing.)
	if command -v curl >/dev/null && socket_answers; then
		die "another process serves $TB_SOCKET: stop it first (only one vic plugin can serve a Docker engine)"
	fi
	rm -f "$TB_SOCKET"
	mkdir -p "$TB_DIR/state"
	setsid "$VIC_ROOT/bin/vic-endpoint" --vch "$TB_VCH" --target "$target" --thumbprint "$VIC_THUMBPRINT" \
		--credentials "$TB_DIR/credentials" --state-dir "$TB_DIR/state" --log-level debug --config-interval 2s \
		>>"$TB_DIR/endpoint.log" 2>&1 </dev/null 9>&- &
	pid=$!
	echo "$pid" >"$TB_DIR/endpoint.pid"
	for _ in $(seq 1 300); do
		if socket_answers; then
			log "vic-endpoint (pid $pid) serves $TB_SOCKET; log $TB_DIR/endpoint.log"
			return 0
		fi
		if ! kill -0 "$pid" 2>/dev/null; then
			tail -n 20 "$TB_DIR/endpoint.log" >&2
			die "vic-endpoint stopped before it served $TB_SOCKET"
		fi
		sleep 0.1
	done
	tail -n 20 "$TB_DIR/endpoint.log" >&2
	die "vic-endpoint did not serve $TB_SOCKET within 30 s"
}

write_env() {
	local i
	{
		printf 'export VIC_TARGET=%q\n' "$VIC_TARGET"
		printf 'export VIC_THUMBPRINT=%q\n' "$VIC_THUMBPRINT"
		printf 'export VIC_VCH=%q\n' "$TB_VCH"
		printf 'export VIC_PUBLIC_IP=%q\n' "${PUBLIC_IP%/*}"
		printf 'export VIC_CLIENT_IP=%q\n' "${CLIENT_IP%/*}"
		printf 'export VIC_MANAGEMENT_IP=%q\n' "${MGMT_IP%/*}"
		printf 'export VIC_OUTSIDE_NS=%q\n' "${TB_PREFIX}outside"
		printf 'export VIC_OUTSIDE_IP=%q\n' "${OUTSIDE_IP%/*}"
		printf 'export VIC_CLIENTSIDE_NS=%q\n' "${TB_PREFIX}clientside"
		for i in "${!CN_ALIAS[@]}"; do
			printf 'export VIC_NET_%s_NS=%q\n' "$(envname "${CN_ALIAS[$i]}")" "${TB_PREFIX}net-$(slug "${CN_ALIAS[$i]}")"
		done
		printf 'export VIC_TESTBED_DIR=%q\n' "$TB_DIR"
		printf 'export VIC_ENDPOINT_LOG=%q\n' "$TB_DIR/endpoint.log"
		printf 'export VIC_DOCKER_CONFIG=%q\n' "$TB_DIR/docker"
	} >"$TB_DIR/env"
}

up() {
	need_root
	lock
	wait_for_owner
	command -v docker >/dev/null || die "docker is not installed: run scripts/setup.sh"
	timeout 20 docker version --format '{{.Server.Version}}' >/dev/null 2>&1 || die "no Docker engine answers: run scripts/setup.sh"
	log "clearing what an earlier run left"
	down
	check_host_ranges
	log "building"
	make -s --no-print-directory build >&2
	[ -x bin/vic-endpoint ] || die "bin/vic-endpoint was not built (endpoint/cmd/vic-endpoint is missing)"
	mkdir -p "$TB_DIR"
	chmod 700 "$TB_DIR"
	echo "$TB_OWNER" >"$TB_DIR/owner"
	trap 'up_failed' EXIT

	start_vcsim "$TB_DIR" >&2 9>&-
	log "vcsim serves $(printf '%s' "$VIC_TARGET" | sed 's|//[^@]*@|//|')"
	make -s --no-print-directory install DOCKER_CONFIG="$TB_DIR/docker" >/dev/null
	log "creating VCH $TB_VCH"
	create_vch
	wire_nics
	wire_machines
	write_credentials
	start_endpoint
	write_env
	trap - EXIT
	cat "$TB_DIR/env"
}

# up_failed: a failed `up` leaves nothing behind but says what happened.
up_failed() {
	local rc=$?
	[ "$rc" -eq 0 ] && return
	if [ -s "$TB_DIR/endpoint.log" ]; then
		log "endpoint log (last lines):"
		tail -n 20 "$TB_DIR/endpoint.log" | sed 's/^/    /' >&2
	fi
	if [ -n "${VIC_TESTBED_KEEP:-}" ]; then
		log "up failed; VIC_TESTBED_KEEP is set, so everything stays for a look (scripts/testbed.sh down removes it)"
	else
		log "up failed; removing what it made"
		down
	fi
	exit "$rc"
}

restart_endpoint() {
	need_root
	lock
	[ -f "$TB_DIR/env" ] || die "no testbed is up in $TB_DIR"
	# shellcheck disable=SC1091
	. "$TB_DIR/env"
	local pid
	pid=$(pid_of endpoint vic-endpoint)
	if [ -n "$pid" ]; then
		log "kill -9 vic-endpoint (pid $pid)"
		kill -KILL "$pid"
		while kill -0 "$pid" 2>/dev/null; do sleep 0.05; done
	fi
	start_endpoint
}

case ${1:-} in
up) up ;;
down)
	lock
	if [ "${2:-}" != --force ] && owner_running; then
		die "the testbed belongs to pid $(cat "$TB_DIR/owner") ($(tr '\0' ' ' <"/proc/$(cat "$TB_DIR/owner")/cmdline" 2>/dev/null | cut -c1-80)): 'scripts/testbed.sh down --force' takes it anyway"
	fi
	down
	;;
env)
	[ -f "$TB_DIR/env" ] || die "no testbed is up in $TB_DIR"
	cat "$TB_DIR/env"
	;;
restart-endpoint) restart_endpoint ;;
*) die "usage: scripts/testbed.sh up|down|env|restart-endpoint" ;;
esac
