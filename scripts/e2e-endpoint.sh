#!/usr/bin/env bash
# e2e-endpoint.sh: the vic network and IPAM drivers on the real local Docker engine, through the
# testbed (scripts/testbed.sh): the use cases of the VIC documents — a container with a published
# port, a simple bridge network, bridged containers with an exposed port — then isolation,
# hairpin, internal networks, a container on a vic network and Docker's bridge at once, outbound
# NAT, ephemeral and UDP ports, port conflicts and refused networks. Each check asserts what a
# user sees; the last line says how many passed and failed, the exit status is non-zero when any
# failed. Everything it makes is named vic-e2e-* and removed at the end (stale ones first).
#
#   scripts/e2e-endpoint.sh              run everything, report every failed check
#   E2E_STOP=1 scripts/e2e-endpoint.sh   stop at the first failed check
#   E2E_KEEP=1 scripts/e2e-endpoint.sh   leave the containers, networks and testbed up at the end
set -euo pipefail
# shellcheck source=scripts/lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source=scripts/checks.sh
. "$(dirname "$0")/checks.sh"
cd "$VIC_ROOT"

[ "$(id -u)" -eq 0 ] || die "e2e-endpoint.sh needs root (the testbed makes namespaces and links)"

passed=0 failed=0 skipped=0
work=$(mktemp -d "${TMPDIR:-/tmp}/vic-e2e-endpoint.XXXXXX")
prefix=vic-e2e-
image=vic-busybox:test
peer=$VIC_ROOT/bin/vic-peer
outside_server_pid=
testbed_up=0
# The testbed is ours while this script runs: another testbed.sh up waits for us.
export VIC_TESTBED_OWNER=$$

remove_ours() { remove_prefixed "$prefix"; }

stop_outside_server() {
	if [ -n "$outside_server_pid" ]; then
		kill "$outside_server_pid" 2>/dev/null || true
		wait "$outside_server_pid" 2>/dev/null || true
		outside_server_pid=
	fi
}

