#!/usr/bin/env bash
# bench-swarm.sh: the swarm's figures (issue 9) on three private engines in one swarm
# (scripts/swarm.sh), vic against Docker's overlay in the same run, appended to OUT
# (default BENCHMARKS.md) as a section of its own; scripts/bench.sh runs it as its section swarm.
#   7. TCP throughput between containers on two endpoints: on a vic network, over the bridge port
#      group / on an overlay network between the same nodes    >= 1.2 (no VXLAN encapsulation);
#      and the same pair of containers on one endpoint, for scale; and the ceiling of any path
#      between the two nodes' containers: a veth pair of their own (198.51.100.248/30, inside
#      the two containers only)
#   7b. round trips between those containers (one byte each way, 10th percentile), vic / overlay
#   8. `docker service scale` from 0 to 30 tasks on a vic network / on an overlay network   <= 1.1
# Every byte goes between containers and namespaces on this machine. About 5 minutes.
#
#   scripts/bench-swarm.sh [OUT]
#   BENCH_SWARM_ROUNDS=5 BENCH_TCP_SECONDS=3 BENCH_SWARM_RUNS=3 BENCH_SWARM_TASKS=30
#   BENCH_RR_COUNT=2000   (the defaults)
set -euo pipefail
# shellcheck source=scripts/lib.sh
. "$(dirname "$0")/lib.sh"
cd "$VIC_ROOT"

[ "$(id -u)" -eq 0 ] || die "bench-swarm.sh needs root (namespaces, private dockerd)"

OUT=${1:-$VIC_ROOT/BENCHMARKS.md}
ROUNDS=${BENCH_SWARM_ROUNDS:-5}
SECS=${BENCH_TCP_SECONDS:-3}
RUNS=${BENCH_SWARM_RUNS:-3}
TASKS=${BENCH_SWARM_TASKS:-30}
RR=${BENCH_RR_COUNT:-2000}
IMAGE=vic-busybox:test PLUGIN=vic:latest
VICNET=vic-bench-swvic OVNET=vic-bench-swov
export VIC_NODES_DIR=/tmp/vic-bench-swarm-nodes
# Info, not debug: the drivers would log every request.
export VIC_SWARM_LOG_LEVEL=info
work=$(mktemp -d "${TMPDIR:-/tmp}/vic-bench-swarm.XXXXXX")

nodes_lock
leave() {
	local rc=$?
	bash scripts/swarm.sh down >/dev/null 2>&1 || true
	rm -rf "$work"
	return "$rc"
}
trap leave EXIT
trap 'exit 130' INT TERM

# addr_of I CONTAINER NET: the container's address on NET.
addr_of() { on "$1" docker inspect -f "{{(index .NetworkSettings.Networks \"$3\").IPAddress}}" "$2"; }

# send I NET ADDR: MB/s that a container on node I and NET sends to the sink at ADDR in SECS.
send() { on "$1" docker run --rm --network "$2" "$IMAGE" vic-peer send "$3:5001" "$SECS" | awk '{print $1}'; }

# rr I NET ADDR: the 10th percentile of RR round trips, in µs, from a container on node I and
# NET to the echo at ADDR.
rr() { on "$1" docker run --rm --network "$2" "$IMAGE" vic-peer rr "$3:5002" "$RR" | awk '{print $1}'; }

# direct CMD...: CMD in the container on node 1 whose own veth reaches the vic sink on node 2.
direct() { on 1 docker exec vic-bench-direct "$@"; }

# pid_of I CONTAINER: the process of CONTAINER on node I, for its network namespace.
pid_of() { on "$1" docker inspect -f '{{.State.Pid}}' "$2"; }

# scale_s SERVICE N: seconds `docker service scale SERVICE=N` takes to converge.
scale_s() {
	local t0 t1
	t0=$(date +%s%N)
	on 1 docker service scale "$1=$2" >/dev/null 2>&1 || return 1
	t1=$(date +%s%N)
	awk -v a="$t1" -v b="$t0" 'BEGIN {printf "%.1f\n", (a - b) / 1e9}'
}

