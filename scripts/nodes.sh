#!/usr/bin/env bash
# nodes.sh: private Docker engines on this machine, one per network namespace, for the tests of
# the managed plugin (and later a swarm of them). The machine's own engine is never touched.
#
#   eval "$(scripts/nodes.sh up N)"   clear stale nodes, start engines 1..N, print export lines
#   scripts/nodes.sh restart I        stop engine I and start it again (its state is kept)
#   scripts/nodes.sh stop I           stop engine I and everything it runs (the state is kept)
#   scripts/nodes.sh crash I          kill engine I and everything it runs at once, containers
#                                     too, as a power-off would (the state is kept)
#   scripts/nodes.sh start I          start engine I again after stop
#   scripts/nodes.sh env              print the export lines again
#   scripts/nodes.sh down             stop every engine and remove all of it; safe to run twice
#
# Node I is network namespace vic-node-I with hostname vic-node-I, and dockerd running there in
# a mount namespace of its own (`ip netns exec` would hide the cgroup mounts):
#   - a tmpfs over /run, so that the node has its own /run/docker/plugins and no
#     /run/containerd: dockerd starts its own containerd, and plugins and containers run there;
#   - its exec root $DIR/node-I/exec bound at /run/docker, the default place, so that the
#     sandbox keys Docker hands plugins are /run/docker/netns/... as on any host, and its API at
#     /run/docker.sock there (for plugins) and at $DIR/node-I/docker.sock (for this machine);
#   - its data root, pid file, log and an empty daemon.json (the machine's is not read) in
#     $DIR/node-I; no default bridge (--bridge none).
# The namespace has only lo: tests wire it. DIR is $VIC_NODES_DIR, default /tmp/vic-nodes.
# Export lines: VIC_NODES_DIR, VIC_NODES (the count), and per node VIC_NODE_I_NS and
# VIC_NODE_I_HOST (unix://... for DOCKER_HOST or docker -H).
set -euo pipefail
# shellcheck source=scripts/lib.sh
. "$(dirname "$0")/lib.sh"

DIR=${VIC_NODES_DIR:-/tmp/vic-nodes}
# How long an engine may take to answer, and to stop.
START_WAIT=60 STOP_WAIT=30

[ "$(id -u)" -eq 0 ] || die "nodes.sh needs root (namespaces, dockerd)"
command -v dockerd >/dev/null || die "dockerd is missing: install docker.io (scripts/setup.sh does)"

# ns I: the namespace of node I.
ns() { printf 'vic-node-%s' "$1"; }

# start I: start node I's dockerd in its namespaces and wait until it answers.
start() {
	local i=$1 d=$DIR/node-$1 pid
	mkdir -p "$d/data" "$d/exec"
	[ -f "$d/daemon.json" ] || printf '{}\n' >"$d/daemon.json"
	ip netns list | grep -qx "$(ns "$i")\( (id: [0-9]*)\)\?" || ip netns add "$(ns "$i")"
	ip -n "$(ns "$i")" link set lo up
	# The mount namespace's mounts stay slaves of the machine's (nothing goes back) but are
	# shared within, so that the sandboxes dockerd mounts reach the plugin's rslave mount.
	setsid nsenter --net="/run/netns/$(ns "$i")" unshare --mount --uts --propagation slave -- \
		/bin/sh -ec '
			mount --make-rshared /
			hostname "$1"
			mount -t tmpfs -o mode=0755 vic-node-run /run
			mkdir -p /run/docker
			mount --bind "$2/exec" /run/docker
			exec dockerd --data-root "$2/data" --exec-root /run/docker --pidfile "$2/docker.pid" \
				--config-file "$2/daemon.json" -H unix:///run/docker.sock -H "unix://$2/docker.sock" \
				--bridge none
		' vic-node "$(ns "$i")" "$d" >>"$d/dockerd.log" 2>&1 </dev/null 8>&- &
	pid=$!
	for _ in $(seq 1 $((START_WAIT * 5))); do
		if docker -H "unix://$d/docker.sock" version >/dev/null 2>&1; then
			say "nodes: node $i answers (dockerd pid $pid, hostname $(ns "$i"), log $d/dockerd.log)" >&2
			return 0
		fi
		if ! kill -0 "$pid" 2>/dev/null; then
			tail -n 20 "$d/dockerd.log" >&2
			stop "$i"
			die "dockerd of node $i stopped before it answered"
		fi
		sleep 0.2
	done
	tail -n 20 "$d/dockerd.log" >&2
	kill "$pid" 2>/dev/null || true # no pidfile yet, maybe: stop finds it by its namespace
	stop "$i"
	die "dockerd of node $i did not answer within $START_WAIT s"
}