cleanup() {
	stop_outside_server
	if [ "$testbed_up" -eq 0 ]; then
		:
	elif [ -z "${E2E_KEEP:-}" ]; then
		remove_ours
		bash scripts/testbed.sh down 2>&1 | sed 's/^/    /' || true
	else
		say "E2E_KEEP is set: containers, networks and the testbed stay up (scripts/testbed.sh down removes the testbed)"
	fi
	rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# --- checks (pass, fail, skip and run come from scripts/checks.sh) -----------------------------

out=$work/out err=$work/err

# run_until SECONDS CMD...: like run, but retries quietly until CMD succeeds or SECONDS pass
# (a server in a fresh container needs a moment to listen).
run_until() {
	local secs=$1 end
	shift
	end=$((SECONDS + secs))
	while :; do
		status=0
		bounded 20 "$@" >"$out" 2>"$err" </dev/null || status=$?
		[ "$status" -eq 0 ] || [ "$SECONDS" -ge "$end" ] && break
		sleep 0.5
	done
	printf '%s$%s' "$vic_dim" "$vic_off"
	printf ' %q' "$@"
	printf '\n'
	sed 's/^/    /' "$out"
	sed 's/^/    /' "$err"
}

# in_ns NS CMD...: CMD in namespace NS, bounded by 5 s (busybox wget -T segfaults).
# shellcheck disable=SC2317 # in_ns and web_get run through run/bounded.
in_ns() { local ns=$1; shift; timeout 5 ip netns exec "$ns" "$@"; }

# web_get URL: what busybox wget fetches from URL on the host, bounded by 5 s.
# shellcheck disable=SC2317
web_get() { timeout 5 busybox wget -qO- "$1"; }

expect_ok() { if [ "$status" -eq 0 ]; then pass "$1"; else fail "$1" "exit status 0"; fi; }
expect_fail() { if [ "$status" -ne 0 ]; then pass "$1"; else fail "$1" "a non-zero exit status"; fi; }

# expect_out REGEX WHAT: the command succeeded and stdout matches the extended REGEX.
expect_out() {
	if [ "$status" -eq 0 ] && grep -Eq -- "$1" "$out"; then pass "$2"; else fail "$2" "success and stdout matching /$1/"; fi
}
# expect_no_reach WHAT: the command failed or printed nothing of the served page.
expect_no_reach() {
	if [ "$status" -ne 0 ] && ! grep -Eq 'hello|Hello' "$out"; then pass "$1"; else fail "$1" "no answer (a failed connection)"; fi
}
# expect_err REGEX WHAT: the command failed and stderr matches REGEX, case-insensitively.
expect_err() {
	if [ "$status" -ne 0 ] && grep -Eiq -- "$1" "$err"; then pass "$2"; else fail "$2" "failure with stderr matching /$1/"; fi
}

finish() {
	trap - EXIT
	cleanup
	say ""
	[ "$skipped" -eq 0 ] || say "e2e-endpoint: $skipped skipped (see the 'skip' lines)"
	say "e2e-endpoint: $passed passed, $failed failed"
	[ "$failed" -eq 0 ] && exit 0
	exit 1
}

# --- facts the checks need ----------------------------------------------------------------------

# cip NAME NETWORK: the container's address on NETWORK.
cip() { docker inspect -f "{{(index .NetworkSettings.Networks \"$2\").IPAddress}}" "$1" 2>/dev/null; }

# endpoint_id NAME NETWORK: the container's endpoint ID on NETWORK.
endpoint_id() { docker inspect -f "{{(index .NetworkSettings.Networks \"$2\").EndpointID}}" "$1" 2>/dev/null; }

# vic_links: the bridge and veth links the vic driver owns on the host, sorted.
vic_links() { ip -o link show | awk -F': ' '{print $2}' | sed 's/@.*//' | grep -E '^(vb|ve)-' | sort || true; }

# network_names: the Docker network names, sorted.
network_names() { docker network ls --format '{{.Name}}' | sort; }

# host_port NAME PORT/PROTO: the host port the vic driver picked for NAME's PORT/PROTO, from
# `docker vic port` (or the endpoint's /VIC.Ports API when the plugin lacks that command). Empty
# when neither can say.
port_source=
host_port() {
	local name=$1 spec=$2 ep
	case $port_source in
	plugin)
		{ docker vic port "$name" 2>/dev/null || true; } | grep -E "^${spec}[[:space:]]" | grep -oE ':[0-9]+$' | tr -d : | head -n 1 || true
		;;
	api)
		ep=$(endpoint_id "$name" "$3")
		{ curl -sf --max-time 5 --unix-socket /run/docker/plugins/vic.sock -X POST http://vic/VIC.Ports -d '{}' || true; } |
			jq -r --arg ep "$ep" --arg p "${spec%/*}" --arg proto "${spec#*/}" \
				'.Endpoints[] | select(.EndpointID == $ep) | .Ports[] | select((.ContainerPort|tostring) == $p and (.Proto|ascii_downcase) == $proto) | .HostPort' |
			head -n 1 || true
		;;
	esac
}

# --- the run ------------------------------------------------------------------------------------

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
remove_ours
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
networks_before=$(network_names)

# A server on the outside machine that answers with the address it sees.
ip netns exec "$VIC_OUTSIDE_NS" "$peer" serve tcp 7000 outside >"$work/outside-server.log" 2>&1 &
outside_server_pid=$!

header "use case 1: container with published port (docker run -p 8080:80)"
run docker network create -d vic --ipam-driver vic ${prefix}default
expect_ok "docker network create -d vic --ipam-driver vic ${prefix}default"
run docker network ls --filter name=^${prefix}default\$ --format '{{.Name}} {{.Driver}}'
expect_out "^${prefix}default vic$" "docker network ls shows ${prefix}default with driver vic"
run docker network inspect -f '{{range .IPAM.Config}}{{.Subnet}} {{.Gateway}}{{end}}' ${prefix}default
expect_out '^172\.(1[6-9]|2[0-9]|3[01])\.0\.0/16 172\.[0-9]+\.0\.1$' "${prefix}default is a /16 of the bridge range 172.16.0.0/12, gateway .1"
run docker run -d -p 8080:80 --net ${prefix}default --name ${prefix}web $image httpd -f -p 80 -h /www
expect_ok "docker run -d -p 8080:80 --net ${prefix}default --name ${prefix}web"
run docker exec ${prefix}web ip -o -4 addr show
if [ "$status" -eq 0 ] && [ "$(grep -cv ' lo ' "$out")" -eq 1 ]; then pass "${prefix}web has one interface besides lo (no docker_gwbridge leg)"; else
	fail "${prefix}web has one interface besides lo" "lo and eth0 only"
