# shellcheck shell=bash
# vcsim.sh: vcsim as a vCenter of its own in a network namespace, for the end-to-end scripts of
# private engines (e2e-plugin.sh, e2e-swarm.sh), sourced after lib.sh.

# start_vcsim NS ADDR DIR HOSTS PG...: run bin/vcsim in namespace NS listening on ADDR (any
# port) with HOSTS hosts in its cluster and port groups PG, its pid in DIR/vcsim.pid and its log
# in DIR/vcsim.log, then export its VIC_TARGET (login included) and VIC_THUMBPRINT. Its first
# line holds the password: root-only.
start_vcsim() {
	local ns=$1 addr=$2 dir=$3 pg args=(--cluster-hosts "$4")
	shift 4
	for pg in "$@"; do args+=(--portgroup "$pg"); done
	unset VIC_TARGET VIC_THUMBPRINT # another vCenter's, such as the testbed's, must not pass
	(
		umask 077
		ip netns exec "$ns" bin/vcsim --listen "$addr:0" "${args[@]}" >"$dir/vcsim.out" 2>"$dir/vcsim.log" 8>&- &
		echo $! >"$dir/vcsim.pid"
	)
	for _ in $(seq 1 100); do
		grep -q '^export VIC_TARGET=' "$dir/vcsim.out" 2>/dev/null && break
		sleep 0.1
	done
	eval "$(head -n 1 "$dir/vcsim.out")"
	[ -n "${VIC_TARGET:-}" ] || die "vcsim printed no target within 10 s (log: $dir/vcsim.log)"
}

# stop_vcsim DIR: stop the vcsim that start_vcsim DIR started; none is fine.
stop_vcsim() {
	local pid
	pid=$(cat "$1/vcsim.pid" 2>/dev/null || true)
	[ -z "$pid" ] || kill "$pid" 2>/dev/null || true
}

# vcsim_credentials FILE: write vcsim's login to FILE, root-only, as the plugin's credentials
# file reads it, and print the target without the login (the plugin's VIC_TARGET).
vcsim_credentials() {
	local login=${VIC_TARGET#*://}
	login=${login%%@*}
	(
		umask 077
		printf 'VIC_USER=%s\nVIC_PASSWORD=%s\n' "${login%%:*}" "${login#*:}" >"$1"
	)
	printf '%s://%s\n' "${VIC_TARGET%%://*}" "${VIC_TARGET#*@}"
}
