# shellcheck shell=bash disable=SC2086,SC2154 # e2e-endpoint.sh sets prefix, image, out... (no blanks)
# vCenter down (SPEC §7): containers start and stop while vcsim is stopped (SIGSTOP), and
# vSphere matches Docker exactly once it runs again (SIGCONT); vic-endpoint restarted while
# vCenter is stopped serves the configuration it stored and containers start; drift made in
# vSphere while the endpoint was dead (an extra container VM, a missing one, a card with a wrong
# MAC) is put right when it starts again.

vcsim_pid=$(cat "$VIC_TESTBED_DIR/vcsim.pid")
# Whatever ends this use case, vcsim runs again: the next ones and testbed down need it.
resume_vcsim() { kill -CONT "$vcsim_pid" 2>/dev/null || true; }
if trap -p EXIT | grep -q .; then
	eval "$(trap -p EXIT | sed "s/^trap -- '/trap -- 'resume_vcsim; /")"
else
	trap resume_vcsim EXIT
fi

# docker_view: what vSphere should show, one line per container on a vic network: its ID, and
# poweredOn with the MACs of its vic interfaces when it runs, poweredOff otherwise (a stopped
# container's VM keeps the cards it had).
docker_view() {
	local nets ids
	nets=$(docker network ls -q --no-trunc --filter driver=vic | jq -R . | jq -s -c .)
	ids=$(docker ps -aq --no-trunc)
	[ -n "$ids" ] || return 0
	docker inspect $ids | jq -r --argjson nets "$nets" '.[] | . as $c
		| [ ($c.NetworkSettings.Networks // {}) | to_entries[] | select(.value.NetworkID as $n | $nets | index($n)) | .value.MacAddress ]
		| select(length > 0)
		| if $c.State.Running then "\($c.Id) poweredOn \(sort | join(","))" else "\($c.Id) poweredOff -" end' | sort
}

# vm_view: what vSphere shows, in the same form (docker vic containers).
vm_view() {
	docker vic containers "$VIC_VCH" --format json | jq -r '"\(.ContainerID) \(.State) "
		+ (if .State == "poweredOn" then (.NICs | split(",") | map(split("=")[1]) | sort | join(",")) else "-" end)' | sort
}

# vsphere_matches_docker SECONDS: vSphere shows exactly the containers' VMs within SECONDS;
# else the difference (< Docker, > vSphere).
vsphere_matches_docker() {
	local end=$((SECONDS + $1))
	while :; do
		docker_view >"$work/vc-want" && vm_view >"$work/vc-have" && cmp -s "$work/vc-want" "$work/vc-have" && {
			echo "$(wc -l <"$work/vc-want") container VMs match the containers"
			return 0
		}
		if [ "$SECONDS" -ge "$end" ]; then
			diff "$work/vc-want" "$work/vc-have"
			return 1
		fi
		sleep 2
	done
}

# logged_since LINES REGEX: the endpoint's log after its first LINES lines matches REGEX.
logged_since() { tail -n +$(($1 + 1)) "$VIC_ENDPOINT_LOG" | grep -E "$2"; }

# vm_of NAME: the name of container NAME's VM.
vm_of() { echo "$1-$(docker inspect -f '{{.Id}}' "$1" | cut -c1-12)"; }

header "vCenter stopped (SIGSTOP) while 10 containers start and 5 stop"
run docker network create -d vic --ipam-driver vic ${prefix}vcdown
expect_ok "docker network create -d vic --ipam-driver vic ${prefix}vcdown"
run vsphere_matches_docker 60
expect_ok "before: vSphere matches Docker"
log_lines=$(wc -l <"$VIC_ENDPOINT_LOG")
run kill -STOP "$vcsim_pid"
expect_ok "kill -STOP vcsim (pid $vcsim_pid): vCenter takes connections and answers nothing"
started=0
for i in $(seq 1 10); do
	net=${prefix}vcdown
	[ "$i" -le 8 ] || net=consumer
	RUN_TIMEOUT=60 run docker run -d --net $net --name ${prefix}vc$i $image sleep 3600
	[ "$status" -ne 0 ] || started=$((started + 1))
done
expect_value "$started" 10 "10 containers start while vCenter is stopped (8 on a bridge network, 2 on consumer)" "10 started"
stopped=0
for i in $(seq 1 5); do
	RUN_TIMEOUT=60 run docker stop -t 1 ${prefix}vc$i
	[ "$status" -ne 0 ] || stopped=$((stopped + 1))
done
expect_value "$stopped" 5 "5 of them stop while vCenter is stopped" "5 stopped"
run_until 45 logged_since "$log_lines" 'level=WARN msg="container VMs are behind: vSphere has not answered for 20s.*changes=[1-9]'
expect_ok "the endpoint warns that vSphere does not answer and how many container changes wait"
run_until 30 logged_since "$log_lines" 'level=WARN msg="(vSphere has not answered the reading of the VCH configuration yet: the configuration served may be stale|following the VCH configuration in vSphere broke off: still serving the configuration read earlier, which may be stale).*revision=[0-9]+'
expect_ok "the endpoint warns that the configuration it serves may be stale, and which revision it is"
run kill -CONT "$vcsim_pid"
expect_ok "kill -CONT vcsim: vCenter answers again"
run vsphere_matches_docker 90
expect_ok "afterwards vSphere matches Docker exactly: one VM per container, its power state and MACs"
run_until 30 logged_since "$log_lines" 'level=INFO msg="container VMs caught up'
expect_ok "the endpoint says the container VMs caught up"

header "vic-endpoint killed and restarted while vCenter is stopped"
log_lines=$(wc -l <"$VIC_ENDPOINT_LOG")
run kill -STOP "$vcsim_pid"
expect_ok "kill -STOP vcsim"
run bash scripts/testbed.sh restart-endpoint
expect_ok "kill -9 of vic-endpoint; the new one serves its socket without vCenter"
run logged_since "$log_lines" 'level=WARN msg="vSphere does not answer at start: serving the configuration stored earlier, which may be stale.*revision=[0-9]+'
expect_ok "it serves the configuration it stored, and says at warning level which revision and that it may be stale"
run docker run -d --net ${prefix}vcdown --name ${prefix}vcb $image sleep 3600
expect_ok "docker run --net ${prefix}vcdown starts a container"
run docker run -d --net consumer --name ${prefix}vcc $image sleep 3600
expect_ok "docker run --net consumer starts a container on the container network"
vcc_ip=$(cip ${prefix}vcc consumer)
expect_value "$vcc_ip" '203\.0\.113\.(1[45][0-9]|160)' "${prefix}vcc has an address of consumer's range: $vcc_ip" "an address in 203.0.113.140-160"
run kill -CONT "$vcsim_pid"
expect_ok "kill -CONT vcsim"
run_until 60 logged_since "$log_lines" 'level=INFO msg="vSphere answers again: the configuration served is current"'
expect_ok "the endpoint catches up with vSphere once it answers"
run vsphere_matches_docker 90
expect_ok "vSphere matches Docker exactly, the containers started meanwhile included"

header "drift made in vSphere while vic-endpoint is dead"
run go build -o bin/vic-drift ./scripts/vic-drift
expect_ok "go build ./scripts/vic-drift"
drift_vm=$(vm_of ${prefix}vc6)
gone_vm=$(vm_of ${prefix}vc7)
run kill -9 "$(cat "$VIC_TESTBED_DIR/endpoint.pid")"
expect_ok "kill -9 vic-endpoint"
run bin/vic-drift extra "$drift_vm"
expect_ok "vSphere: an extra container VM $drift_vm-extra, for no container"
run bin/vic-drift remove "$gone_vm"
expect_ok "vSphere: container VM $gone_vm destroyed"
run bin/vic-drift mac "$drift_vm" 00:50:56:3f:00:99
expect_ok "vSphere: the card of $drift_vm gets the wrong MAC 00:50:56:3f:00:99"
run vsphere_matches_docker 0
expect_fail "vSphere no longer matches Docker"
run bash scripts/testbed.sh restart-endpoint
expect_ok "vic-endpoint starts again"
run vsphere_matches_docker 90
expect_ok "the drift is put right: no extra VM, the missing one back, the right MAC"

end_case ${prefix}vc{1..10} ${prefix}vcb ${prefix}vcc -- ${prefix}vcdown
run_until 60 sh -c "! docker vic containers $VIC_VCH | grep -E '^${prefix}vc'"
expect_ok "vSphere: the container VMs go with their containers"