fi
run_until 10 in_ns "$VIC_OUTSIDE_NS" busybox wget -qO- "http://$VIC_PUBLIC_IP:8080/"
expect_out 'hello from vic-busybox' "the outside machine reaches the page at $VIC_PUBLIC_IP:8080 (the VCH's public address)"
run web_get http://127.0.0.1:8080/
expect_out 'hello from vic-busybox' "the endpoint itself reaches it at 127.0.0.1:8080"
run web_get "http://$VIC_PUBLIC_IP:8080/"
expect_out 'hello from vic-busybox' "the endpoint itself reaches it at $VIC_PUBLIC_IP:8080"
run in_ns "$VIC_CLIENTSIDE_NS" busybox wget -qO- "http://$VIC_CLIENT_IP:8080/"
expect_no_reach "a machine on the client network does not reach port 8080 at the client address $VIC_CLIENT_IP"
run in_ns "$VIC_CLIENTSIDE_NS" busybox wget -qO- "http://$VIC_MANAGEMENT_IP:8080/"
expect_no_reach "a machine on the management network does not reach port 8080 at the management address $VIC_MANAGEMENT_IP"
run web_get "http://$VIC_CLIENT_IP:8080/"
expect_no_reach "the endpoint itself does not reach port 8080 at the client address"
if [ "$port_source" = plugin ]; then
	run docker vic port ${prefix}web
	expect_out "80/tcp.*8080" "docker vic port ${prefix}web shows 80/tcp on host port 8080"
	web_vm=${prefix}web-$(docker inspect -f '{{.Id}}' ${prefix}web | cut -c1-12)
	web_mac=$(docker inspect -f "{{(index .NetworkSettings.Networks \"${prefix}default\").MacAddress}}" ${prefix}web)
	run_until 20 sh -c "docker vic containers $VIC_VCH | grep -E '^$web_vm +[0-9a-f]{12} +poweredOn +VIC-Bridge=$web_mac\$'"
	expect_ok "vSphere: container VM $web_vm is powered on, with its NIC on the bridge port group VIC-Bridge carrying the container's MAC"
	run docker vic ps
	expect_out "${prefix}web.*8080" "docker vic ps lists ${prefix}web with 8080"
fi

header "host addresses of published ports"
run docker run -d -p 127.0.0.1:8082:80 --net ${prefix}default --name ${prefix}local $image httpd -f -p 80 -h /www
expect_ok "docker run -d -p 127.0.0.1:8082:80 ${prefix}local"
run_until 10 web_get http://127.0.0.1:8082/
expect_out 'hello from vic-busybox' "the endpoint reaches ${prefix}local at 127.0.0.1:8082"
run in_ns "$VIC_OUTSIDE_NS" busybox wget -qO- "http://$VIC_PUBLIC_IP:8082/"
expect_no_reach "the outside machine does not reach a port published on 127.0.0.1 only"
run docker run -d -p "$VIC_CLIENT_IP:8083:80" --net ${prefix}default --name ${prefix}on-client $image httpd -f -p 80 -h /www
expect_err "public address|127\\.0\\.0\\.1" "-p $VIC_CLIENT_IP:8083:80 (the client address) is refused, naming where ports may live"
docker rm -f ${prefix}on-client >/dev/null 2>&1 || true

header "use case 2: simple bridge network, containers find each other by name"
run docker network create -d vic --ipam-driver vic ${prefix}net
expect_ok "docker network create -d vic --ipam-driver vic ${prefix}net"
run docker run -d --net ${prefix}net --name ${prefix}server --network-alias server $image sleep 3600
expect_ok "docker run -d --net ${prefix}net --name ${prefix}server (alias server)"
run docker run -d --net ${prefix}net --name ${prefix}client $image sleep 3600
expect_ok "docker run -d --net ${prefix}net --name ${prefix}client"
run docker exec ${prefix}client ping -c 1 -W 2 server
expect_out '1 packets received' "client pings server by name"
run docker exec ${prefix}server ping -c 1 -W 2 ${prefix}client
expect_out '1 packets received' "server pings client by name"
run docker run --rm --net ${prefix}net $image ping -c 1 -W 2 server
expect_out '1 packets received' "a throwaway container (docker run --rm) pings server by name"
net_subnet=$(docker network inspect -f '{{range .IPAM.Config}}{{.Subnet}}{{end}}' ${prefix}net)
server_ip=$(cip ${prefix}server ${prefix}net)
say "    ${prefix}net is $net_subnet; server has $server_ip"

