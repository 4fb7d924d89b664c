# shellcheck shell=bash
# Shared helpers of docker-vic's scripts. Source it; it sets no shell options of its own.
#   . "$(dirname "$0")/lib.sh"

# The repository root, whatever the caller's working directory.
VIC_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

# Go lives in /usr/local/go on the machines we target; a login shell may not have it on PATH.
case ":$PATH:" in
*:/usr/local/go/bin:*) ;;
*) [ -d /usr/local/go/bin ] && PATH=/usr/local/go/bin:$PATH ;;
esac
export PATH

# Text styles, only on a terminal.
if [ -t 1 ]; then
	vic_bold=$'\e[1m' vic_dim=$'\e[2m' vic_red=$'\e[31m' vic_green=$'\e[32m' vic_off=$'\e[0m'
else
	vic_bold='' vic_dim='' vic_red='' vic_green='' vic_off=''
fi

# say MESSAGE...: one line of progress.
say() { printf '%s\n' "$*"; }

# header TITLE: a step of a script.
header() { printf '\n%s== %s%s\n' "$vic_bold" "$*" "$vic_off"; }

# die MESSAGE...: fail with one line on stderr.
die() {
	printf '%s: %s\n' "${0##*/}" "$*" >&2
	exit 1
}

# show_cmd ARGS...: print a command the way a user would type it, then run it.
show_cmd() {
	printf '%s$%s' "$vic_dim" "$vic_off"
	printf ' %q' "$@"
	printf '\n'
	"$@"
}

# VIC_PORTGROUPS: the port groups of the VIC documents (Docker-Public, VIC-Bridge, VIC-Management,
# External-Consumer, VIC-Container-Network), a second bridge for a second VCH, a client network and
# a spare container network for `docker vic configure` to add. The testbed's Go command keeps the
# same list (portGroups in scripts/testbed/plan.go).
VIC_PORTGROUPS=(Docker-Public VIC-Bridge VIC-Bridge-2 VIC-Management VIC-Client External-Consumer VIC-Container-Network VIC-Container-Network-2)

# start_vcsim DIR: build nothing, start bin/vcsim on a free loopback port with the port groups of
# the VIC documents, and export VIC_TARGET, VIC_THUMBPRINT and VCSIM_PID. Logs go to DIR/vcsim.log.
# DIR/vcsim.out holds the password in VIC_TARGET, so only its owner may read it.
start_vcsim() {
	local dir=$1 args=() pg line mask
	for pg in "${VIC_PORTGROUPS[@]}"; do args+=(--portgroup "$pg"); done
	mask=$(umask)
	umask 077
	"$VIC_ROOT/bin/vcsim" --listen 127.0.0.1:0 --pidfile "$dir/vcsim.pid" "${args[@]}" \
		>"$dir/vcsim.out" 2>"$dir/vcsim.log" &
	VCSIM_PID=$!
	umask "$mask"
	for _ in $(seq 1 100); do
		line=$(head -n 1 "$dir/vcsim.out" 2>/dev/null || true)
		case $line in export\ VIC_TARGET=*) break ;; esac
		if ! kill -0 "$VCSIM_PID" 2>/dev/null; then
			cat "$dir/vcsim.log" >&2
			die "vcsim stopped before it served"
		fi
		sleep 0.1
	done
	case $line in export\ VIC_TARGET=*) ;; *) die "vcsim printed no export line within 10 s" ;; esac
	eval "$line"
	export VCSIM_PID
}

# stop_vcsim: stop the vcsim that start_vcsim started, if any.
stop_vcsim() {
	if [ -n "${VCSIM_PID:-}" ] && kill -0 "$VCSIM_PID" 2>/dev/null; then
		kill "$VCSIM_PID" 2>/dev/null || true
		wait "$VCSIM_PID" 2>/dev/null || true
	fi
	VCSIM_PID=
}

