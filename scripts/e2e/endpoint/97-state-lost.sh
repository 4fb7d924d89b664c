# shellcheck shell=bash disable=SC2086,SC2154 # e2e-endpoint.sh sets prefix, image, out... (no blanks)
# The state database lost: removed, emptied or truncated while vic-endpoint is stopped. The
# restarted endpoint rebuilds it from Docker and the kernel: every container keeps working,
# docker vic ps shows what it showed before, new containers and networks take nothing in use,
# and removing everything afterwards leaves nothing behind.

state_db=$VIC_TESTBED_DIR/state/state.db
web='httpd -f -p 80 -h /www'

header "containers on a bridge network (-p 8095:80 and -p 80) and on both container networks"
run docker network create -d vic --ipam-driver vic ${prefix}st
expect_ok "docker network create -d vic --ipam-driver vic ${prefix}st"
subnet=$(docker network inspect -f '{{(index .IPAM.Config 0).Subnet}}' ${prefix}st)
run docker run -d --net ${prefix}st -p 8095:80 --name ${prefix}sa $image $web
expect_ok "docker run -d --net ${prefix}st -p 8095:80 ${prefix}sa"
run docker run -d --net ${prefix}st -p 80 --name ${prefix}sb $image $web
expect_ok "docker run -d --net ${prefix}st -p 80 ${prefix}sb (an ephemeral host port)"
run docker run -d --net consumer -p 8081:80 --name ${prefix}sc $image $web
expect_ok "docker run -d --net consumer -p 8081:80 ${prefix}sc (the static container network)"
run docker run -d --net containers --name ${prefix}sd $image $web
expect_ok "docker run -d --net containers ${prefix}sd (the DHCP container network)"
sa_ip=$(cip ${prefix}sa ${prefix}st) sb_ip=$(cip ${prefix}sb ${prefix}st)
sc_ip=$(cip ${prefix}sc consumer) sd_ip=$(cip ${prefix}sd containers)
eph=$(host_port ${prefix}sb 80/tcp ${prefix}st)
expect_value "$eph" '[0-9]+' "${prefix}sb got ephemeral host port $eph" "a host port"

# vic_ps: the rows of docker vic ps of this use case's containers.
vic_ps() { docker vic ps | grep -E "^[0-9a-f]{12} +${prefix}s[a-d] " | sort; }
vic_ps >"$work/ps.before"
run cat "$work/ps.before"
expect_out "${prefix}sb .*:$eph->80/tcp" "docker vic ps shows ${prefix}sb's ephemeral port $eph"

# works LABEL: what users of the four containers see.
works() {
	run_until 20 in_ns "$VIC_OUTSIDE_NS" busybox wget -qO- "http://$VIC_PUBLIC_IP:8095/"
	expect_out 'hello from vic-busybox' "$1: -p 8095:80 of ${prefix}sa answers from outside"
	run_until 10 in_ns "$VIC_OUTSIDE_NS" busybox wget -qO- "http://$VIC_PUBLIC_IP:$eph/"
	expect_out 'hello from vic-busybox' "$1: the ephemeral port $eph of ${prefix}sb answers from outside"
	run_until 10 docker exec ${prefix}sa wget -qO- "http://${prefix}sb/"
	expect_out 'hello from vic-busybox' "$1: ${prefix}sa reaches ${prefix}sb by name on ${prefix}st"
	run_until 10 in_ns "$VIC_NET_CONSUMER_NS" busybox wget -qO- "http://$sc_ip:8081/"
	expect_out 'hello from vic-busybox' "$1: -p 8081:80 of ${prefix}sc answers at its own address $sc_ip"
	run_until 10 in_ns "$VIC_NET_CONTAINERS_NS" busybox wget -qO- "http://$sd_ip/"
	expect_out 'hello from vic-busybox' "$1: ${prefix}sd answers at its leased address $sd_ip"
}
works "before"

# lose HOW: stop vic-endpoint, lose its state database HOW (removed, emptied, truncated), and
# start it again.
lose() {
	local pid
	pid=$(cat "$VIC_TESTBED_DIR/endpoint.pid")
	kill "$pid"
	while [ -d "/proc/$pid" ]; do sleep 0.1; done
	case $1 in
	removed) rm -f "$state_db" ;;
	emptied) : >"$state_db" ;;
	truncated) truncate -s 8192 "$state_db" ;;
	esac
	bash scripts/testbed.sh restart-endpoint
}