header "a vic network with a --subnet of the user's choice"
run docker network create -d vic --ipam-driver vic --subnet 172.30.0.0/16 ${prefix}sub
expect_ok "docker network create -d vic --ipam-driver vic --subnet 172.30.0.0/16 ${prefix}sub"
run docker run --rm --net ${prefix}sub $image ip -o -4 addr show eth0
expect_out 'inet 172\.30\.0\.[0-9]+/16' "a container on ${prefix}sub gets an address of 172.30.0.0/16"
run docker network rm ${prefix}sub
expect_ok "docker network rm ${prefix}sub"

header "Docker's default IPAM, and --gateway, --ip-range and --ip with the vic IPAM"
run docker network create -d vic --subnet 172.29.0.0/16 --gateway 172.29.0.254 --ip-range 172.29.5.0/24 ${prefix}dflt
expect_ok "docker network create -d vic (Docker's default IPAM) --gateway 172.29.0.254 --ip-range 172.29.5.0/24 ${prefix}dflt"
run docker run --rm --net ${prefix}dflt $image sh -c 'ip -o -4 addr show eth0; ip route'
expect_out 'inet 172\.29\.5\.[0-9]+/16' "with Docker's default IPAM a container gets an address of the --ip-range"
expect_out 'default via 172\.29\.0\.254' "its default route is the --gateway, which the vic bridge carries"
run docker network rm ${prefix}dflt
expect_ok "docker network rm ${prefix}dflt"
run docker network create -d vic --ipam-driver vic --subnet 172.28.0.0/16 --gateway 172.28.0.254 --ip-range 172.28.7.0/24 ${prefix}ipr
expect_ok "docker network create -d vic --ipam-driver vic --gateway 172.28.0.254 --ip-range 172.28.7.0/24 ${prefix}ipr"
run docker run -d --net ${prefix}ipr --ip 172.28.9.9 --name ${prefix}fixed $image sleep 300
expect_ok "docker run --ip 172.28.9.9 on ${prefix}ipr"
run cip ${prefix}fixed ${prefix}ipr
expect_out '^172\.28\.9\.9$' "the vic IPAM honours --ip"
run docker run --rm --net ${prefix}ipr $image sh -c 'ip -o -4 addr show eth0; ip route; ping -c 1 -W 2 172.28.9.9'
expect_out 'inet 172\.28\.7\.[0-9]+/16' "the vic IPAM hands out addresses of the --ip-range"
expect_out 'default via 172\.28\.0\.254' "and the --gateway is the default route"
expect_out '1 packets received' "and reaches the container with the fixed address"
run docker run --rm --net ${prefix}ipr --ip 172.28.9.9 $image sh -c 'echo unreachable'
expect_err '172\.28\.9\.9' "a second container asking for 172.28.9.9 is refused, naming the address"
docker rm -f ${prefix}fixed >/dev/null 2>&1 || true
run docker network rm ${prefix}ipr
expect_ok "docker network rm ${prefix}ipr"

header "a range of published ports: -p 9000-9002:9000-9002"
run docker run -d -p 9000-9002:9000-9002 --net ${prefix}default --name ${prefix}range $image httpd -f -p 9001 -h /www
expect_ok "docker run -d -p 9000-9002:9000-9002 ${prefix}range"
run docker vic port ${prefix}range
expect_out '9002/tcp -> 198\.51\.100\.2:9002' "docker vic port lists every port of the range"
run_until 10 in_ns "$VIC_OUTSIDE_NS" busybox wget -qO- "http://$VIC_PUBLIC_IP:9001/"
expect_out 'hello from vic-busybox' "the outside machine reaches port 9001 of the range"
run docker vic ps
expect_out "${prefix}range.*9000" "docker vic ps shows the container and its ports"
docker rm -f ${prefix}range >/dev/null 2>&1 || true

header "use case 3: bridged containers with exposed port (docker run -p 5000:5000)"
run docker network create -d vic --ipam-driver vic ${prefix}app
expect_ok "docker network create -d vic --ipam-driver vic ${prefix}app"
run docker run -d -p 5000:5000 --net ${prefix}app --name ${prefix}app-server --network-alias server $image vic-peer serve tcp 5000 'Hello world!'
expect_ok "docker run -d -p 5000:5000 --net ${prefix}app --name ${prefix}app-server (alias server)"
run docker run -d --net ${prefix}app --name ${prefix}app-client $image sleep 3600
expect_ok "docker run -d --net ${prefix}app --name ${prefix}app-client"
run docker exec ${prefix}app-client ping -c 3 -W 2 server
expect_out '3 packets received' "client pings server by name, 3 times"
run_until 10 docker exec ${prefix}app-client vic-peer ask tcp server:5000
expect_out '^Hello world!' "client connects to server:5000 by name"
run_until 10 in_ns "$VIC_OUTSIDE_NS" "$peer" ask tcp "$VIC_PUBLIC_IP:5000"
expect_out '^Hello world!' "the outside machine connects to port 5000 on the VCH's public address"
expect_out "^Hello world! $VIC_OUTSIDE_IP\$" "the server sees the outside machine's own address ($VIC_OUTSIDE_IP)"
app_server_ip=$(cip ${prefix}app-server ${prefix}app)

