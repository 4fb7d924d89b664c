#!/usr/bin/env bash
# bench.sh: measure the vic driver against Docker's own drivers in the same run, on the local
# testbed (scripts/testbed.sh), and write BENCHMARKS.md. The goals come from the issues; each
# measure is a section that BENCH_ONLY names (run, range, tcp, nat, container, scale):
#   1. `docker run --rm` on a vic network / on a bridge network      median ratio <= 1.05
#   2. `docker run -d -p 20000-20999:20000-20999` and its `docker rm -f`  vic >= 40x faster,
#      no docker-proxy process and no memory per port
#   3. TCP throughput loopback -> published port / straight to the container's address >= 0.9
#   4. NAT programming time per container with 1000 mappings published / with 10    <= 1.2
#   5. `docker run --rm` on the static container network / on Docker's macvlan on the same
#      parent link   median ratio <= 1.05; on the DHCP container network, the lease included
#   6. 500 containers on vic networks (300 publishing a port): vic-endpoint's restart until every
#      link and rule is back < 1 s, and its memory per container
#   7, 8. the swarm's figures (scripts/bench-swarm.sh, section swarm): TCP across two endpoints
#      vic / overlay >= 1.2, docker service scale 0 -> 30 vic / overlay <= 1.1
# Every byte of traffic goes to loopback or to containers and namespaces on this machine. About
# 15-20 minutes, most of it starting and removing the 500 containers.
#
#   scripts/bench.sh                    run everything, write BENCHMARKS.md
#   BENCH_RUNS=5 scripts/bench.sh       fewer runs of docker run --rm (default 25 on each network)
#   BENCH_ONLY=container,scale BENCH_SCALE=50 BENCH_SCALE_PORTS=30 scripts/bench.sh
#                                       only sections 5 and 6, with 50 containers (30 with a port);
#                                       BENCHMARKS.md then holds only their rows (sections: run, range,
#                                       tcp, nat, container, scale, vsphere, appliance)
set -euo pipefail
# shellcheck source=scripts/lib.sh
. "$(dirname "$0")/lib.sh"
cd "$VIC_ROOT"

[ "$(id -u)" -eq 0 ] || die "needs root (network namespaces, iptables, nftables, dockerd)"
for tool in nft jq; do command -v "$tool" >/dev/null || die "$tool is not installed: run scripts/setup.sh"; done

IMAGE=${VIC_IMAGE:-vic-busybox:test}
RUNS=${BENCH_RUNS:-25}
RANGE_RUNS=${BENCH_RANGE_RUNS:-3}
RANGE_RUNS_BRIDGE=${BENCH_RANGE_RUNS_BRIDGE:-1}
NAT_RUNS=${BENCH_NAT_RUNS:-25}
TCP_SECONDS=${BENCH_TCP_SECONDS:-3}
TCP_ROUNDS=${BENCH_TCP_ROUNDS:-7}
OUT=${BENCH_OUT:-$VIC_ROOT/BENCHMARKS.md}
SECTIONS="run range tcp nat container scale vsphere appliance swarm"
ONLY=${BENCH_ONLY:-}
for s in ${ONLY//,/ }; do
	case " $SECTIONS " in *" $s "*) ;; *) die "BENCH_ONLY names section '$s': the sections are ${SECTIONS// /, }" ;; esac
done
PREFIX=vic-bench-
VICNET=${PREFIX}vic BRNET=${PREFIX}bridge

testbed_up=0
work=$(mktemp -d "${TMPDIR:-/tmp}/vic-bench.XXXXXX")

remove_ours() { remove_prefixed "${PREFIX}"; }

trap 'leave_testbed "$PREFIX"' EXIT
trap 'exit 130' INT TERM
# The testbed is ours while this script runs: another testbed.sh up waits, and its down refuses.
export VIC_TESTBED_OWNER=$$

# --- tools ---------------------------------------------------------------------------------------------

# want SECTION: whether BENCH_ONLY (default: all) selects SECTION.
want() { [ -z "$ONLY" ] || case ",$ONLY," in *",$1,"*) true ;; *) false ;; esac; }

# now_ns: nanoseconds since the epoch.
now_ns() { date +%s%N; }

# timed_ms CMD...: run CMD quietly and print how long it took in milliseconds; fails with CMD.
timed_ms() {
	local t0 t1
	t0=$(now_ns)
	"$@" >"$work/timed.out" 2>&1 || { cat "$work/timed.out" >&2; return 1; }
	t1=$(now_ns)
	echo $(((t1 - t0) / 1000000))
}

# proxies: "COUNT RSS_MB" of the docker-proxy processes.
proxies() { { ps -C docker-proxy -o rss= 2>/dev/null || true; } | awk '{n++; kb += $1} END {printf "%d %.1f\n", n, kb / 1024}'; }

# rss_mb PID: the resident memory of a process in MB.
rss_mb() { awk '/^VmRSS:/ {printf "%.1f\n", $2 / 1024}' "/proc/$1/status" 2>/dev/null || echo nan; }

