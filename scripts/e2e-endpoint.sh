#!/usr/bin/env bash
# e2e-endpoint.sh: the vic network and IPAM drivers on the real local Docker engine, through the
# testbed (scripts/testbed.sh). It brings the testbed up once, runs the use cases in
# scripts/e2e/endpoint/NN-*.sh one after the other, and takes the testbed down:
#   00 the testbed itself       40 use case 3: bridged containers, isolation, hairpin
#   10 use case 1: -p 8080:80   50 an --internal network
#   20 use case 2: names, NAT   60 networks the vic driver refuses
#   30 subnets and IPAM         70 use case 4: the container network consumer
#   75 the firewall levels      80 the DHCP container network, across an endpoint restart
#   85 the NSX Edge scenario    90 container VMs off and on (docker vic configure)
#   95 vCenter stopped, drift   96 container networks' pools lost with the state
#   97 the state database removed, emptied or truncated: rebuilt
#   97 the state database removed, emptied, truncated: rebuilt from Docker and the kernel
# Each use case makes what it needs (named vic-e2e-*) and removes it at its end; it sees only
# what this runner sets (below) and the testbed's exports, and runs in a subshell of its own so
# that it cannot leave anything else to the next one. Each check asserts what a user sees; the
# last line says how many passed and failed, and the exit status is non-zero when any failed.
#
#   scripts/e2e-endpoint.sh              run every use case, report every failed check
#   scripts/e2e-endpoint.sh dhcp 10      only the use cases whose file names contain dhcp or 10
#   E2E_STOP=1 scripts/e2e-endpoint.sh   stop at the first failed check
#   E2E_KEEP=1 scripts/e2e-endpoint.sh   leave the containers, networks and testbed up at the end
set -euo pipefail
# shellcheck source=scripts/lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source=scripts/checks.sh
. "$(dirname "$0")/checks.sh"
# shellcheck source=scripts/e2e/endpoint/expect.sh
. "$(dirname "$0")/e2e/endpoint/expect.sh"
cd "$VIC_ROOT"

[ "$(id -u)" -eq 0 ] || die "e2e-endpoint.sh needs root (the testbed makes namespaces and links)"

cases=()
for f in scripts/e2e/endpoint/[0-9][0-9]-*.sh; do
	if [ $# -eq 0 ]; then cases+=("$f") && continue; fi
	for want in "$@"; do case ${f##*/} in *"$want"*) cases+=("$f") && break ;; esac; done
done
[ ${#cases[@]} -gt 0 ] || die "no use case in scripts/e2e/endpoint matches: $*"

# What the use cases may use besides the testbed's exports and the functions of lib.sh,
# checks.sh and expect.sh.
passed=0 failed=0 skipped=0
work=$(mktemp -d "${TMPDIR:-/tmp}/vic-e2e-endpoint.XXXXXX")
out=$work/out err=$work/err
prefix=vic-e2e-
image=vic-busybox:test
peer=$VIC_ROOT/bin/vic-peer
port_source=
outside_server_pid=
testbed_up=0
# The testbed is ours while this script runs: another testbed.sh up waits for us.
export VIC_TESTBED_OWNER=$$

cleanup() {
	if [ -n "$outside_server_pid" ]; then
		kill "$outside_server_pid" 2>/dev/null || true
		wait "$outside_server_pid" 2>/dev/null || true
	fi
	if [ "$testbed_up" -eq 0 ]; then
		:
	elif [ -z "${E2E_KEEP:-}" ]; then
		remove_prefixed "$prefix"
		bash scripts/testbed.sh down 2>&1 | sed 's/^/    /' || true
	else
		say "E2E_KEEP is set: containers, networks and the testbed stay up (scripts/testbed.sh down removes the testbed)"
	fi
	rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

finish() {
	trap - EXIT
	cleanup
	summarize e2e-endpoint
}

header "testbed up"
say "\$ eval \"\$(scripts/testbed.sh up)\""
# Progress shows as it comes (up may wait for another script's testbed); the exports go to a file.
if ! bash scripts/testbed.sh up 2>&1 >"$work/env" | tee "$work/up.err" | sed 's/^/    /'; then
	status=1
	: >"$out"
	cp "$work/up.err" "$err"
	fail "testbed up" "the testbed to come up"
	finish
fi
testbed_up=1
# shellcheck disable=SC1091
. "$work/env"
pass "testbed up: VCH $VIC_VCH, public address $VIC_PUBLIC_IP, vic-endpoint serving"
# docker vic (port, ps) is installed in the testbed's DOCKER_CONFIG; no context is set there, so
# docker keeps talking to the local engine.
export DOCKER_CONFIG=$VIC_DOCKER_CONFIG
unset DOCKER_HOST DOCKER_CONTEXT

header "image and stale objects"
run bash scripts/image.sh
expect_ok "scripts/image.sh builds or finds $image"
remove_prefixed "$prefix"
[ -x "$peer" ] || die "$peer is missing: scripts/image.sh builds it"
# (cobra answers `docker vic port --help` with the root help when there is no port command.)
if docker vic --help 2>/dev/null | grep -Eq '^[[:space:]]+port[[:space:]]'; then
	port_source=plugin
elif command -v curl >/dev/null && command -v jq >/dev/null; then
	port_source=api
	say "    note: docker vic port is not there yet; reading picked ports from the endpoint's /VIC.Ports API"
else
	say "    note: neither docker vic port nor curl+jq: ephemeral-port checks are skipped"
fi
ip netns exec "$VIC_OUTSIDE_NS" "$peer" serve tcp 7000 outside >"$work/outside-server.log" 2>&1 &
outside_server_pid=$!
# outside_server answers every connection with "outside SOURCE-ADDRESS", from the outside machine.
# shellcheck disable=SC2034 # the use cases read it
outside_server=$VIC_OUTSIDE_IP:7000

# Each use case runs in a subshell with `set -e`: a command failing outside a check ends that use
# case, as one failed check, and the next one still runs. Its counts come back through a file.
for f in "${cases[@]}"; do
	name=${f##*/}
	printf '%s %s %s\n' "$passed" "$failed" "$skipped" >"$work/counts"
	set +e
	(
		set -e
		trap 'printf "%s %s %s\n" "$passed" "$failed" "$skipped" >"$work/counts"' EXIT
		# A stop (E2E_STOP) ends the subshell; the runner then finishes.
		# shellcheck disable=SC2317 # checks.sh's fail calls it
		finish() { exit 3; }
		# shellcheck disable=SC1090
		. "$f"
	)
	rc=$?
	set -e
	read -r passed failed skipped <"$work/counts"
	if [ "$rc" -eq 3 ]; then finish; fi
	if [ "$rc" -ne 0 ]; then
		status=$rc
		: >"$out"
		: >"$err"
		fail "use case ${name%.sh} ran to its end" "no command failing outside a check"
		remove_prefixed "$prefix"
	fi
done

header "nothing of the use cases is left"
run docker ps -aq --filter "name=^/$prefix"
if [ "$status" -eq 0 ] && [ ! -s "$out" ]; then pass "docker ps -a shows no ${prefix} container"; else fail "no ${prefix} container left" "empty output"; fi
run docker network ls --filter name=^${prefix} -q
if [ "$status" -eq 0 ] && [ ! -s "$out" ]; then pass "docker network ls shows no ${prefix} network"; else fail "no ${prefix} network left" "empty output"; fi

finish