header "isolation between vic bridge networks"
run docker exec ${prefix}client ping -c 1 -W 2 "$app_server_ip"
expect_fail "a container of ${prefix}net cannot ping one of ${prefix}app at $app_server_ip"
run docker exec ${prefix}client vic-peer ask tcp "$app_server_ip:5000"
expect_fail "a container of ${prefix}net cannot connect to ${prefix}app's server at $app_server_ip:5000"
run docker exec ${prefix}client vic-peer ask tcp "$VIC_PUBLIC_IP:5000"
expect_out '^Hello world!' "but it reaches that server through its published port $VIC_PUBLIC_IP:5000"

header "hairpin: containers reach published ports at the public address"
run docker exec ${prefix}web wget -qO- "http://$VIC_PUBLIC_IP:8080/"
expect_out 'hello from vic-busybox' "${prefix}web reaches its own published port $VIC_PUBLIC_IP:8080"
run docker exec ${prefix}app-client vic-peer ask tcp "$VIC_PUBLIC_IP:5000"
expect_out '^Hello world!' "${prefix}app-client reaches its network peer's published port $VIC_PUBLIC_IP:5000"

header "outbound traffic leaves through the public interface, masqueraded"
run docker exec ${prefix}client vic-peer ask tcp "$VIC_OUTSIDE_IP:7000"
expect_out "^outside $VIC_PUBLIC_IP\$" "the outside server sees ${prefix}client's connection coming from $VIC_PUBLIC_IP"

header "an --internal vic network"
run docker network create -d vic --ipam-driver vic --internal ${prefix}internal
expect_ok "docker network create -d vic --internal ${prefix}internal"
run docker run -d --net ${prefix}internal --name ${prefix}int-a $image sleep 3600
expect_ok "docker run ${prefix}int-a on ${prefix}internal"
run docker run -d --net ${prefix}internal --name ${prefix}int-b $image sleep 3600
expect_ok "docker run ${prefix}int-b on ${prefix}internal"
run docker exec ${prefix}int-a ping -c 1 -W 2 ${prefix}int-b
expect_out '1 packets received' "peers on an internal network still reach each other"
run docker exec ${prefix}int-a vic-peer ask tcp "$VIC_OUTSIDE_IP:7000"
expect_fail "a container on an internal network cannot reach the outside machine"

header "a container on a vic network and on Docker's bridge at once"
run docker run -d --net bridge --name ${prefix}plain $image sleep 3600
expect_ok "docker run ${prefix}plain on Docker's bridge"
run docker run -d --net bridge --name ${prefix}dual $image sleep 3600
expect_ok "docker run ${prefix}dual on Docker's bridge"
run docker network connect ${prefix}net ${prefix}dual
expect_ok "docker network connect ${prefix}net ${prefix}dual"
plain_ip=$(cip ${prefix}plain bridge)
run docker exec ${prefix}dual ping -c 1 -W 2 server
expect_out '1 packets received' "${prefix}dual pings server on ${prefix}net by name"
run docker exec ${prefix}dual ping -c 1 -W 2 "$plain_ip"
expect_out '1 packets received' "${prefix}dual pings ${prefix}plain on Docker's bridge ($plain_ip)"
run docker exec ${prefix}server ping -c 1 -W 2 ${prefix}dual
expect_out '1 packets received' "server pings ${prefix}dual by name"

