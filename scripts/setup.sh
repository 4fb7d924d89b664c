#!/usr/bin/env bash
# setup.sh: make this Debian machine ready for docker-vic's tests and demo, idempotently.
# Installs the Debian packages they need and starts dockerd when no engine answers.
# Quiet when everything is already in place. Needs root for anything it has to change.
set -euo pipefail
# shellcheck source=scripts/lib.sh
. "$(dirname "$0")/lib.sh"

# nftables: the nft CLI, to inspect the published ports (table ip vic); jq and curl: the
# end-to-end scripts read the engine's and the endpoint's JSON with them.
# mmdebstrap, squashfs-tools, xorriso, isolinux, syslinux-common, zstd: `make appliance` builds
# the endpoint's boot ISO with them; qemu-system-x86: the tests boot it.
packages=(docker.io iptables nftables busybox-static iproute2 jq curl
	mmdebstrap squashfs-tools xorriso isolinux syslinux-common zstd qemu-system-x86)

installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'; }

engine_answers() { timeout 10 docker version --format '{{.Server.Version}}' >/dev/null 2>&1; }

need_root() { [ "$(id -u)" -eq 0 ] || die "$1 needs root: run it as root or with sudo"; }

install_packages() {
	local missing=() p
	for p in "${packages[@]}"; do installed "$p" || missing+=("$p"); done
	[ ${#missing[@]} -eq 0 ] && return 0
	need_root "installing ${missing[*]}"
	say "setup: installing ${missing[*]}"
	export DEBIAN_FRONTEND=noninteractive
	local log
	log=$(mktemp)
	if ! { apt-get update -qq && apt-get install -y -qq --no-install-recommends "${missing[@]}"; } >"$log" 2>&1; then
		cat "$log" >&2
		rm -f "$log"
		die "installing ${missing[*]} failed"
	fi
	rm -f "$log"
}

# remove_stale_pidfile: a dockerd that died leaves its pid file, and a new dockerd refuses to start.
remove_stale_pidfile() {
	local pidfile=/var/run/docker.pid pid
	[ -f "$pidfile" ] || return 0
	pid=$(cat "$pidfile" 2>/dev/null || true)
	if [ -n "$pid" ] && [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = dockerd ]; then
		die "dockerd (pid $pid) is running but does not answer; see /var/log/dockerd.log"
	fi
	say "setup: removing stale $pidfile (pid ${pid:-none} is gone)"
	rm -f "$pidfile"
}

start_dockerd() {
	engine_answers && return 0
	need_root "starting dockerd"
	command -v dockerd >/dev/null || die "dockerd is not installed"
	remove_stale_pidfile
	say "setup: starting dockerd (log: /var/log/dockerd.log)"
	setsid dockerd >/var/log/dockerd.log 2>&1 </dev/null &
	for _ in $(seq 1 60); do
		if engine_answers; then
			say "setup: docker engine $(docker version --format '{{.Server.Version}}') is up"
			return 0
		fi
		sleep 1
	done
	tail -n 20 /var/log/dockerd.log >&2 || true
	die "dockerd did not answer within 60 s"
}

command -v go >/dev/null || die "go is not installed (expected in /usr/local/go/bin)"
install_packages
start_dockerd