for how in removed emptied truncated; do
	header "state.db $how while vic-endpoint is stopped"
	log_lines=$(wc -l <"$VIC_ENDPOINT_LOG")
	rm -f "$state_db".damaged-*
	run lose $how
	expect_ok "vic-endpoint stopped, state.db $how, vic-endpoint started again"
	run sh -c "tail -n +$((log_lines + 1)) '$VIC_ENDPOINT_LOG' | grep -E 'rebuilt the state from docker and the kernel|damaged|panic'"
	expect_out 'rebuilt the state from docker and the kernel' "the endpoint rebuilt its state from docker and the kernel"
	if grep -q panic "$out"; then fail "no panic" "no panic in the endpoint's log"; fi
	if [ $how = truncated ]; then
		expect_out "the state database is damaged: moved aside\" file=$state_db damage=\"it is truncated" \
			"the truncated state.db is named in one log line, with the damage"
		run sh -c "ls $state_db.damaged-*"
		expect_ok "the damaged state.db is kept aside as $(basename "$(cat "$out" 2>/dev/null)")"
	fi
	run sh -c "tail -n +$((log_lines + 1)) '$VIC_ENDPOINT_LOG' | grep -c 'removing a stale link' || true"
	expect_out '^0$' "no link was removed on the word of the lost state"
	vic_ps >"$work/ps.after"
	run diff "$work/ps.before" "$work/ps.after"
	expect_ok "docker vic ps shows what it showed before"
	works "state.db $how"
	run_until 20 sh -c "tail -n +$((log_lines + 1)) '$VIC_ENDPOINT_LOG' | grep -q 'renewing a DHCP lease held before the restart.*address=$sd_ip/'"
	expect_ok "the endpoint renews ${prefix}sd's DHCP lease of $sd_ip, found in Docker"
done
run test -s "$state_db.bak"
expect_ok "the rebuilt state is backed up as state.db.bak"

header "after the rebuild nothing in use is handed out again"
run docker run -d --net ${prefix}st --name ${prefix}se $image $web
expect_ok "docker run -d --net ${prefix}st ${prefix}se"
se_ip=$(cip ${prefix}se ${prefix}st)
expect_value "$se_ip" "[0-9.]+" "${prefix}se got $se_ip, not the address of ${prefix}sa ($sa_ip), ${prefix}sb ($sb_ip) or the gateway" "a new address"
case " $sa_ip $sb_ip ${subnet%.*/*}.1 " in *" $se_ip "*) fail "${prefix}se's address is new" "none of $sa_ip $sb_ip" ;; esac
run docker network create -d vic --ipam-driver vic ${prefix}st2
expect_ok "docker network create -d vic --ipam-driver vic ${prefix}st2"
subnet2=$(docker network inspect -f '{{(index .IPAM.Config 0).Subnet}}' ${prefix}st2 2>/dev/null || true)
if [ -n "$subnet2" ] && [ "$subnet2" != "$subnet" ]; then pass "${prefix}st2 got $subnet2, not $subnet of ${prefix}st"; else
	fail "${prefix}st2 gets a subnet of its own" "a subnet other than $subnet"
fi
run docker run -d --net consumer --name ${prefix}sf $image $web
expect_ok "docker run -d --net consumer ${prefix}sf"
sf_ip=$(cip ${prefix}sf consumer)
if [ -n "$sf_ip" ] && [ "$sf_ip" != "$sc_ip" ]; then pass "${prefix}sf got $sf_ip on consumer, not ${prefix}sc's $sc_ip"; else
	fail "${prefix}sf gets an address of its own on consumer" "an address other than $sc_ip"
fi

end_case ${prefix}sa ${prefix}sb ${prefix}sc ${prefix}sd ${prefix}se ${prefix}sf -- ${prefix}st ${prefix}st2
run docker network create -d vic --ipam-driver vic --subnet "$subnet" ${prefix}st3
expect_ok "the subnet $subnet of the removed network is free again: its rebuilt pool was released"
run docker network rm ${prefix}st3
rm -f "$state_db".damaged-*