header "ephemeral host ports: -p 80 and -P"
run docker run -d -p 80 --net ${prefix}default --name ${prefix}eph $image httpd -f -p 80 -h /www
expect_ok "docker run -d -p 80 ${prefix}eph"
run docker run -d --expose 80 -P --net ${prefix}default --name ${prefix}eph-all $image httpd -f -p 80 -h /www
expect_ok "docker run -d --expose 80 -P ${prefix}eph-all"
for name in ${prefix}eph ${prefix}eph-all; do
	if [ -z "$port_source" ]; then
		skip "$name: the picked host port cannot be read (no docker vic port, no curl+jq)"
		continue
	fi
	hp=$(host_port "$name" 80/tcp ${prefix}default)
	if [ -n "$hp" ] && [ "$hp" -ge 1024 ]; then
		status=0
		: >"$out"
		: >"$err"
		pass "$name got an ephemeral host port for 80/tcp: $hp"
		run_until 10 in_ns "$VIC_OUTSIDE_NS" busybox wget -qO- "http://$VIC_PUBLIC_IP:$hp/"
		expect_out 'hello from vic-busybox' "the outside machine reaches $name at $VIC_PUBLIC_IP:$hp"
	else
		status=1
		: >"$out"
		: >"$err"
		fail "$name got an ephemeral host port for 80/tcp" "a port >= 1024 from docker vic port (got '${hp}')"
	fi
done

header "UDP: -p 5353:5353/udp"
run docker run -d -p 5353:5353/udp --net ${prefix}default --name ${prefix}udp $image vic-peer serve udp 5353 pong
expect_ok "docker run -d -p 5353:5353/udp ${prefix}udp"
run_until 10 in_ns "$VIC_OUTSIDE_NS" "$peer" ask udp "$VIC_PUBLIC_IP:5353"
expect_out "^pong $VIC_OUTSIDE_IP\$" "the outside machine gets a UDP answer from $VIC_PUBLIC_IP:5353"

header "port conflicts name the holder"
run docker run -d -p 8080:80 --net ${prefix}default --name ${prefix}web2 $image httpd -f -p 80 -h /www
expect_fail "a second container on host port 8080"
expect_err "8080" "the error names port 8080"
expect_err "container \"${prefix}web\"" "the error names the container holding it (${prefix}web)"
run_until 5 in_ns "$VIC_OUTSIDE_NS" busybox wget -qO- "http://$VIC_PUBLIC_IP:8080/"
expect_out 'hello from vic-busybox' "${prefix}web still serves $VIC_PUBLIC_IP:8080"
docker rm -f ${prefix}web2 >/dev/null 2>&1 || true
# A port some other process of the endpoint has bound.
"$peer" serve tcp 8099 squatter >"$work/squatter.log" 2>&1 &
squatter=$!
sleep 0.3
run docker run -d -p 8099:80 --net ${prefix}default --name ${prefix}web3 $image httpd -f -p 80 -h /www
expect_fail "a container on host port 8099, which another process holds"
expect_err "8099" "the error names port 8099"
expect_err "vic-peer|pid $squatter" "the error names the process (vic-peer, pid $squatter)"
kill "$squatter" 2>/dev/null || true
wait "$squatter" 2>/dev/null || true
docker rm -f ${prefix}web3 >/dev/null 2>&1 || true

