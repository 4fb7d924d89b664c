#!/usr/bin/env bash
# setup.sh: make this Debian machine ready for docker-vic's tests and demo, idempotently.
# Installs the Debian packages they need and starts dockerd when no engine answers.
# Quiet when everything is already in place. Needs root for anything it has to change.
set -euo pipefail
# shellcheck source=scripts/lib.sh
. "$(dirname "$0")/lib.sh"

# nftables: the nft CLI, to inspect the published ports (table ip vic); jq and curl: the
# end-to-end scripts read the engine's and the endpoint's JSON with them.
packages=(docker.io iptables nftables busybox-static iproute2 jq curl)
# qemu-system-x86, qemu-utils: the tests boot VMs (appliance/qemu, the testbed's appliance mode);
# xorriso, isolinux, syslinux-common: appliance/harness's test boots an ISO it builds with them.
packages+=(qemu-system-x86 qemu-utils xorriso isolinux syslinux-common)

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

# VIC_TEST_KERNEL_DIR: Debian's cloud kernel package, unpacked, that appliance/qemu's test boots
# with a tiny initramfs. Fetched once; apt-get download retries when the mirror does not answer.
VIC_TEST_KERNEL_DIR=${VIC_TEST_KERNEL_DIR:-/var/cache/docker-vic/cloud-kernel}
fetch_test_kernel() {
	compgen -G "$VIC_TEST_KERNEL_DIR/boot/vmlinuz-*" >/dev/null && return 0
	need_root "fetching the test kernel"
	local tmp pkg
	pkg=$(apt-cache depends linux-image-cloud-amd64 | awk '/Depends: linux-image-/ {print $2; exit}')
	[ -n "$pkg" ] || die "no linux-image-cloud-amd64 in the package lists (apt-get update?)"
	say "setup: fetching $pkg into $VIC_TEST_KERNEL_DIR"
	tmp=$(mktemp -d)
	for _ in 1 2 3 4 5; do
		(cd "$tmp" && apt-get download -qq -o APT::Sandbox::User=root "$pkg") >/dev/null 2>&1 && break
		sleep 10
	done
	compgen -G "$tmp/*.deb" >/dev/null || { rm -rf "$tmp"; die "downloading $pkg failed"; }
	rm -rf "$VIC_TEST_KERNEL_DIR.new" && mkdir -p "$VIC_TEST_KERNEL_DIR.new"
	dpkg-deb -x "$tmp"/*.deb "$VIC_TEST_KERNEL_DIR.new"
	rm -rf "$tmp" "$VIC_TEST_KERNEL_DIR" && mv "$VIC_TEST_KERNEL_DIR.new" "$VIC_TEST_KERNEL_DIR"
}

command -v go >/dev/null || die "go is not installed (expected in /usr/local/go/bin)"
install_packages
fetch_test_kernel
start_dockerd