# stop I: stop node I's dockerd, then every process left in its namespace (containerd, shims,
# plugins), by pid. The namespace stays.
stop() {
	local i=$1 d=$DIR/node-$1 pid pids
	pid=$(cat "$d/docker.pid" 2>/dev/null || true)
	if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
		kill "$pid"
		for _ in $(seq 1 $((STOP_WAIT * 5))); do
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.2
		done
	fi
	ip netns list | grep -q "^$(ns "$i")\b" || return 0
	for _ in 1 2 3; do
		pids=$(ip netns pids "$(ns "$i")" 2>/dev/null || true)
		[ -n "$pids" ] || return 0
		# shellcheck disable=SC2086 # one pid a word
		kill -9 $pids 2>/dev/null || true
		sleep 0.5
	done
}

# crash I: SIGKILL to node I's processes (dockerd, containerd, shims, plugins) and every
# process they started (the containers' own, in namespaces of their own), all at once: nothing
# gets to clean up. The containers' namespaces go with their last process, the node's /run with
# its mount namespace, and what stands for /run on disk is removed, as at a power-off; unlike a
# power-off, the node's namespace keeps its links and rules (the plugin's start takes them up
# again). The data root stays.
crash() {
	local roots all left p
	# Listed and killed again until no process is left: one forked between the listing and the
	# kill (a shim starting a task) is found by the next round.
	for _ in 1 2 3 4 5; do
		roots=$(ip netns pids "$(ns "$1")" 2>/dev/null || true)
		[ -n "$roots" ] || break
		# The roots and their descendants, read from one listing of every process's parent.
		all=$(ps -e -o pid=,ppid= | awk -v roots="$roots" '
			BEGIN { n = split(roots, r, /[ \n]+/); for (i = 1; i <= n; i++) if (r[i] != "") keep[r[i]] = 1 }
			{ parent[$1] = $2 }
			END {
				do {
					grew = 0
					for (p in parent) if (!(p in keep) && (parent[p] in keep)) { keep[p] = 1; grew = 1 }
				} while (grew)
				for (p in keep) print p
			}')
		# shellcheck disable=SC2086 # one pid a word
		kill -9 $all 2>/dev/null || true
		for _ in $(seq 1 $((STOP_WAIT * 5))); do
			left=
			for p in $all; do
				[ -d "/proc/$p" ] && [ "$(awk '{print $3}' "/proc/$p/stat" 2>/dev/null)" != Z ] && left="$left $p"
			done
			[ -n "$left" ] || break
			sleep 0.2
		done
		[ -z "$left" ] || die "node $1: processes left after SIGKILL:$left"
	done
	[ -z "$(ip netns pids "$(ns "$1")" 2>/dev/null)" ] || die "node $1: processes keep starting in its namespace"
	# What lives in /run does not outlive a power-off: the pid files (of dockerd, of its
	# containerd, whose pid may be a zombie's or another process's by now), the exec root.
	rm -rf "$DIR/node-$1/docker.pid" "$DIR/node-$1/exec"
}

# nodes: the numbers of the nodes in DIR.
nodes() {
	local d
	for d in "$DIR"/node-*; do
		[ -d "$d" ] && printf '%s\n' "${d##*/node-}"
	done | sort -n
}

print_env() {
	local i n=0
	printf 'export VIC_NODES_DIR=%q\n' "$DIR"
	for i in $(nodes); do
		printf 'export VIC_NODE_%s_NS=%q VIC_NODE_%s_HOST=%q\n' "$i" "$(ns "$i")" "$i" "unix://$DIR/node-$i/docker.sock"
		n=$((n + 1))
	done
	printf 'export VIC_NODES=%s\n' "$n"
}

down() {
	local i
	for i in $(nodes); do
		stop "$i"
		ip netns del "$(ns "$i")" 2>/dev/null || true
	done
	# A node's namespace left without its directory.
	for i in $(ip netns list | awk '$1 ~ /^vic-node-[0-9]+$/ {sub("vic-node-", "", $1); print $1}'); do
		mkdir -p "$DIR/node-$i" && stop "$i"
		ip netns del "$(ns "$i")" 2>/dev/null || true
	done
	rm -rf "$DIR"
}

case ${1:-} in
up)
	n=${2:-1}
	[[ $n =~ ^[1-9][0-9]*$ ]] || die "up takes the number of nodes, a positive integer, not '$n'"
	down
	mkdir -p "$DIR"
	for i in $(seq 1 "$n"); do start "$i"; done
	print_env
	;;
restart)
	i=${2:-}
	[ -n "$i" ] && [ -d "$DIR/node-$i" ] || die "restart takes the number of a running node, not '$i'"
	stop "$i"
	start "$i"
	;;
stop | start | crash)
	i=${2:-}
	[ -n "$i" ] && [ -d "$DIR/node-$i" ] || die "$1 takes the number of a node, not '$i'"
	if [ "$1" = start ] && docker -H "unix://$DIR/node-$i/docker.sock" version >/dev/null 2>&1; then
		die "node $i runs already: stop it first"
	fi
	"$1" "$i"
	;;
env) print_env ;;
down) down ;;
*) die "usage: scripts/nodes.sh up N|restart I|stop I|crash I|start I|env|down" ;;
esac