header "networks the vic driver refuses leave nothing behind"
links_before=$(vic_links)
networks_before=$(network_names)
bad_network() {
	local what=$1 rule=$2
	shift 2
	run docker network create -d vic --ipam-driver vic "$@"
	expect_err "$rule" "$what: refused with a message matching /$rule/"
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
bad_network "--subnet $net_subnet (${prefix}net's)" 'overlap|in use|already' --subnet "$net_subnet" ${prefix}dup
bad_network "--subnet 198.51.100.0/24 (the public network)" 'overlap|in use|outside|range' --subnet 198.51.100.0/24 ${prefix}pub

header "container network consumer (VIC: a container using an external network)"
if [ "$(docker network inspect -f '{{.Driver}}' consumer 2>/dev/null || true)" != vic ]; then
	fail "vic-endpoint made the 'consumer' network for port group External-Consumer (SPEC §5)" "a vic network named consumer"
else
	pass "vic-endpoint made the Docker network 'consumer' for port group External-Consumer by itself"
	run docker run -d --net consumer -p 80:80 -p 8081:80 --name ${prefix}ext $image httpd -f -p 80 -h /www
	expect_ok "docker run -d --net consumer -p 80:80 -p 8081:80 ${prefix}ext"
	ext_ip=$(cip ${prefix}ext consumer)
	status=0
	echo "$ext_ip" >"$out"
	: >"$err"
	case $ext_ip in
	203.0.113.1[4-5][0-9] | 203.0.113.160) pass "${prefix}ext has an address of the configured range: $ext_ip" ;;
	*) fail "${prefix}ext has an address of the configured range" "an address in 203.0.113.140-203.0.113.160" ;;
	esac
	run_until 10 in_ns "$VIC_NET_CONSUMER_NS" busybox wget -qO- "http://$ext_ip/"
	expect_out 'hello from vic-busybox' "a machine on External-Consumer reaches ${prefix}ext at its own address, no NAT"
	run in_ns "$VIC_NET_CONSUMER_NS" busybox wget -qO- "http://$ext_ip:8081/"
	expect_out 'hello from vic-busybox' "-p 8081:80 on a container network: port 8081 of the container's address reaches its port 80"
	run docker exec -d ${prefix}ext httpd -f -p 8080 -h /www
	run docker exec ${prefix}ext wget -qO- http://127.0.0.1:8080/
	expect_out 'hello from vic-busybox' "inside ${prefix}ext, an unpublished port 8080 answers on loopback"
	run in_ns "$VIC_NET_CONSUMER_NS" busybox wget -qO- "http://$ext_ip:8080/"
	expect_no_reach "firewall level published: the unpublished port 8080 is closed to the port group"
	run in_ns "$VIC_NET_CONSUMER_NS" busybox ping -c 1 -W 2 "$ext_ip"
	expect_ok "firewall level published: ${prefix}ext answers ping"
	run docker exec ${prefix}ext ping -c 1 -W 2 203.0.113.130
	expect_ok "${prefix}ext reaches the port group's machine 203.0.113.130 (outbound is open)"
	if [ "$port_source" = plugin ]; then
		run docker vic port ${prefix}ext
		expect_out "80/tcp -> $ext_ip:8081" "docker vic port ${prefix}ext shows 8081 at the container's own address"
	fi
	mac=$(docker inspect -f '{{(index .NetworkSettings.Networks "consumer").MacAddress}}' ${prefix}ext)
	run in_ns "$VIC_NET_CONSUMER_NS" ip neigh show "$ext_ip"
	expect_out "$mac" "the port group sees ${prefix}ext with its own MAC $mac (a macvlan, not the endpoint's NIC)"
	vm=${prefix}ext-$(docker inspect -f '{{.Id}}' ${prefix}ext | cut -c1-12)
	run_until 20 sh -c "docker vic containers $VIC_VCH | grep -E '^$vm +[0-9a-f]{12} +poweredOn +External-Consumer=$mac\$'"
	expect_ok "vSphere: container VM $vm is powered on, with one NIC on External-Consumer carrying the container's MAC"
	run docker stop -t 1 ${prefix}ext
	run_until 20 sh -c "docker vic containers $VIC_VCH | grep -E '^$vm +[0-9a-f]{12} +poweredOff '"
	expect_ok "vSphere: docker stop powers container VM $vm off"
	run docker network create -d vic --ipam-driver vic -o com.docker.network.vic.portgroup=VIC-Bridge --ipam-opt com.docker.network.vic.portgroup=VIC-Bridge ${prefix}pg
	expect_err 'not a container network' "a vic network on a port group the VCH does not list as a container network"
	run docker run -d --expose=80 --net=consumer --name ${prefix}exp $image httpd -f -p 80 -h /www
	expect_ok "docker run -d --expose=80 --net=consumer ${prefix}exp (the VIC document's external network use case)"
	run_until 10 in_ns "$VIC_NET_CONSUMER_NS" busybox wget -qO- "http://$(cip ${prefix}exp consumer)/"
	expect_out 'hello from vic-busybox' "--expose=80: port 80 of ${prefix}exp answers at its own address"
	exp_ip=$(cip ${prefix}exp consumer)
	run docker vic configure "$VIC_VCH" --container-network-firewall External-Consumer:closed
	expect_ok "docker vic configure $VIC_VCH --container-network-firewall External-Consumer:closed"
	run_until 20 sh -c "! timeout 3 ip netns exec $VIC_NET_CONSUMER_NS busybox wget -qO- http://$exp_ip/"
	expect_ok "the new level reaches the running ${prefix}exp within seconds: port 80 no longer answers the port group"
	run docker vic configure "$VIC_VCH" --container-network-firewall External-Consumer:published
	expect_ok "docker vic configure back to published"
	run_until 20 in_ns "$VIC_NET_CONSUMER_NS" busybox wget -qO- "http://$exp_ip/"
	expect_out 'hello from vic-busybox' "published again: port 80 of ${prefix}exp answers"
	run docker rm -f ${prefix}ext ${prefix}exp
	expect_ok "docker rm -f ${prefix}ext ${prefix}exp"
	run_until 20 sh -c "! docker vic containers $VIC_VCH | grep -E '^${prefix}(ext|exp)-'"
	expect_ok "vSphere: the container VMs go with their containers"
	run sh -c "ip -o link show | grep -E ': vm-' || true"
	if [ ! -s "$out" ]; then pass "no container macvlan (vm-*) is left on the endpoint"; else fail "no vm-* link left" "no vm-* link"; fi
