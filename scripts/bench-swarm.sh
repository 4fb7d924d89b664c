#!/usr/bin/env bash
# bench-swarm.sh: the swarm's figures (issue 9) on three private engines in one swarm
# (scripts/swarm.sh), vic against Docker's overlay in the same run, appended to OUT
# (default BENCHMARKS.md) as a section of its own; scripts/bench.sh runs it as its section swarm.
#   7. TCP throughput between containers on two endpoints: on a vic network, over the bridge port
#      group / on an overlay network between the same nodes    >= 1.2 (no VXLAN encapsulation);
#      and the same pair of containers on one endpoint, for scale
#   8. `docker service scale` from 0 to 30 tasks on a vic network / on an overlay network   <= 1.1
# Every byte goes between containers and namespaces on this machine. About 5 minutes.
#
#   scripts/bench-swarm.sh [OUT]
#   BENCH_SWARM_ROUNDS=5 BENCH_TCP_SECONDS=3 BENCH_SWARM_RUNS=3 BENCH_SWARM_TASKS=30   (the defaults)
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
vic_far=$(addr_of 2 vic-bench-sink-vic "$VICNET") ov_far=$(addr_of 2 vic-bench-sink-ov "$OVNET")
vic_near=$(addr_of 1 vic-bench-sink-local "$VICNET")
: >"$work/vic"
: >"$work/ov"
: >"$work/local"
for r in $(seq 1 "$ROUNDS"); do
	v=$(send 1 "$VICNET" "$vic_far")
	o=$(send 1 "$OVNET" "$ov_far")
	l=$(send 1 "$VICNET" "$vic_near")
	[ -n "$v" ] && [ -n "$o" ] && [ -n "$l" ] || die "round $r: a vic-peer send measured nothing"
	say "round $r: vic across endpoints $v MB/s, overlay across $o MB/s, vic on one endpoint $l MB/s"
	echo "$v" >>"$work/vic"
	echo "$o" >>"$work/ov"
	echo "$l" >>"$work/local"
done
vic_mb=$(median <"$work/vic") ov_mb=$(median <"$work/ov") local_mb=$(median <"$work/local")
tcp_ratio=$(ratio "$vic_mb" "$ov_mb") local_ratio=$(ratio "$vic_mb" "$local_mb")
on 2 docker rm -f vic-bench-sink-vic vic-bench-sink-ov >/dev/null
on 1 docker rm -f vic-bench-sink-local >/dev/null

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
on node 1 to a \`vic-peer sink\` on node 2, median of ${ROUNDS} rounds, each network in turn per
round. Scale: \`docker service scale\` of a service of \`sleep\` tasks (\`--endpoint-mode dnsrr\` on
both) from 0 to ${TASKS} tasks until they all run, median of ${RUNS} runs, interleaved.

| measure | vic | overlay | ratio | goal | met |
|---|---|---|---|---|---|
| TCP across two endpoints (MB/s) | ${vic_mb} | ${ov_mb} | ${tcp_ratio} | >= 1.2 | $(met "$tcp_ratio" '>=' 1.2) |
| TCP on one endpoint, vic (MB/s), for scale | ${local_mb} | | across / one: ${local_ratio} | | |
| \`docker service scale\` 0 -> ${TASKS} (s) | ${scale_vic} | ${scale_ov} | ${scale_ratio} | <= 1.1 | $(met "$scale_ratio" '<=' 1.1) |
TEXT
say "bench-swarm: appended the swarm's figures to ${OUT#"$VIC_ROOT"/}"
