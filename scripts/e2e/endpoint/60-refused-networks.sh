# shellcheck shell=bash disable=SC2086,SC2154 # e2e-endpoint.sh sets prefix, image, out... (no blanks)
# Networks the vic driver refuses: each is refused with a message naming the rule, and leaves
# no Docker network and no kernel link behind.

header "networks the vic driver refuses leave nothing behind"
run docker network create -d vic --ipam-driver vic ${prefix}taken
expect_ok "docker network create -d vic --ipam-driver vic ${prefix}taken (a subnet in use)"
taken_subnet=$(docker network inspect -f '{{range .IPAM.Config}}{{.Subnet}}{{end}}' ${prefix}taken)
links_before=$(vic_links)
networks_before=$(network_names)

# bad_network WHAT RULE ARGS...: docker network create -d vic ARGS is refused with a message
# matching RULE, and nothing changed.
bad_network() {
	local what=$1 rule=$2
	shift 2
	run docker network create -d vic --ipam-driver vic "$@"
	expect_err "$rule" "$what: refused with a message matching /$rule/"
	# shellcheck disable=SC2034 # fail shows it
	status=0
	: >"$out"
	: >"$err"
	if [ "$(network_names)" = "$networks_before" ]; then pass "$what: docker network ls is unchanged"; else
		network_names >"$out"
		fail "$what: docker network ls is unchanged" "the same networks as before"
	fi
	if [ "$(vic_links)" = "$links_before" ]; then pass "$what: no vb-/ve- link left"; else
		vic_links >"$out"
		fail "$what: no vb-/ve- link left" "the same vic links as before"
	fi
}
bad_network "--ipv6" 'ipv6' --ipv6 ${prefix}v6
bad_network "-o foo=bar" 'foo' -o foo=bar ${prefix}opt
bad_network "--subnet $taken_subnet (${prefix}taken's)" 'overlap|in use|already' --subnet "$taken_subnet" ${prefix}dup
bad_network "--subnet 198.51.100.0/24 (the public network)" 'overlap|in use|outside|range' --subnet 198.51.100.0/24 ${prefix}pub

end_case -- ${prefix}taken