fi

header "container network containers (DHCP from the port group's own server, firewall level peers)"
if [ "$(docker network inspect -f '{{.Driver}}' containers 2>/dev/null || true)" != vic ]; then
	fail "vic-endpoint made the 'containers' network for port group VIC-Container-Network" "a vic network named containers"
else
	pass "vic-endpoint made the Docker network 'containers' for the DHCP port group VIC-Container-Network"
	run docker run -d --net containers --name ${prefix}dhcp $image httpd -f -p 80 -h /www
	expect_ok "docker run -d --net containers ${prefix}dhcp"
	dhcp_ip=$(cip ${prefix}dhcp containers)
	status=0
	echo "$dhcp_ip" >"$out"
	: >"$err"
	case $dhcp_ip in
	203.0.113.2[01][0-9] | 203.0.113.220) pass "${prefix}dhcp leased $dhcp_ip from the port group's DHCP server (pool .200-.220)" ;;
	*) fail "${prefix}dhcp leased an address from the port group's DHCP server" "an address in 203.0.113.200-203.0.113.220" ;;
	esac
	run docker exec ${prefix}dhcp ip route
	expect_out 'default via 203\.0\.113\.193' "${prefix}dhcp routes through the lease's router 203.0.113.193"
	run_until 10 in_ns "$VIC_NET_CONTAINERS_NS" busybox wget -qO- "http://$dhcp_ip/"
	expect_out 'hello from vic-busybox' "firewall level peers: the DHCP server's machine, in the lease's subnet, reaches the unpublished port 80"
	log_lines=$(wc -l <"$VIC_ENDPOINT_LOG")
	run bash scripts/testbed.sh restart-endpoint
	expect_ok "kill -9 of vic-endpoint and a restart while ${prefix}dhcp runs"
	run_until 20 sh -c "tail -n +$((log_lines + 1)) '$VIC_ENDPOINT_LOG' | grep -q 'renewing a DHCP lease held before the restart.*address=$dhcp_ip/'"
	expect_ok "the restarted endpoint took ${prefix}dhcp's lease of $dhcp_ip back from the DHCP server"
	run_until 10 in_ns "$VIC_NET_CONTAINERS_NS" busybox wget -qO- "http://$dhcp_ip/"
	expect_out 'hello from vic-busybox' "after the restart ${prefix}dhcp still answers at $dhcp_ip"
	run docker rm -f ${prefix}dhcp
	expect_ok "docker rm -f ${prefix}dhcp"
fi

header "clean up"
bridges=""
for n in default net app internal; do
	id=$(docker network inspect -f '{{.Id}}' ${prefix}$n 2>/dev/null || true)
	[ -n "$id" ] && bridges="$bridges vb-${id:0:12}"
done
run docker rm -f ${prefix}web ${prefix}local ${prefix}server ${prefix}client ${prefix}app-server ${prefix}app-client \
	${prefix}int-a ${prefix}int-b ${prefix}plain ${prefix}dual ${prefix}eph ${prefix}eph-all ${prefix}udp
expect_ok "docker rm -f every container"
run docker network rm ${prefix}default ${prefix}net ${prefix}app ${prefix}internal
expect_ok "docker network rm every network"
run docker network ls --filter name=^${prefix} -q
if [ ! -s "$out" ]; then pass "docker network ls shows no ${prefix} network"; else fail "no ${prefix} network left" "empty output"; fi
left=""
for b in $bridges; do ip link show "$b" >/dev/null 2>&1 && left="$left $b"; done
status=0
echo "$left" >"$out"
: >"$err"
if [ -z "$left" ]; then pass "the networks' bridges are gone:$bridges"; else fail "the networks' bridges are gone" "no link among$bridges"; fi
run sh -c "ip -o link show | grep -E ': ve-' || true"
if [ ! -s "$out" ]; then pass "no container veth (ve-*) is left on the host"; else fail "no ve-* link left" "no ve-* link"; fi
run web_get http://127.0.0.1:8080/
expect_no_reach "port 8080 is no longer published"

finish