endpoint_pid() {
	local f pid
	for f in "${VIC_TESTBED_DIR:-/nonexistent}"/*endpoint*.pid; do
		[ -f "$f" ] || continue
		pid=$(cat "$f")
		[ "$(cat "/proc/$pid/comm" 2>/dev/null)" = vic-endpoint ] && { echo "$pid"; return; }
	done
	pgrep -xo vic-endpoint
}

# container_ip NAME: the container's first address.
container_ip() { docker inspect -f '{{range .NetworkSettings.Networks}}{{.IPAddress}} {{end}}' "$1" | awk '{print $1}'; }

# --- setup ---------------------------------------------------------------------------------------------

header "testbed"
[ -f scripts/testbed.sh ] || die "scripts/testbed.sh is missing"
if ! bash scripts/testbed.sh up >"$work/testbed.out" 2>"$work/testbed.err"; then
	cat "$work/testbed.out" "$work/testbed.err" >&2
	die "scripts/testbed.sh up failed"
fi
testbed_up=1
eval "$(grep -E '^export [A-Z_]+=' "$work/testbed.out")"
: "${VIC_PUBLIC_IP:?testbed printed no VIC_PUBLIC_IP}"
bash scripts/image.sh >/dev/null
remove_ours
docker network create -d vic --ipam-driver vic "$VICNET" >/dev/null
docker network create "$BRNET" >/dev/null
EP=$(endpoint_pid) || die "cannot find the vic-endpoint process"
LOG=${VIC_ENDPOINT_LOG:-}
say "public address $VIC_PUBLIC_IP, endpoint pid $EP, log ${LOG:-none}"
started=$SECONDS

# --- 1. docker run --rm ------------------------------------------------------------------------------------

if want run; then
header "docker run --rm: $RUNS runs on each network, interleaved"
docker run --rm --net "$VICNET" "$IMAGE" sh -c true >/dev/null
docker run --rm --net "$BRNET" "$IMAGE" sh -c true >/dev/null
: >"$work/rm.vic"
: >"$work/rm.br"
for i in $(seq 1 "$RUNS"); do
	if [ $((i % 2)) -eq 1 ]; then
		timed_ms docker run --rm --net "$VICNET" "$IMAGE" sh -c true >>"$work/rm.vic"
		timed_ms docker run --rm --net "$BRNET" "$IMAGE" sh -c true >>"$work/rm.br"
	else
		timed_ms docker run --rm --net "$BRNET" "$IMAGE" sh -c true >>"$work/rm.br"
		timed_ms docker run --rm --net "$VICNET" "$IMAGE" sh -c true >>"$work/rm.vic"
	fi
done
RM_VIC=$(median <"$work/rm.vic") RM_BR=$(median <"$work/rm.br")
RM_RATIO=$(ratio "$RM_VIC" "$RM_BR")
RM_VIC_Q=$(quartiles <"$work/rm.vic") RM_BR_Q=$(quartiles <"$work/rm.br")
# Each vic run against the bridge run next to it: robust to the machine's load drifting.
RM_PAIRED=$(paste "$work/rm.vic" "$work/rm.br" | awk '{print $1 / $2}' | median | awk '{printf "%.2f\n", $1}')
say "median: vic $RM_VIC ms ($RM_VIC_Q), bridge $RM_BR ms ($RM_BR_Q), ratio $RM_RATIO, median of paired ratios $RM_PAIRED"
fi

# --- 2. 1000 published ports ----------------------------------------------------------------------------

# range_run NET OUTPREFIX: time run and rm -f of a container publishing 20000-20999, and sample
# docker-proxy processes and the endpoint's memory while it runs.
range_run() {
	local net=$1 o=$2 rss0 rss1
	rss0=$(rss_mb "$EP")
	timed_ms docker run -d --name ${PREFIX}range --net "$net" -p 20000-20999:20000-20999 "$IMAGE" sleep 3600 >>"$o.run"
	proxies >>"$o.proxies"
	rss1=$(rss_mb "$EP")
	awk -v a="$rss0" -v b="$rss1" 'BEGIN {printf "%.1f\n", b - a}' >>"$o.eprss"
	timed_ms docker rm -f ${PREFIX}range >>"$o.rm"
}

if want range; then
header "docker run -d -p 20000-20999:20000-20999 and docker rm -f"
for f in vic br; do : >"$work/range.$f.run" && : >"$work/range.$f.rm" && : >"$work/range.$f.proxies" && : >"$work/range.$f.eprss"; done
for i in $(seq 1 "$RANGE_RUNS"); do
	range_run "$VICNET" "$work/range.vic"
	say "vic run $i: run $(tail -n 1 "$work/range.vic.run") ms, rm $(tail -n 1 "$work/range.vic.rm") ms, docker-proxy (count MB) $(tail -n 1 "$work/range.vic.proxies"), endpoint RSS +$(tail -n 1 "$work/range.vic.eprss") MB"
	if [ "$i" -le "$RANGE_RUNS_BRIDGE" ]; then
		range_run "$BRNET" "$work/range.br"
		say "bridge run $i: run $(tail -n 1 "$work/range.br.run") ms, rm $(tail -n 1 "$work/range.br.rm") ms, docker-proxy (count MB) $(tail -n 1 "$work/range.br.proxies")"
	fi
done
RG_VIC_RUN=$(median <"$work/range.vic.run") RG_BR_RUN=$(median <"$work/range.br.run")
RG_VIC_RM=$(median <"$work/range.vic.rm") RG_BR_RM=$(median <"$work/range.br.rm")
RG_RUN_X=$(ratio "$RG_BR_RUN" "$RG_VIC_RUN" 1) RG_RM_X=$(ratio "$RG_BR_RM" "$RG_VIC_RM" 1)
RG_BOTH_X=$(ratio "$((${RG_BR_RUN%.*} + ${RG_BR_RM%.*}))" "$((${RG_VIC_RUN%.*} + ${RG_VIC_RM%.*}))" 1)
read -r PX_VIC_N PX_VIC_MB < <(sort -n "$work/range.vic.proxies" | tail -n 1)
read -r PX_BR_N PX_BR_MB < <(sort -n "$work/range.br.proxies" | tail -n 1)
EP_RSS=$(sort -g "$work/range.vic.eprss" | tail -n 1)
fi

# --- 3. TCP throughput -----------------------------------------------------------------------------------------

if want tcp; then
header "TCP throughput from the host: loopback -> published port vs straight to the container"
docker run -d --name ${PREFIX}sink-vic --net "$VICNET" -p 28310:5001 -v "$VIC_ROOT/bin/vic-peer:/vic-peer:ro" "$IMAGE" /vic-peer sink 5001 >/dev/null
docker run -d --name ${PREFIX}sink-br --net "$BRNET" -p 28311:5001 -v "$VIC_ROOT/bin/vic-peer:/vic-peer:ro" "$IMAGE" /vic-peer sink 5001 >/dev/null
SINK_VIC=$(container_ip ${PREFIX}sink-vic) SINK_BR=$(container_ip ${PREFIX}sink-br)
sleep 1
for f in vic.pub vic.direct br.pub br.direct; do : >"$work/tcp.$f"; done
for i in $(seq 1 "$TCP_ROUNDS"); do
	bin/vic-peer send "$SINK_VIC:5001" "$TCP_SECONDS" >>"$work/tcp.vic.direct"
	bin/vic-peer send "127.0.0.1:28310" "$TCP_SECONDS" >>"$work/tcp.vic.pub"
	bin/vic-peer send "$SINK_BR:5001" "$TCP_SECONDS" >>"$work/tcp.br.direct"
	bin/vic-peer send "127.0.0.1:28311" "$TCP_SECONDS" >>"$work/tcp.br.pub"
	say "round $i (MB/s): vic direct $(tail -n 1 "$work/tcp.vic.direct"), vic published $(tail -n 1 "$work/tcp.vic.pub"), bridge direct $(tail -n 1 "$work/tcp.br.direct"), bridge published $(tail -n 1 "$work/tcp.br.pub")"
done
TCP_VIC_D=$(median <"$work/tcp.vic.direct") TCP_VIC_P=$(median <"$work/tcp.vic.pub")
TCP_BR_D=$(median <"$work/tcp.br.direct") TCP_BR_P=$(median <"$work/tcp.br.pub")
# Each round's published figure against the direct one taken just before it: robust to the
# machine's load drifting between rounds. Median of the rounds, and their range.
paired() { paste "$1" "$2" | awk '{print $1 / $2}'; }
TCP_VIC_R=$(paired "$work/tcp.vic.pub" "$work/tcp.vic.direct" | median | awk '{printf "%.2f\n", $1}')
TCP_BR_R=$(paired "$work/tcp.br.pub" "$work/tcp.br.direct" | median | awk '{printf "%.2f\n", $1}')
TCP_VIC_RANGE=$(paired "$work/tcp.vic.pub" "$work/tcp.vic.direct" | sort -g | awk 'NR == 1 {lo = $1} {hi = $1} END {printf "%.2f–%.2f\n", lo, hi}')
TCP_BR_RANGE=$(paired "$work/tcp.br.pub" "$work/tcp.br.direct" | sort -g | awk 'NR == 1 {lo = $1} {hi = $1} END {printf "%.2f–%.2f\n", lo, hi}')
say "published/direct, median of rounds: vic $TCP_VIC_R ($TCP_VIC_RANGE), bridge $TCP_BR_R ($TCP_BR_RANGE)"
docker rm -f ${PREFIX}sink-vic ${PREFIX}sink-br >/dev/null
fi

# --- 4. NAT programming time at 10 and at 1000 mappings -------------------------------------------------------

# logged_ms FROM_LINE PATTERN: the duration in ms of the last line matching PATTERN that the
# endpoint logged after line FROM_LINE of its log ("" without a debug log).
logged_ms() {
	[ -n "$LOG" ] && [ -f "$LOG" ] || return 0
	tail -n +"$(($1 + 1))" "$LOG" | grep -E "$2" | grep -o 'duration=[0-9.]*[a-zµ]*' | tail -n 1 |
		awk -F= '{v = $2; u = v; sub(/^[0-9.]+/, "", u); n = v + 0
			if (u == "ns") n /= 1e6; else if (u == "µs" || u == "us") n /= 1e3; else if (u == "s") n *= 1e3
			printf "%.3f\n", n}'
}

# nat_level NAME: time NAT_RUNS single-port starts (docker run wall time, the endpoint's
# ProgramExternalConnectivity and, inside it, the NAT change) with what is published now.
nat_level() {
	local name=$1 i from
	: >"$work/nat.$name.run"
	: >"$work/nat.$name.pec"
	: >"$work/nat.$name.nat"
	for i in $(seq 1 "$NAT_RUNS"); do
		from=$(wc -l <"${LOG:-/dev/null}" 2>/dev/null || echo 0)
		timed_ms docker run -d --name ${PREFIX}one --net "$VICNET" -p 28320:80 "$IMAGE" sleep 3600 >>"$work/nat.$name.run"
		sleep 0.2
		logged_ms "$from" 'NetworkDriver.ProgramExternalConnectivity' >>"$work/nat.$name.pec"
		logged_ms "$from" 'msg="nat ports changed" added=1 ' >>"$work/nat.$name.nat"
		docker rm -f ${PREFIX}one >/dev/null
	done
}

# map_elements: the elements of the port maps (tcpports, udpports, sctpports) of table ip vic.
map_elements() {
	local m
	for m in tcpports udpports sctpports; do nft -j list map ip vic "$m" 2>/dev/null || true; done |
		jq -s '[.[].nftables[]?.map?.elem? // [] | length] | add // 0'
}

# element_floor ELEMENTS: the median ms of one `nft add element` and one `nft delete element` of a
# published port, in a throwaway namespace whose table ip vic (laid out as the endpoint's: the
# port maps and the nat chains prerouting and output) holds ELEMENTS elements in map tcpports:
# the cost of one port change in the kernel's map, seen through the nft CLI.
element_floor() {
	local ns=${PREFIX}nft
	ip netns delete "$ns" 2>/dev/null || true
	ip netns add "$ns"
	# shellcheck disable=SC2016
	ip netns exec "$ns" bash -c '
		set -e
		{
			echo "table ip vic {"
			for p in tcp udp sctp; do echo "map ${p}ports { type ipv4_addr . inet_service : ipv4_addr . inet_service; }"; done
			for h in prerouting output; do
				echo "chain $h { type nat hook $h priority -100; policy accept;"
				for p in tcp udp sctp; do echo "fib daddr type local dnat ip to ip daddr . $p dport map @${p}ports comment \"vic: published $p ports\""; done
				echo "}"
			done
			echo "}"
			for i in $(seq 1 "$1"); do echo "add element ip vic tcpports { 198.51.100.2 . $((20000 + i)) : 172.16.0.2 . 80 }"; done
		} | nft -f -
		for _ in 1 2 3 4 5 6 7; do
			t0=$(date +%s%N)
			nft add element ip vic tcpports "{ 127.0.0.1 . 9999 : 172.16.0.3 . 80 }"
			nft delete element ip vic tcpports "{ 127.0.0.1 . 9999 }"
			echo $((($(date +%s%N) - t0) / 2000))
		done' _ "$1" | median | awk '{printf "%.2f\n", $1 / 1000}'
	ip netns delete "$ns"
}

if want nat; then
header "NAT programming time for one more container at 10 and at 1000 published mappings"
docker run -d --name ${PREFIX}load10 --net "$VICNET" -p 21000-21009:21000-21009 "$IMAGE" sleep 3600 >/dev/null
nat_level 10
docker run -d --name ${PREFIX}load990 --net "$VICNET" -p 21010-21999:21010-21999 "$IMAGE" sleep 3600 >/dev/null
DNAT_LINES=$(map_elements)
nat_level 1000
NAT10_RUN=$(median <"$work/nat.10.run") NAT1000_RUN=$(median <"$work/nat.1000.run")
NAT_RUN_R=$(ratio "$NAT1000_RUN" "$NAT10_RUN")
if [ -s "$work/nat.10.pec" ] && [ -s "$work/nat.1000.pec" ] && [ -s "$work/nat.10.nat" ] && [ -s "$work/nat.1000.nat" ]; then
	NAT10_PEC=$(median <"$work/nat.10.pec") NAT1000_PEC=$(median <"$work/nat.1000.pec")
	NAT_PEC_R=$(ratio "$NAT1000_PEC" "$NAT10_PEC")
	NAT10_NAT=$(median <"$work/nat.10.nat") NAT1000_NAT=$(median <"$work/nat.1000.nat")
	NAT_NAT_R=$(ratio "$NAT1000_NAT" "$NAT10_NAT")
	NAT_SRC="the endpoint's debug log (the duration of the port maps' change, and of the whole ProgramExternalConnectivity)"
else
	NAT10_PEC=n/a NAT1000_PEC=n/a NAT_PEC_R=n/a NAT10_NAT=n/a NAT1000_NAT=n/a NAT_NAT_R=n/a
	NAT_SRC="docker run wall time (the endpoint logged no request durations)"
fi
FLOOR20=$(element_floor 20) FLOOR2000=$(element_floor 2000)
FLOOR_R=$(ratio "$FLOOR2000" "$FLOOR20")
say "nft add + delete of one map element: $FLOOR20 ms with 20 elements, $FLOOR2000 ms with 2000"
say "docker run: $NAT10_RUN ms at 10, $NAT1000_RUN ms at 1000 ($DNAT_LINES map elements in table ip vic); ProgramExternalConnectivity: $NAT10_PEC ms, $NAT1000_PEC ms; its NAT change: $NAT10_NAT ms, $NAT1000_NAT ms"
remove_ours
fi
# === 5. container networks: docker run --rm against Docker's macvlan ==========================
# (issue 10) The testbed's two container networks, each against a Docker macvlan network on the
# same parent link: the endpoint's link on that port group (VIC_NET_<ALIAS>_LINK).

STATIC_NET=${BENCH_STATIC_NET:-consumer} DHCP_NET=${BENCH_DHCP_NET:-containers}
MV_STATIC=${PREFIX}macvlan MV_DHCP=${PREFIX}macvlan-dhcp

# testbed_var ALIAS WHAT: the testbed's export VIC_NET_<ALIAS>_<WHAT>, or a failure.
testbed_var() {
	local name
	name=VIC_NET_$(printf '%s' "$1" | tr 'a-z-' 'A-Z_')_$2
	[ -n "${!name:-}" ] || die "the testbed printed no $name"
	printf '%s\n' "${!name}"
}

# spare_range CIDR: the /29 before the last /29 of the IPv4 subnet CIDR (a /28 or wider): room
# for Docker's own IPAM, away from the testbed's ranges and DHCP pool at the start of its subnets.
spare_range() {
	awk -v cidr="$1" 'BEGIN {
		split(cidr, a, "/"); split(a[1], o, "."); bits = a[2]
		if (bits > 28) exit 1
		size = 2 ^ (32 - bits); base = ((o[1] * 256 + o[2]) * 256 + o[3]) * 256 + o[4]; base -= base % size
		n = base + size - 16
		printf "%d.%d.%d.%d/29\n", int(n / 16777216), int(n / 65536) % 256, int(n / 256) % 256, n % 256
	}' || die "subnet $1 is narrower than a /28: no room for a Docker macvlan range"
}

# subnet_of ADDR/BITS: the subnet of an address in CIDR notation.
subnet_of() {
	awk -v cidr="$1" 'BEGIN {
		split(cidr, a, "/"); split(a[1], o, "."); size = 2 ^ (32 - a[2])
		n = ((o[1] * 256 + o[2]) * 256 + o[3]) * 256 + o[4]; n -= n % size
		printf "%d.%d.%d.%d/%d\n", int(n / 16777216), int(n / 65536) % 256, int(n / 256) % 256, n % 256, a[2]
	}'
}

# make_macvlan NAME PARENT SUBNET GATEWAY: a Docker macvlan network on PARENT whose addresses
# come from Docker's IPAM in the spare range of SUBNET.
make_macvlan() {
	docker network create -d macvlan -o parent="$2" --subnet "$3" --gateway "$4" --ip-range "$(spare_range "$3")" "$1" >/dev/null
}

# rm_run NET: one timed `docker run --rm` on NET.
rm_run() { timed_ms docker run --rm --net "$1" "$IMAGE" sh -c true; }

bench_container_networks() {
	local static_link dhcp_link static_subnet static_gw dhcp_machine dhcp_subnet i k from order
	header "docker run --rm on the container networks against Docker's macvlan: $RUNS runs each, interleaved"
	static_link=$(testbed_var "$STATIC_NET" LINK) dhcp_link=$(testbed_var "$DHCP_NET" LINK)
	read -r static_subnet static_gw < <(docker network inspect -f '{{range .IPAM.Config}}{{.Subnet}} {{.Gateway}}{{end}}' "$STATIC_NET")
	[ -n "$static_gw" ] || die "container network $STATIC_NET has no gateway: it is not a static network"
	# The DHCP server's machine is the router of the DHCP port group, at its own address.
	dhcp_machine=$(ip -n "$(testbed_var "$DHCP_NET" NS)" -o -4 addr show dev eth0 | awk '{print $4; exit}')
	[ -n "$dhcp_machine" ] || die "the DHCP server's machine of $DHCP_NET has no address"
	dhcp_subnet=$(subnet_of "$dhcp_machine")
	make_macvlan "$MV_STATIC" "$static_link" "$static_subnet" "$static_gw"
	make_macvlan "$MV_DHCP" "$dhcp_link" "$dhcp_subnet" "${dhcp_machine%/*}"
	CN_STATIC_DESC="$STATIC_NET on $static_link, subnet $static_subnet; macvlan range $(spare_range "$static_subnet")"
	CN_DHCP_DESC="$DHCP_NET on $dhcp_link, subnet $dhcp_subnet; macvlan range $(spare_range "$dhcp_subnet")"
	say "static: $CN_STATIC_DESC"
	say "DHCP: $CN_DHCP_DESC"
	for k in "$STATIC_NET" "$MV_STATIC" "$DHCP_NET" "$MV_DHCP"; do rm_run "$k" >/dev/null; done
	for k in cn.vs cn.ms cn.vd cn.md cn.lease; do : >"$work/$k"; done
	# Each round runs the four in another order, so that none always follows the same one.
	for i in $(seq 1 "$RUNS"); do
		order=(vs ms vd md vs ms vd)
		for k in "${order[@]:$((i % 4)):4}"; do
			case $k in
			vs) rm_run "$STATIC_NET" >>"$work/cn.vs" ;;
			ms) rm_run "$MV_STATIC" >>"$work/cn.ms" ;;
			vd)
				from=$(wc -l <"${LOG:-/dev/null}" 2>/dev/null || echo 0)
				rm_run "$DHCP_NET" >>"$work/cn.vd"
				logged_ms "$from" 'method=IpamDriver.RequestAddress ' >>"$work/cn.lease"
				;;
			md) rm_run "$MV_DHCP" >>"$work/cn.md" ;;
			esac
		done
	done
	docker network rm "$MV_STATIC" "$MV_DHCP" >/dev/null
	CN_VS=$(median <"$work/cn.vs") CN_MS=$(median <"$work/cn.ms") CN_VD=$(median <"$work/cn.vd") CN_MD=$(median <"$work/cn.md")
	CN_VS_Q=$(quartiles <"$work/cn.vs") CN_MS_Q=$(quartiles <"$work/cn.ms") CN_VD_Q=$(quartiles <"$work/cn.vd") CN_MD_Q=$(quartiles <"$work/cn.md")
	CN_S_RATIO=$(ratio "$CN_VS" "$CN_MS") CN_D_RATIO=$(ratio "$CN_VD" "$CN_MD")
	CN_S_PAIRED=$(paste "$work/cn.vs" "$work/cn.ms" | awk '{print $1 / $2}' | median | awk '{printf "%.2f\n", $1}')
	CN_D_PAIRED=$(paste "$work/cn.vd" "$work/cn.md" | awk '{print $1 / $2}' | median | awk '{printf "%.2f\n", $1}')
	if [ -s "$work/cn.lease" ]; then
		CN_LEASE=$(median <"$work/cn.lease" | awk '{printf "%.0f\n", $1}')
		# Each DHCP run without its own lease, against the macvlan run of its round.
		CN_VD_NOLEASE=$(paste "$work/cn.vd" "$work/cn.lease" | awk '{print $1 - $2}' | median | awk '{printf "%.0f\n", $1}')
		CN_D_NOLEASE_PAIRED=$(paste "$work/cn.vd" "$work/cn.lease" "$work/cn.md" | awk '{print ($1 - $2) / $3}' | median | awk '{printf "%.2f\n", $1}')
	else
		CN_LEASE=n/a CN_VD_NOLEASE=n/a CN_D_NOLEASE_PAIRED=n/a
	fi
	say "static: vic $CN_VS ms ($CN_VS_Q), macvlan $CN_MS ms ($CN_MS_Q), ratio $CN_S_RATIO, median of paired ratios $CN_S_PAIRED"
	say "DHCP: vic $CN_VD ms ($CN_VD_Q; the lease $CN_LEASE ms), macvlan $CN_MD ms ($CN_MD_Q), ratio $CN_D_RATIO; without the lease $CN_VD_NOLEASE ms, paired ratio $CN_D_NOLEASE_PAIRED"
}

rows_container() {
	cat <<ROWS
| \`docker run --rm\` on the static container network against Docker's macvlan on the same parent link (median of $RUNS each, interleaved; P25–P75) | $CN_VS ms ($CN_VS_Q) | macvlan $CN_MS ms ($CN_MS_Q) | ratio vic/macvlan $CN_S_RATIO (median of paired ratios $CN_S_PAIRED) | ≤ 1.05 | $(met "$CN_S_RATIO" '<=' 1.05) |
| \`docker run --rm\` on the DHCP container network, the lease included (median of $RUNS; P25–P75), against macvlan with a static address on the same parent link | $CN_VD ms ($CN_VD_Q), of which the lease $CN_LEASE ms | macvlan $CN_MD ms ($CN_MD_Q) | ratio vic/macvlan $CN_D_RATIO (median of paired ratios $CN_D_PAIRED) | (reference) | |
| the same without the lease (each run less its own RequestAddress) | $CN_VD_NOLEASE ms | macvlan $CN_MD ms | median of paired ratios $CN_D_NOLEASE_PAIRED | | |
ROWS
}

how_container() {
	cat <<HOW
- **docker run --rm on container networks**: \`docker run --rm --net NET $IMAGE sh -c true\`, wall
  time, one warm-up run each, then $RUNS rounds of four runs, each round in another order: the
  testbed's static container network (vic IPAM, firewall level as configured), a Docker macvlan
  network on the same parent link, the testbed's DHCP container network and a Docker macvlan network
  on the DHCP network's parent link. The parent links are the endpoint's own links on those port
  groups (the testbed's \`VIC_NET_<ALIAS>_LINK\`); both macvlan networks are
  \`docker network create -d macvlan -o parent=LINK --subnet S --gateway G --ip-range R\` with
  Docker's IPAM handing out a /29 the vic ranges and the DHCP pool do not use (static:
  $CN_STATIC_DESC; DHCP: $CN_DHCP_DESC). A DHCP run includes the lease: the endpoint's
  RequestAddress asks the port group's DHCP server (busybox udhcpd on the testbed) and answers
  when it has the address, and \`docker rm\` releases it. The lease time is that RequestAddress's
  duration in the endpoint's debug log; busybox udhcpd probes a free address with ARP and waits up
  to 2 s for an answer before it offers it, so nearly all of it is the server's. The last row takes
  each DHCP run less its own lease.
HOW
}

# === 6. scale: 500 containers, vic-endpoint's restart and memory ===============================
# (issue 10) SCALE containers on vic networks, SCALE_PORTS of them publishing a port: the
# endpoint's restart (kill -9, as a crash, then started with the same command line) until every
# link and rule is back, plain and after its rules were flushed, and its memory per container.

SCALE=${BENCH_SCALE:-500} SCALE_PORTS=${BENCH_SCALE_PORTS:-300}
# The static container network holds few addresses on the testbed (.140-.160): a share of them.
SCALE_STATIC=${BENCH_SCALE_STATIC:-16}
RESTARTS=${BENCH_RESTARTS:-5}
# A network of this run's own: a Docker engine that lost count of a network's endpoints (under
# heavy load, when it kills containers) refuses to remove it, and would fail the next run.
SCALE_NET=${PREFIX}scale-$$ SCALE_PORT0=30000

# scale_one I: start container I of the scale test, retried twice; echo its failure otherwise.
scale_one() {
	local i=$1 name=${PREFIX}s$1 args
	if [ "$i" -le "$SCALE_PORTS" ]; then
		args=(--net "$SCALE_NET" -p "$((SCALE_PORT0 + i)):80")
	elif [ "$i" -le $((SCALE_PORTS + SCALE_STATIC)) ]; then
		args=(--net "$STATIC_NET")
	else
		args=(--net "$SCALE_NET")
	fi
	for _ in 1 2 3; do
		docker run -d --name "$name" "${args[@]}" "$IMAGE" sleep 86400 >/dev/null 2>"$work/scale.$i.err" && return 0
		docker rm -f "$name" >/dev/null 2>&1 || true
	done
	echo "container $name: $(head -n 1 "$work/scale.$i.err")" >&2
	return 1
}

# owned_now: "ELEMENTS RULES LINKS" of what the endpoint owns in the kernel (scripts/vic-restart):
# port map elements of table ip vic, rules of its iptables chains and jumps into them, bridges
# and host ends of veths.
owned_now() { bin/vic-restart --count; }

# cpu_ticks PID: the process's user and system time in clock ticks.
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat" 2>/dev/null || echo 0; }

# settle PID: wait (at most 180 s) until the process uses under 2 % of a CPU over 2 s, after
# the background work of a start or of many containers (container VMs, leases) is done.
settle() {
	local a b
	for _ in $(seq 1 90); do
		a=$(cpu_ticks "$1")
		sleep 2
		b=$(cpu_ticks "$1")
		[ $((b - a)) -le 4 ] && return 0
	done
	say "warning: vic-endpoint (pid $1) still busy after 180 s"
}

# restart_endpoint FLUSH: kill -9 vic-endpoint and start it again with the same command line,
# its output appended to its log and its pid written to the testbed's pid file, as
# scripts/testbed.sh restart-endpoint does; with FLUSH=1 the driver's nftables table and iptables
# chains are emptied while it is down (as a reboot or a firewall reload would). scripts/vic-restart
# does it and polls every 10 ms in its own process until the socket answers and the kernel holds
# as much as before; it prints "BACK_MS SOCKET_MS KERNEL_MS POLLS".
restart_endpoint() {
	local flush=()
	[ "$1" = 1 ] && flush=(--flush)
	bin/vic-restart "${flush[@]}" --pid-file "$VIC_TESTBED_DIR/endpoint.pid" --log "${LOG:-/dev/null}" ||
		die "vic-endpoint was not back after its restart"
	EP=$(cat "$VIC_TESTBED_DIR/endpoint.pid")
}

# go_ms DURATION: a Go duration (1.5s, 310.2ms, 12µs, 1m2s) in milliseconds.
go_ms() {
	awk -v d="$1" 'BEGIN {
		n = 0
		while (match(d, /^[0-9.]+(ns|µs|us|ms|s|m|h)/)) {
			t = substr(d, 1, RLENGTH); d = substr(d, RLENGTH + 1)
			v = t + 0; u = t; sub(/^[0-9.]+/, "", u)
			n += v * (u == "ns" ? 1e-6 : u == "µs" || u == "us" ? 1e-3 : u == "ms" ? 1 : u == "s" ? 1e3 : u == "m" ? 6e4 : 3.6e6)
		}
		printf "%.0f\n", n
	}'
}

# start_phases: "CONFIG STATE DRIVERS RESTORE TOTAL" in ms, the steps of the endpoint's last start
# as its line "vic-endpoint serving" says them (see endpoint/daemon/phases.go).
start_phases() {
	local line k out=()
	line=$(grep 'msg="vic-endpoint serving"' "${LOG:-/dev/null}" 2>/dev/null | tail -n 1)
	for k in config state drivers restore started_in; do
		out+=("$(go_ms "$(printf '%s\n' "$line" | grep -o " $k=[^ ]*" | cut -d= -f2)")")
	done
	echo "${out[*]}"
}

# restarts NAME: RESTARTS restarts, plain and flushed alternating, into $work/restart.NAME.{plain,flush}
# (BACK_MS SOCKET_MS POLLS a line), each after the endpoint settled.
restarts() {
	local i r
	: >"$work/restart.$1.plain" && : >"$work/restart.$1.flush"
	: >"$work/phases.$1.plain" && : >"$work/phases.$1.flush"
	for i in $(seq 1 "$RESTARTS"); do
		for r in plain flush; do
			settle "$EP"
			restart_endpoint "$([ $r = flush ] && echo 1 || echo 0)" >>"$work/restart.$1.$r"
			start_phases >>"$work/phases.$1.$r"
			say "$1, $r restart $i: back after $(tail -n 1 "$work/restart.$1.$r" | awk '{printf "%s ms (socket answered after %s ms, kernel complete after %s ms; %s polls)", $1, $2, $3, $4}')"
		done
	done
}

# steps FILE: the medians of a file of lines "BACK CONFIG STATE DRIVERS RESTORE TOTAL" (ms), in words.
steps() {
	local c=() i
	for i in 1 2 3 4 5 6; do c+=("$(col "$i" "$1" | median)"); done
	echo "reading the VCH's configuration from vSphere ${c[1]} ms, opening the state database ${c[2]} ms, building the drivers ${c[3]} ms, restoring the kernel ${c[4]} ms (${c[5]} ms from Run to serving; the rest of ${c[0]} ms is the process's start and the poll)"
}

# col N FILE: column N of FILE.
col() { awk -v n="$1" '{print $n}' "$2"; }

bench_scale() {
	local t0 failed ids
	header "scale: $SCALE containers on vic networks, $SCALE_PORTS with a published port"
	go build -o bin/vic-restart ./scripts/vic-restart || die "building bin/vic-restart failed"
	[ "$SCALE_PORTS" -le "$SCALE" ] || die "BENCH_SCALE_PORTS=$SCALE_PORTS is more than BENCH_SCALE=$SCALE"
	[ $((SCALE_PORTS + SCALE_STATIC)) -le "$SCALE" ] || SCALE_STATIC=$((SCALE - SCALE_PORTS))
	docker network create -d vic --ipam-driver vic "$SCALE_NET" >/dev/null
	# The reference: the restart and memory of an endpoint with no container.
	restarts none
	settle "$EP"
	SC_RSS0=$(rss_mb "$EP")
	read -r SC_BASE_E _ SC_BASE_L < <(owned_now)
	say "with no container: endpoint RSS $SC_RSS0 MB, $SC_BASE_E map elements, $SC_BASE_L links"

	t0=$SECONDS
	export -f scale_one
	export PREFIX IMAGE SCALE_PORTS SCALE_STATIC SCALE_NET STATIC_NET SCALE_PORT0 work
	failed=0
	seq 1 "$SCALE" | xargs -P 4 -I{} bash -c 'scale_one {}' || failed=1
	SC_CREATE_S=$((SECONDS - t0))
	[ "$failed" -eq 0 ] || die "not every container of the scale test started"
	SC_RUNNING=$(docker ps -q --filter "name=^/${PREFIX}s[0-9]" | wc -l)
	read -r SC_E SC_R SC_L < <(owned_now)
	say "started $SC_RUNNING containers in $SC_CREATE_S s: $SC_E map elements, $SC_L links, $SC_R rules"
	[ "$SC_RUNNING" -eq "$SCALE" ] || die "$SC_RUNNING of $SCALE containers of the scale test run"
	[ "$SC_E" -eq $((SC_BASE_E + 2 * SCALE_PORTS)) ] || die "table ip vic holds $SC_E elements, not $((SC_BASE_E + 2 * SCALE_PORTS))"
	settle "$EP"
	SC_RSS_LIVE=$(rss_mb "$EP")

	restarts "$SCALE"
	settle "$EP"
	SC_RSS=$(rss_mb "$EP")
	SC_KB=$(awk -v a="$SC_RSS0" -v b="$SC_RSS" -v n="$SCALE" 'BEGIN {printf "%.1f\n", (b - a) * 1024 / n}')
	SC_KB_LIVE=$(awk -v a="$SC_RSS0" -v b="$SC_RSS_LIVE" -v n="$SCALE" 'BEGIN {printf "%.1f\n", (b - a) * 1024 / n}')
	SC_PLAIN=$(col 1 "$work/restart.$SCALE.plain" | median) SC_FLUSH=$(col 1 "$work/restart.$SCALE.flush" | median)
	SC_PLAIN_MAX=$(col 1 "$work/restart.$SCALE.plain" | sort -g | tail -n 1)
	SC_FLUSH_MAX=$(col 1 "$work/restart.$SCALE.flush" | sort -g | tail -n 1)
	SC_PLAIN_SOCK=$(col 2 "$work/restart.$SCALE.plain" | median) SC_FLUSH_SOCK=$(col 2 "$work/restart.$SCALE.flush" | median)
	SC0_PLAIN=$(col 1 "$work/restart.none.plain" | median) SC0_FLUSH=$(col 1 "$work/restart.none.flush" | median)
	# Where the time goes: the medians of the steps the endpoint logged, per kind of restart.
	for r in plain flush; do
		for f in "$SCALE" none; do
			paste -d' ' <(col 1 "$work/restart.$f.$r") "$work/phases.$f.$r" >"$work/steps.$f.$r"
		done
	done
	SC_STEPS_PLAIN=$(steps "$work/steps.$SCALE.plain") SC_STEPS_FLUSH=$(steps "$work/steps.$SCALE.flush")
	SC0_STEPS_PLAIN=$(steps "$work/steps.none.plain")
	say "restart with $SCALE containers: back after $SC_PLAIN ms (max $SC_PLAIN_MAX), after a flush $SC_FLUSH ms (max $SC_FLUSH_MAX); with none $SC0_PLAIN ms, $SC0_FLUSH ms"
	say "where a plain restart's time goes with $SCALE: $SC_STEPS_PLAIN"
	say "after a flush: $SC_STEPS_FLUSH"
	say "with none: $SC0_STEPS_PLAIN"
	say "endpoint RSS: $SC_RSS0 MB with none, $SC_RSS MB with $SCALE after a restart ($SC_KB KB per container), $SC_RSS_LIVE MB before it ($SC_KB_LIVE KB per container)"

	t0=$SECONDS
	ids=$(docker ps -aq --filter "name=^/${PREFIX}s[0-9]")
	# shellcheck disable=SC2086
	[ -z "$ids" ] || printf '%s\n' $ids | xargs -P 4 -n 10 docker rm -f >/dev/null
	SC_RM_S=$((SECONDS - t0))
	for _ in $(seq 1 30); do docker network rm "$SCALE_NET" >/dev/null 2>&1 && break; sleep 1; done
	docker network inspect "$SCALE_NET" >/dev/null 2>&1 && say "warning: docker does not remove network $SCALE_NET: $(docker network rm "$SCALE_NET" 2>&1)"
	say "removed them in $SC_RM_S s"
}

rows_scale() {
	cat <<ROWS
| vic-endpoint's restart with $SCALE containers ($SCALE_PORTS publishing a port) until every link and rule is back (median of $RESTARTS; max) | $SC_PLAIN ms (max $SC_PLAIN_MAX); the socket answered after $SC_PLAIN_SOCK ms | — | with no container: $SC0_PLAIN ms | < 1000 ms | $(met "$SC_PLAIN" '<=' 999.999) |
| the same after its nftables table and iptables chains were flushed | $SC_FLUSH ms (max $SC_FLUSH_MAX); the socket answered after $SC_FLUSH_SOCK ms | — | with no container: $SC0_FLUSH ms | < 1000 ms | $(met "$SC_FLUSH" '<=' 999.999) |
| where a plain restart's time goes with $SCALE (medians, from the endpoint's log) | $SC_STEPS_PLAIN | — | with no container: $SC0_STEPS_PLAIN | | |
| the same after a flush | $SC_STEPS_FLUSH | — | | | |
| vic-endpoint's memory (RSS) per container | $SC_KB KB ($SC_RSS0 MB with none, $SC_RSS MB with $SCALE, both after a restart; $SC_RSS_LIVE MB before the restarts: $SC_KB_LIVE KB per container) | — | | | |
ROWS
}

how_scale() {
	cat <<HOW
- **Scale**: $SCALE containers (\`docker run -d $IMAGE sleep 86400\`, 4 at a time, $SC_CREATE_S s to
  start, $SC_RM_S s to remove): $SCALE_PORTS on a vic bridge network each publishing one port
  (\`-p $((SCALE_PORT0 + 1))-$((SCALE_PORT0 + SCALE_PORTS)):80\`, one each: $SC_E map elements in
  table ip vic, one per port and host address), $SCALE_STATIC on the static container network (its
  range is small on the testbed) and the rest on the bridge network without a port; $SC_L links
  (bridges \`vb-\` and host ends of veths \`ve-\`) and $SC_R rules in the driver's iptables chains.
  Container VMs follow in vcsim. **Restart**: \`kill -9\` of vic-endpoint, as a crash, then the same
  command line started again (as \`scripts/testbed.sh restart-endpoint\` does, without its build
  step), by scripts/vic-restart, which times it in its own process: from the start of the new
  process until the end of the first poll that finds the socket answering \`Plugin.Activate\` and
  the kernel holding as many map elements, rules and links as before the kill (read through netlink,
  a poll every 10 ms, each a few ms). The plain restart finds the kernel as the killed process left
  it; the flushed one first deletes table ip vic and empties the chains VIC-POST, VIC-FWD, VIC-ISO
  and VIC-ISO2, so the new process writes them all again. $RESTARTS of each, alternating, each after
  the endpoint settled (under 2 % of a CPU over 2 s); the same with no container is the reference.
  The goal is judged on the median. The steps come from the endpoint's line \`vic-endpoint
  serving\`, which says how long its start spent reading the VCH's configuration (the endpoint VM
  its stored document names, read alone), opening the state database (checked whole, as it may be damaged),
  building the drivers and restoring the kernel (bridges, held ports, links, rules, the container
  firewalls). **Memory**: the endpoint's RSS (VmRSS) after it settled following its last restart
  with $SCALE containers, less its RSS after it settled following its last restart with none,
  divided by $SCALE; the RSS of the process that served all the starts is shown beside it.
HOW
}

if want container; then bench_container_networks; fi
if want scale; then bench_scale; fi
elapsed=$((SECONDS - started))

# --- BENCHMARKS.md ---------------------------------------------------------------------------------------------

header "writing ${OUT#"$VIC_ROOT"/}"
cpu=$(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo)
mem=$(awk '/^MemTotal:/ {printf "%.0f GB", $2 / 1048576}' /proc/meminfo)
dver=$(docker version --format '{{.Server.Version}}')
proxy_on=$(docker info --format '{{json .}}' | grep -q '"userland-proxy":false' && echo off || echo on)
{
	cat <<EOF
# Benchmarks: the vic driver against Docker's own drivers

Written by \`make bench\` (scripts/bench.sh): every number below was measured in one run on
the local testbed (vcsim VCH, vic-endpoint on this machine), with Docker's own drivers (bridge,
macvlan) measured in the same run, interleaved where it matters. Rerun to refresh.

| | |
|---|---|
| date | $(date -u '+%Y-%m-%d %H:%M UTC') |
| machine | $(nproc) CPUs ($cpu), $mem |
| kernel | $(uname -r) |
| docker | Engine $dver, userland proxy $proxy_on |
| bench time | ${elapsed} s |
| sections | ${ONLY:-all} |

## Results

| measure | vic | Docker | result | goal | met |
|---|---|---|---|---|---|
EOF
	if want run; then cat <<EOF
| \`docker run --rm\` (median of $RUNS each, interleaved; P25–P75) | $RM_VIC ms ($RM_VIC_Q) | $RM_BR ms ($RM_BR_Q) | ratio vic/bridge $RM_RATIO (median of paired ratios $RM_PAIRED) | ≤ 1.05 | $(met "$RM_RATIO" '<=' 1.05) |
EOF
	fi
	if want range; then cat <<EOF
| \`docker run -d -p 20000-20999:20000-20999\` (median of $RANGE_RUNS vic, $RANGE_RUNS_BRIDGE bridge) | $RG_VIC_RUN ms | $RG_BR_RUN ms | vic ${RG_RUN_X}× faster | ≥ 40× | $(met "$RG_RUN_X" '>=' 40) |
| its \`docker rm -f\` | $RG_VIC_RM ms | $RG_BR_RM ms | vic ${RG_RM_X}× faster | ≥ 40× | $(met "$RG_RM_X" '>=' 40) |
| run + rm together | $((${RG_VIC_RUN%.*} + ${RG_VIC_RM%.*})) ms | $((${RG_BR_RUN%.*} + ${RG_BR_RM%.*})) ms | vic ${RG_BOTH_X}× faster | ≥ 40× | $(met "$RG_BOTH_X" '>=' 40) |
| extra processes for 1000 ports (docker-proxy) | $PX_VIC_N | $PX_BR_N | | 0 | $([ "$PX_VIC_N" -eq 0 ] && echo yes || echo '**no**') |
| their memory (RSS) | $PX_VIC_MB MB; the endpoint's own RSS grew by at most $EP_RSS MB | $PX_BR_MB MB | | no memory per port (≤ 10 MB for 1000) | $(met "$EP_RSS" '<=' 10) |
EOF
	fi
	if want tcp; then cat <<EOF
| TCP throughput, loopback → published port | $TCP_VIC_P MB/s | $TCP_BR_P MB/s | | | |
| TCP throughput, host → container address | $TCP_VIC_D MB/s | $TCP_BR_D MB/s | | | |
| published / direct (median of the $TCP_ROUNDS rounds' ratios; range) | $TCP_VIC_R ($TCP_VIC_RANGE) | $TCP_BR_R ($TCP_BR_RANGE) | vic $TCP_VIC_R | ≥ 0.9 | $(met "$TCP_VIC_R" '>=' 0.9) |
EOF
	fi
	if want nat; then cat <<EOF
| NAT programming time for one more container at 10 / 1000 mappings (median of $NAT_RUNS) | $NAT10_NAT ms / $NAT1000_NAT ms | — | ratio $NAT_NAT_R | ≤ 1.2 | $(met "$NAT_NAT_R" '<=' 1.2) |
| its whole ProgramExternalConnectivity (ports held, NAT, state saved with fsync) | $NAT10_PEC ms / $NAT1000_PEC ms | — | ratio $NAT_PEC_R | | |
| \`docker run -d -p H:80\` at 10 / 1000 mappings (median of $NAT_RUNS) | $NAT10_RUN ms / $NAT1000_RUN ms | — | ratio $NAT_RUN_R | ≤ 1.2 | $(met "$NAT_RUN_R" '<=' 1.2) |
| reference: one \`nft add element\` / \`nft delete element\` with 20 / 2000 elements in the map | $FLOOR20 ms / $FLOOR2000 ms | — | ratio $FLOOR_R | (floor of the nft CLI) | |
EOF
	fi
	# The rows of sections 5 and 6.
	if want container; then rows_container; fi
	if want scale; then rows_scale; fi
	cat <<EOF

## How each number is taken

EOF
	if want run; then cat <<EOF
- **docker run --rm**: \`docker run --rm --net NET $IMAGE sh -c true\`, wall time, one warm-up run
  each, then $RUNS runs on each network alternating which goes first. The vic network is
  \`docker network create -d vic --ipam-driver vic\`; the bridge network is a user-defined
  \`docker network create\` (Docker's bridge driver).
EOF
	fi
	if want range; then cat <<EOF
- **1000 published ports**: \`docker run -d -p 20000-20999:20000-20999 $IMAGE sleep 3600\` then
  \`docker rm -f\`, wall time. While the container runs, docker-proxy processes are counted
  (\`ps -C docker-proxy\`) with their summed RSS, and the endpoint's RSS is compared with its RSS
  before the run. The vic endpoint holds one socket per published port (so that no other process
  takes the port) inside its one process: its RSS growth is that cost. The bridge run is done
  $RANGE_RUNS_BRIDGE time(s) because it is slow.
EOF
	fi
	if want tcp; then cat <<EOF
- **TCP throughput**: \`vic-peer sink\` (scripts/vic-peer, static, bind-mounted into the
  container) counts the bytes of each connection and answers with the count; \`vic-peer send\` on the
  host writes for ${TCP_SECONDS} s, half-closes and waits for that count, so every byte counted was
  delivered. Each of $TCP_ROUNDS rounds measures \`CONTAINER_IP:5001\` then \`127.0.0.1:HOSTPORT\`,
  for the vic network (DNAT on loopback) and the bridge network (Docker's docker-proxy on
  loopback); throughputs are medians over the rounds, the ratio is the median of each round's
  published/direct ratio. One stream on a shared $(nproc)-CPU machine is noisy: single rounds
  vary by ±20 %, so read the range.
EOF
	fi
	if want nat; then cat <<EOF
- **NAT programming time**: instead of 1000 containers (too heavy for $(nproc) CPUs), the mappings are
  pre-loaded by publishing ports on two containers: \`-p 21000-21009:21000-21009\` (10
  mappings), then \`-p 21010-21999:21010-21999\` (1000 in all, $DNAT_LINES map elements in table ip vic:
  one per mapping and host address, the public one and 127.0.0.1).
  At each level $NAT_RUNS single-port containers (\`-p 28320:80\`) are started and removed one
  after the other. The figures come from $NAT_SRC: the NAT programming time is the
  change of the port maps (one netlink transaction adding the container's elements), the
  ProgramExternalConnectivity row adds holding the host port and saving the endpoint's state
  (an fsync, whose cost follows the disk, not the number of mappings).
  The reference row times the nft CLI alone: \`nft add element ip vic tcpports { … }\` then
  \`nft delete element\` of that one element, 7 times; it gives the median of each pair's time
  halved (one command), in a throwaway network namespace
  whose table ip vic (port maps and nat chains laid out as the endpoint's) holds 20 or 2000
  elements in map tcpports. nftables $(nft --version | awk '{print $2}') changes one element of
  the map without rewriting the others, so this shows how the cost of one port change grows with
  the map (ratio $FLOOR_R here). The endpoint makes the same change through netlink from its own
  process, without the CLI's start-up, so its own figure above can be lower.
EOF
	fi
	# The paragraphs of sections 5 and 6.
	if want container; then how_container; fi
	if want scale; then how_scale; fi
} >"$OUT"
sed -n '/^## Results/,/^## How/p' "$OUT" | sed '$d'
say "bench: wrote ${OUT#"$VIC_ROOT"/} in ${elapsed} s"

# --- vSphere round trips per container change ---------------------------------------------------
# Kept apart from the sections above (edited in parallel): it needs no testbed. The Go benchmark
# BenchmarkReconcileRoundTrips (endpoint/cvm) counts the vSphere calls of the Reconcile after one
# container change, against the in-process vCenter simulator, at 10 and at 200 containers; this
# adds its row to the Results table of BENCHMARKS.md and says how it is taken.

# vsphere_round_trips: print "TRIPS10 TRIPS200 BYTES10 BYTES200" (per container change).
vsphere_round_trips() {
	go test -run '^$' -bench '^BenchmarkReconcileRoundTrips$' -benchtime 1x ./endpoint/cvm/ | awk '
		function metric(name) { for (i = 2; i < NF; i++) if ($(i + 1) == name) return $i; return "nan" }
		/containers=10-/ {t10 = metric("roundtrips/op"); b10 = metric("bytes-read/op")}
		/containers=200-/ {t200 = metric("roundtrips/op"); b200 = metric("bytes-read/op")}
		END {if (t10 == "" || t200 == "") exit 1; print t10, t200, b10, b200}'
}

# add_vsphere_row FILE TRIPS10 TRIPS200 BYTES10 BYTES200: put the row at the end of FILE's
# Results table (goal: constant, met while 200 containers cost less than one more round trip),
# and its explanation at the end of FILE.
add_vsphere_row() {
	local file=$1 t10=$2 t200=$3 b10=$4 b200=$5 ok row
	ok=$(awk -v a="$t10" -v b="$t200" 'BEGIN {print (b - a < 1) ? "yes" : "**no**"}')
	row=$(printf '| vSphere round trips per container change at 10 / 200 containers (vcsim; KB read) | %s / %s (%.0f KB / %.0f KB) | — | | constant | %s |' \
		"$t10" "$t200" "$(awk -v b="$b10" 'BEGIN {print b / 1024}')" "$(awk -v b="$b200" 'BEGIN {print b / 1024}')" "$ok")
	awk -v row="$row" '
		/^## Results/ {in_results = 1}
		in_results && /^\|/ {last = NR}
		{lines[NR] = $0}
		END {for (i = 1; i <= NR; i++) {print lines[i]; if (i == last) print row}}' "$file" >"$file.tmp"
	cat >>"$file.tmp" <<TEXT
- **vSphere round trips per container change**: \`BenchmarkReconcileRoundTrips\` (endpoint/cvm)
  places a VCH with 10, then 200 running containers in govmomi's in-process vCenter simulator
  and counts the SOAP calls (\`vsphere.CountingRoundTripper\`) of the Reconcile that follows each
  of four changes of one more container: started, stopped, started again, removed; the figure
  is their mean. Each Reconcile reads the VCH's pool and folder and the datacenter's port groups
  in one property retrieval; the rest are the tasks of the change and their waits. The KB read
  grow with the VCH's own container VMs (every Reconcile reads them all), not with the other
  VMs of the datacenter.
TEXT
	mv "$file.tmp" "$file"
}

if ! want vsphere; then
	:
elif header "vSphere round trips per container change at 10 and at 200 containers" && vs=$(vsphere_round_trips); then
	# shellcheck disable=SC2086 # four numbers
	add_vsphere_row "$OUT" $vs
	say "vSphere round trips per container change: $vs (10, 200 containers; then bytes read)"
else
	say "vSphere round trips: the Go benchmark failed; BENCHMARKS.md has no row for them"
fi

# --- the appliance: a VCH that boots ---------------------------------------------------------------------
# Power-on -> Docker API answering over TLS, and `docker vic create` end to end, for a VCH made with
# bin/appliance.iso on the testbed's appliance mode (its endpoint VM boots under qemu; the
# accelerator is written with the figures). The host-mode testbed above goes down first. The
# times are read from create's own progress lines as they arrive (it polls the guest every second).
# Appended to BENCHMARKS.md as a section of its own (BENCH_ONLY names it appliance).
# BENCH_APPLIANCE=0 skips it; a missing ISO (make appliance) skips it too; BENCH_APPLIANCE_RUNS
# sets the number of creates (default 1).
if [ "${BENCH_APPLIANCE:-1}" != 0 ] && want appliance; then
	header "the appliance: power-on -> Docker API over TLS, and docker vic create end to end"
	iso=${VIC_APPLIANCE_ISO:-$VIC_ROOT/bin/appliance.iso}
	if [ ! -f "$iso" ]; then
		say "skip: $iso is missing (make appliance builds it)"
	else
		remove_ours
		bash scripts/testbed.sh down >"$work/testbed-down.out" 2>&1 || cat "$work/testbed-down.out" >&2
		testbed_up=0
		if ! bash scripts/testbed.sh up --appliance >"$work/testbed.out" 2>"$work/testbed.err"; then
			cat "$work/testbed.err" >&2
			die "scripts/testbed.sh up --appliance failed"
		fi
		testbed_up=1
		eval "$(grep -E '^export [A-Z_]+=' "$work/testbed.out")"
		export DOCKER_CONFIG=$VIC_DOCKER_CONFIG
		unset DOCKER_HOST DOCKER_CONTEXT
		appl_vch=vic-bench-vch appl_rows='' accel=''
		for run in $(seq 1 "${BENCH_APPLIANCE_RUNS:-1}"); do
			t0=$(now_ns) t_on='' t_api='' t_drv=''
			# Each progress line is stamped as it comes; create runs where a user would, on the
			# client network.
			while IFS= read -r line; do
				now=$(now_ns)
				say "    $line"
				case $line in
				*"powering on endpoint VM"*) t_on=$now ;;
				*"Docker API answering over TLS"*) t_api=$now ;;
				*"vic drivers serving"*) t_drv=$now ;;
				esac
			done < <(ip netns exec "$VIC_CLIENTSIDE_NS" docker vic create --name "$appl_vch" \
				--compute-resource /DC0/host/DC0_C0 --appliance-iso "$iso" --timeout 5m --no-context \
				--public-network Docker-Public --public-network-ip "$VIC_PUBLIC_CIDR" \
				--public-network-gateway "$VIC_PUBLIC_GATEWAY" --bridge-network VIC-Bridge \
				--client-network VIC-Client --client-network-ip "$VIC_CLIENT_CIDR" \
				--management-network VIC-Management --management-network-ip "$VIC_MANAGEMENT_CIDR" 2>&1 || true)
			t1=$(now_ns)
			for f in "$VIC_TESTBED_DIR"/vms/*/qemu.pid; do
				[ -f "$f" ] || continue
				a=$(tr '\0' '\n' <"/proc/$(cat "$f")/cmdline" 2>/dev/null | grep -A1 -x -- -accel | tail -n 1 | cut -d, -f1 || true)
				[ -z "$a" ] || accel=$a
			done
			ip netns exec "$VIC_CLIENTSIDE_NS" docker vic rm --force "$appl_vch" >/dev/null 2>&1 || true
			if [ -z "$t_on" ] || [ -z "$t_api" ] || [ -z "$t_drv" ]; then
				say "run $run: the Docker API or the vic drivers did not answer (see the lines above)"
				appl_rows="$appl_rows| $run | n/a | n/a | n/a |"$'\n'
				continue
			fi
			api_s=$(awk -v a="$t_api" -v b="$t_on" 'BEGIN {printf "%.1f", (a - b) / 1e9}')
			drv_s=$(awk -v a="$t_drv" -v b="$t_on" 'BEGIN {printf "%.1f", (a - b) / 1e9}')
			all_s=$(awk -v a="$t1" -v b="$t0" 'BEGIN {printf "%.1f", (a - b) / 1e9}')
			say "run $run: power-on -> Docker API over TLS ${api_s} s, -> vic drivers ${drv_s} s, docker vic create ${all_s} s"
			appl_rows="$appl_rows| $run | $api_s s | $drv_s s | $all_s s |"$'\n'
		done
		[ -n "$accel" ] || accel=$([ -w /dev/kvm ] && echo kvm || echo tcg)
		{
			cat <<APPL

## The appliance: a VCH that boots (qemu, accelerator ${accel})

\`docker vic create\` with bin/appliance.iso ($(du -m "$iso" | cut -f1) MB) on the testbed's appliance
mode: the endpoint VM boots under qemu-system-x86_64 \`-accel ${accel}\`, \`-smp 1\`, on a $(nproc)-CPU
machine shared with other work. *Power-on -> Docker API* runs from create's "powering on" line to
its "Docker API answering over TLS" line (boot, first-boot key and certificate request, signing,
dockerd started, /info answered over TLS; create polls each quarter second). *-> vic drivers* runs to
the "vic drivers serving" line: at the first boot vic-endpoint starts once the Docker API
answers, then logs in to vSphere. *create* is the whole command: validation, the ISO's upload
to vcsim's datastore, the VM, both waits. Goal: under 30 s to the Docker API under TCG.

| run | power-on -> Docker API over TLS | power-on -> vic drivers serving | docker vic create end to end |
|---|---|---|---|
${appl_rows}
APPL
		} >>"$OUT"
		say "bench: appended the appliance's figures to ${OUT#"$VIC_ROOT"/}"
	fi
fi

# --- the swarm: three endpoints ------------------------------------------------------------------------
# On private engines, not the testbed: scripts/bench-swarm.sh appends its own section.
if want swarm; then
	bash scripts/bench-swarm.sh "$OUT" || say "bench: the swarm's figures failed; BENCHMARKS.md has no section for them"
fi