header "three engines in one swarm"
bash scripts/swarm.sh up 3 >"$work/swarm.out" || die "scripts/swarm.sh up 3 failed"
eval "$(grep '^export ' "$work/swarm.out")"
unset DOCKER_HOST DOCKER_CONTEXT
on 1 docker network create -d "$PLUGIN" --ipam-driver "$PLUGIN" --attachable "$VICNET" >/dev/null
on 1 docker network create -d overlay --attachable "$OVNET" >/dev/null

header "TCP throughput between containers on two endpoints: vic over the bridge port group, overlay"
# Sinks on node 2 on each network, and one on node 1 on the vic network; clients on node 1.
on 2 docker run -d --name vic-bench-sink-vic --network "$VICNET" "$IMAGE" vic-peer sink 5001 >/dev/null
on 2 docker run -d --name vic-bench-sink-ov --network "$OVNET" "$IMAGE" vic-peer sink 5001 >/dev/null
on 1 docker run -d --name vic-bench-sink-local --network "$VICNET" "$IMAGE" vic-peer sink 5001 >/dev/null
on 2 docker exec -d vic-bench-sink-vic vic-peer echo 5002
on 2 docker exec -d vic-bench-sink-ov vic-peer echo 5002
vic_far=$(addr_of 2 vic-bench-sink-vic "$VICNET") ov_far=$(addr_of 2 vic-bench-sink-ov "$OVNET")
vic_near=$(addr_of 1 vic-bench-sink-local "$VICNET")
# The ceiling: a container on node 1 with a veth of its own to the vic sink's namespace on node 2.
on 1 docker run -d --name vic-bench-direct --network "$VICNET" "$IMAGE" sleep 100000 >/dev/null
ip link del vic-bench-d1 2>/dev/null || true # left by a run that stopped here
ip link add vic-bench-d1 type veth peer name vic-bench-d2
ip link set vic-bench-d1 netns "/proc/$(pid_of 1 vic-bench-direct)/ns/net"
ip link set vic-bench-d2 netns "/proc/$(pid_of 2 vic-bench-sink-vic)/ns/net"
nsenter -t "$(pid_of 1 vic-bench-direct)" -n sh -c 'ip addr add 198.51.100.249/30 dev vic-bench-d1 && ip link set vic-bench-d1 up'
nsenter -t "$(pid_of 2 vic-bench-sink-vic)" -n sh -c 'ip addr add 198.51.100.250/30 dev vic-bench-d2 && ip link set vic-bench-d2 up'
for f in vic ov local direct rr-vic rr-ov rr-direct; do : >"$work/$f"; done
for r in $(seq 1 "$ROUNDS"); do
	v=$(send 1 "$VICNET" "$vic_far")
	o=$(send 1 "$OVNET" "$ov_far")
	l=$(send 1 "$VICNET" "$vic_near")
	d=$(direct vic-peer send 198.51.100.250:5001 "$SECS" | awk '{print $1}')
	rv=$(rr 1 "$VICNET" "$vic_far") ro=$(rr 1 "$OVNET" "$ov_far")
	rd=$(direct vic-peer rr 198.51.100.250:5002 "$RR" | awk '{print $1}')
	[ -n "$v" ] && [ -n "$o" ] && [ -n "$l" ] && [ -n "$d" ] || die "round $r: a vic-peer send measured nothing"
	[ -n "$rv" ] && [ -n "$ro" ] && [ -n "$rd" ] || die "round $r: a vic-peer rr measured nothing"
	say "round $r: across endpoints: vic $v MB/s, overlay $o MB/s, own veth $d MB/s; vic on one endpoint $l MB/s; round trips vic $rv µs, overlay $ro µs, own veth $rd µs"
	echo "$v" >>"$work/vic"
	echo "$o" >>"$work/ov"
	echo "$l" >>"$work/local"
	echo "$d" >>"$work/direct"
	echo "$rv" >>"$work/rr-vic"
	echo "$ro" >>"$work/rr-ov"
	echo "$rd" >>"$work/rr-direct"