# test_summary VET UNIT E2E GO_TEST_LOG E2E_LOG [STATUS LOG]...: the closing summary of `make test`.
# VET, UNIT and E2E are the stages' statuses (0 = passed); each further STATUS LOG pair is one more
# end-to-end script (e2e-endpoint.sh, e2e-reliability.sh, ...) whose log ends with a line
# `NAME: N passed, M failed`. It returns non-zero when any stage failed.
test_summary() {
	local vet=$1 unit=$2 e2e=$3 golog=$4 e2elog=$5 ok failed notests line all=0
	shift 5
	ok=$(grep -c '^ok ' "$golog" || true)
	failed=$(grep -c '^FAIL[[:space:]]' "$golog" || true)
	notests=$(grep -c '^?[[:space:]]' "$golog" || true)
	header "summary"
	if [ "$vet" -eq 0 ]; then say "go vet:   passed"; else say "${vic_red}go vet:   FAILED${vic_off}"; fi
	say "go test:  packages: $ok ok, $failed failed, $notests without test files"
	grep -E '^(--- FAIL|FAIL[[:space:]])' "$golog" | sed 's/^/          /' || true
	line=$(grep -E '^e2e-vch: [0-9]+ passed' "$e2elog" | tail -n 1 || true)
	say "e2e:      ${line:-e2e-vch did not finish (see $e2elog)}"
	[ "$vet" -eq 0 ] && [ "$unit" -eq 0 ] && [ "$e2e" -eq 0 ] && [ -n "$line" ] || all=1
	while [ $# -ge 2 ]; do
		[ "$1" -eq 0 ] || all=1
		line=$(grep -E '^[a-z0-9-]+: [0-9]+ passed' "$2" | tail -n 1 || true)
		# A stage that ends without its counts did not run to the end: that fails too.
		[ -n "$line" ] || all=1
		say "          ${line:-$(basename "$2" .log) did not finish (see $2)}"
		grep -E '^  (FAIL|skip) ' "$2" | sed 's/^  /            /' || true
		shift 2
	done
	if [ "$all" -eq 0 ]; then
		say "${vic_green}make test: PASS${vic_off}"
		return 0
	fi
	say "${vic_red}make test: FAIL${vic_off}"
	return 1
}

# remove_prefixed PREFIX: remove every Docker container and network whose name starts with
# PREFIX (ours, stale ones of an earlier run included), each call bounded by 120 s.
remove_prefixed() {
	local ids
	ids=$(docker ps -aq --filter "name=^/$1" 2>/dev/null || true)
	# shellcheck disable=SC2086
	[ -z "$ids" ] || timeout 120 docker rm -f $ids >/dev/null 2>&1 || true
	ids=$(docker network ls -q --filter "name=^$1" 2>/dev/null || true)
	# shellcheck disable=SC2086
	[ -z "$ids" ] || timeout 120 docker network rm $ids >/dev/null 2>&1 || true
}

# leave_testbed PREFIX: the EXIT trap of a script that brings the testbed up (testbed_up=1 once
# it is) and keeps its files in $work: its PREFIX containers and networks go, then the testbed,
# then $work. The script's exit status is kept.
leave_testbed() {
	local rc=$?
	set +e
	remove_prefixed "$1"
	# shellcheck disable=SC2154 # $work belongs to the calling script
	if [ "${testbed_up:-0}" -eq 1 ]; then
		bash scripts/testbed.sh down >"$work/testbed-down.out" 2>&1 || cat "$work/testbed-down.out" >&2
	fi
	rm -rf "$work"
	return "$rc"
}

# nodes_lock: wait for, then hold until the calling script ends, the lock of the private engines
# (scripts/nodes.sh): their namespaces are vic-node-I whatever VIC_NODES_DIR says, so two scripts
# using them at once would tear each other's down. Take it before any trap that tears them down.
# The lock is file descriptor 8; the processes left running (dockerd, vcsim, servers) close it.
nodes_lock() {
	exec 8>/run/lock/vic-nodes.lock
	if ! flock -n 8; then
		say "waiting for another run of the private engines (scripts/nodes.sh) to finish" >&2
		flock -w 1800 8 || die "another run of the private engines held their lock for 30 minutes"
	fi
}

# on I CMD...: CMD with the docker CLI talking to private engine I of $VIC_NODES_DIR
# (scripts/nodes.sh).
on() {
	local i=$1
	shift
	DOCKER_HOST=unix://$VIC_NODES_DIR/node-$i/docker.sock "$@"
}

# --- the benchmarks' figures ----------------------------------------------------------------

# median: the median of the numbers on stdin (one a line).
median() { sort -g | awk '{v[NR] = $1} END {if (NR == 0) {print "nan"; exit} if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2}'; }

# quartiles: "P25–P75" of the numbers on stdin.
quartiles() { sort -g | awk '{v[NR] = $1} END {if (NR == 0) {print "n/a"; exit} printf "%s–%s\n", v[int((NR + 3) / 4)], v[int((3 * NR + 3) / 4)]}'; }

# ratio A B [DIGITS]: A / B.
ratio() { awk -v a="$1" -v b="$2" -v d="${3:-2}" 'BEGIN {if (b == 0 || a == "nan" || b == "nan") print "n/a"; else printf "%.*f\n", d, a / b}'; }

# met VALUE OP GOAL: "yes" or "**no**".
met() { awk -v v="$1" -v g="$3" -v op="$2" 'BEGIN {if (v == "n/a") {print "n/a"; exit} ok = (op == "<=") ? v <= g : v >= g; print ok ? "yes" : "**no**"}'; }