done
vic_mb=$(median <"$work/vic") ov_mb=$(median <"$work/ov") local_mb=$(median <"$work/local")
direct_mb=$(median <"$work/direct")
vic_q=$(quartiles <"$work/vic") ov_q=$(quartiles <"$work/ov") direct_q=$(quartiles <"$work/direct")
tcp_ratio=$(ratio "$vic_mb" "$ov_mb") local_ratio=$(ratio "$vic_mb" "$local_mb")
ceiling_ratio=$(ratio "$direct_mb" "$ov_mb")
rr_vic=$(median <"$work/rr-vic") rr_ov=$(median <"$work/rr-ov") rr_direct=$(median <"$work/rr-direct")
rr_ratio=$(ratio "$rr_vic" "$rr_ov")
on 2 docker rm -f vic-bench-sink-vic vic-bench-sink-ov >/dev/null
on 1 docker rm -f vic-bench-sink-local vic-bench-direct >/dev/null

header "docker service scale 0 -> $TASKS on a vic network and on overlay, $RUNS runs each, interleaved"
on 1 docker service create -d --name vic-bench-scale-vic --replicas 0 --network "$VICNET" --endpoint-mode dnsrr "$IMAGE" sleep 100000 >/dev/null
on 1 docker service create -d --name vic-bench-scale-ov --replicas 0 --network "$OVNET" --endpoint-mode dnsrr "$IMAGE" sleep 100000 >/dev/null
: >"$work/scale-vic"
: >"$work/scale-ov"
for r in $(seq 1 "$RUNS"); do
	v=$(scale_s vic-bench-scale-vic "$TASKS") || die "scaling the vic service to $TASKS failed"
	scale_s vic-bench-scale-vic 0 >/dev/null || die "scaling the vic service to 0 failed"
	o=$(scale_s vic-bench-scale-ov "$TASKS") || die "scaling the overlay service to $TASKS failed"
	scale_s vic-bench-scale-ov 0 >/dev/null || die "scaling the overlay service to 0 failed"
	say "run $r: 0 -> $TASKS tasks: vic $v s, overlay $o s"
	echo "$v" >>"$work/scale-vic"
	echo "$o" >>"$work/scale-ov"
done
scale_vic=$(median <"$work/scale-vic") scale_ov=$(median <"$work/scale-ov")
scale_ratio=$(ratio "$scale_vic" "$scale_ov")

cat >>"$OUT" <<TEXT

## Several endpoints under Docker Swarm

Three private Docker engines in one swarm on this $(nproc)-CPU machine, each in its own network
namespace as an endpoint VM of one VCH (\`scripts/swarm.sh\`), the vic plugin on each
(\`VIC_SWARM=true\`), measured by \`scripts/bench-swarm.sh\` against Docker's overlay network
between the same nodes in the same run. Throughput: \`vic-peer send\` for ${SECS} s from a container
on node 1 to a \`vic-peer sink\` on node 2, median of ${ROUNDS} rounds (quartiles in brackets),
each network in turn per round; the ceiling is the same pair of namespaces joined by a veth
pair of their own, the shortest path there is. Round trips: \`vic-peer rr\`, ${RR} one-byte
round trips to a \`vic-peer echo\`, their 10th percentile, median of the rounds. Scale:
\`docker service scale\` of a service of \`sleep\` tasks (\`--endpoint-mode dnsrr\` on both)
from 0 to ${TASKS} tasks until they all run, median of ${RUNS} runs, interleaved.

| measure | vic | overlay | ratio | goal | met |
|---|---|---|---|---|---|
| TCP across two endpoints (MB/s) | ${vic_mb} (${vic_q}) | ${ov_mb} (${ov_q}) | ${tcp_ratio} | >= 1.2 | $(met "$tcp_ratio" '>=' 1.2) |
| the same pair over a veth of their own, the ceiling (MB/s; round trip µs) | ${direct_mb} (${direct_q}); ${rr_direct} µs | | ceiling / overlay: ${ceiling_ratio} | | |
| round trip across two endpoints (µs, lower is better) | ${rr_vic} | ${rr_ov} | ${rr_ratio} | | |
| TCP on one endpoint, vic (MB/s), for scale | ${local_mb} | | across / one: ${local_ratio} | | |
| \`docker service scale\` 0 -> ${TASKS} (s) | ${scale_vic} | ${scale_ov} | ${scale_ratio} | <= 1.1 | $(met "$scale_ratio" '<=' 1.1) |
TEXT
say "bench-swarm: appended the swarm's figures to ${OUT#"$VIC_ROOT"/}"
