#!/usr/bin/env bash
# e2e-appliance.sh: a VCH that boots, end to end. On the testbed's appliance mode (vcsim as a
# vCenter on the management wire, its VMs booted under qemu by the harness: scripts/testbed.sh
# up --appliance), `docker vic create` uploads bin/appliance.iso and boots the endpoint VM with
# static public, client and management addresses and the testbed's container networks. Then, as
# a user on the client network (the clientside namespace) would:
#   - docker --context VCH info, over TLS, and docker -H tcp://CLIENT:2376 --tlsverify;
#   - an image loaded offline (docker save of scripts/image.sh's vic-busybox:test, docker load);
#   - a vic network, and docker run -d -p 8080:80 reached from the outside machine at the public
#     address; a container on the container network consumer reached from its port group;
#     their container VMs in vSphere (docker vic containers);
#   - a client certificate of another CA, and none at all, refused;
#   - the Docker API's private key and the vSphere password nowhere in the VM's extraConfig,
#     nor in the datastore's files (the key lives on the VCH's data disk, like any Docker host's);
#   - docker vic rm: qemu stops, and nothing is left (datastore folder, context, TLS files);
#   - then a VCH of two endpoints, one swarm (scripts/e2e/appliance/swarm.sh).
# The last line says how many checks passed and failed; the exit status is non-zero when any
# failed.
#
#   scripts/e2e-appliance.sh              (make e2e-appliance builds bin/appliance.iso first)
#   VIC_APPLIANCE_ISO=FILE                boot FILE instead of bin/appliance.iso
#   E2E_STOP=1 scripts/e2e-appliance.sh   stop at the first failed check
#   E2E_KEEP=1 scripts/e2e-appliance.sh   leave the VCH and the testbed up at the end
set -euo pipefail
# shellcheck source=scripts/lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source=scripts/checks.sh
. "$(dirname "$0")/checks.sh"
# shellcheck source=scripts/e2e/endpoint/expect.sh
. "$(dirname "$0")/e2e/endpoint/expect.sh"
cd "$VIC_ROOT"

[ "$(id -u)" -eq 0 ] || die "e2e-appliance.sh needs root (the testbed makes namespaces, links and VMs)"
iso=${VIC_APPLIANCE_ISO:-$VIC_ROOT/bin/appliance.iso}
[ -f "$iso" ] || die "$iso is missing: run make appliance"
mkdir -p bin
go build -o bin/vic-vmconfig ./scripts/vic-vmconfig || die "building bin/vic-vmconfig failed"

passed=0 failed=0 skipped=0
work=$(mktemp -d "${TMPDIR:-/tmp}/vic-e2e-appliance.XXXXXX")
out=$work/out err=$work/err
vch=vic-e2e-vch
prefix=vic-e2e-
image=vic-busybox:test
testbed_up=0 vch_made=0 sw_made=0
export VIC_TESTBED_OWNER=$$

cleanup() {
	if [ "$testbed_up" -eq 0 ]; then
		:
	elif [ -z "${E2E_KEEP:-}" ]; then
		if [ "$vch_made" -eq 1 ]; then
			timeout 120 ip netns exec "$VIC_CLIENTSIDE_NS" docker vic rm --force "$vch" >/dev/null 2>&1 || true
		fi
		if [ "$sw_made" -eq 1 ]; then
			timeout 120 ip netns exec "$VIC_CLIENTSIDE_NS" docker vic rm --force "$sw" >/dev/null 2>&1 || true
		fi
		bash scripts/testbed.sh down 2>&1 | sed 's/^/    /' || true
	else
		say "E2E_KEEP is set: VCH $vch and the testbed stay up (docker vic rm $vch; scripts/testbed.sh down)"
	fi
	rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

finish() {
	trap - EXIT
	cleanup
	summarize e2e-appliance
}

# client CMD...: CMD on the client machine (the clientside namespace: the client and the
# management networks), bounded by RUN_TIMEOUT.
client() { timeout "${RUN_TIMEOUT:-120}" ip netns exec "$VIC_CLIENTSIDE_NS" "$@"; }
# vdocker ARGS...: the docker CLI of a user on the client network, with the VCH's context.
vdocker() { client docker --context "$vch" "$@"; }
# vcip NAME NETWORK: a container's address on NETWORK, as the VCH's Docker reports it.
vcip() { vdocker inspect -f "{{(index .NetworkSettings.Networks \"$2\").IPAddress}}" "$1" 2>/dev/null; }
# qemu_pids_of NAME: the pids of the qemus that run endpoint VMs of VCH NAME, one a line: their
# CD is in the VCH's datastore folder.
qemu_pids_of() {
	local f pid
	for f in "$VIC_TESTBED_DIR"/vms/*/qemu.pid; do
		[ -f "$f" ] || continue
		pid=$(cat "$f")
		if [ -r "/proc/$pid/cmdline" ] && tr '\0' ' ' <"/proc/$pid/cmdline" | grep -q "/$1/"; then
			echo "$pid"
		fi
	done
}
# qemu_pid: the pid of the qemu that runs the endpoint VM of $vch, or nothing.
qemu_pid() { qemu_pids_of "$vch" | head -n 1; }
# qemu_accel: the accelerator the endpoint VM's qemu runs with (tcg, kvm).
qemu_accel() {
	local pid
	pid=$(qemu_pid)
	[ -n "$pid" ] || return 0
	tr '\0' '\n' <"/proc/$pid/cmdline" | grep -A1 -x -- -accel | tail -n 1 | cut -d, -f1
}

header "testbed up, appliance mode"
say "\$ eval \"\$(scripts/testbed.sh up --appliance)\""
if ! bash scripts/testbed.sh up --appliance 2>&1 >"$work/env" | tee "$work/up.err" | sed 's/^/    /'; then
	: >"$out"
	cp "$work/up.err" "$err"
	status=1
	fail "testbed up --appliance" "the testbed to come up"
	finish
fi
testbed_up=1
# shellcheck disable=SC1091
. "$work/env"
pass "testbed up: vcsim as a vCenter at $VIC_VCENTER_IP, the harness boots its VMs"
export DOCKER_CONFIG=$VIC_DOCKER_CONFIG
unset DOCKER_HOST DOCKER_CONTEXT
certs=$DOCKER_CONFIG/vic/$vch
password=${VIC_TARGET#*://}
password=${password%%@*}
password=${password#*:}

header "docker vic create boots the appliance"
args=(--name "$vch" --compute-resource /DC0/host/DC0_C0 --appliance-iso "$iso" --timeout 5m
	--public-network Docker-Public --public-network-ip "$VIC_PUBLIC_CIDR" --public-network-gateway "$VIC_PUBLIC_GATEWAY"
	--bridge-network VIC-Bridge
	--client-network VIC-Client --client-network-ip "$VIC_CLIENT_CIDR"
	--management-network VIC-Management --management-network-ip "$VIC_MANAGEMENT_CIDR"
	--container-network External-Consumer:consumer --container-network-firewall External-Consumer:published
	--container-network-gateway External-Consumer:203.0.113.129/26
	--container-network-ip-range External-Consumer:203.0.113.140-203.0.113.160)
start=$SECONDS
vch_made=1
RUN_TIMEOUT=330 run client docker vic create "${args[@]}"
create_secs=$((SECONDS - start))
accel=$(qemu_accel)
expect_ok "docker vic create $vch from the client machine, in $create_secs s (qemu ${accel:-not running})"
expect_lines "create's progress" "uploading .*appliance.iso" "powering on endpoint VM" "the appliance booted" "certificate signed for" \
	"Docker API answering over TLS at tcp://$VIC_CLIENT_IP:2376" "vic drivers serving" "Docker context \"$vch\" created"
if [ "$status" -ne 0 ]; then
	say "    the harness's last lines:"
	tail -n 20 "$VIC_HARNESS_LOG" | sed 's/^/      /'
	finish
fi
run sh -c "test -n \"\$(cat /proc/$(qemu_pid)/cmdline)\""
expect_ok "the endpoint VM runs under qemu (pid $(qemu_pid))"

header "the Docker API over TLS, from the client network"
run vdocker info --format '{{.Name}} {{.ServerVersion}} {{.OperatingSystem}}'
expect_out '[0-9]+\.[0-9]+' "docker --context $vch info"
run client docker -H "tcp://$VIC_CLIENT_IP:2376" --tlsverify --tlscacert "$certs/ca.pem" \
	--tlscert "$certs/cert.pem" --tlskey "$certs/key.pem" version --format '{{.Server.Version}}'
expect_out '[0-9]+\.[0-9]+' "docker -H tcp://$VIC_CLIENT_IP:2376 --tlsverify with the VCH's certificates"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 -subj /CN=intruder \
	-keyout "$work/bad-key.pem" -out "$work/bad-cert.pem" 2>/dev/null
run client docker -H "tcp://$VIC_CLIENT_IP:2376" --tlsverify --tlscacert "$certs/ca.pem" \
	--tlscert "$work/bad-cert.pem" --tlskey "$work/bad-key.pem" info
expect_fail "a client certificate of another CA is refused"
run client curl -sS --max-time 10 --cacert "$certs/ca.pem" "https://$VIC_CLIENT_IP:2376/info"
expect_fail "no client certificate at all is refused"

header "containers on the VCH"
run bash scripts/image.sh
expect_ok "scripts/image.sh builds or finds $image on this machine"
run sh -c "docker save $image | timeout 120 ip netns exec $VIC_CLIENTSIDE_NS docker --context $vch load"
expect_out "$image" "docker save $image | docker --context $vch load: an image without a registry"
run vdocker network create -d vic --ipam-driver vic ${prefix}web
expect_ok "docker network create -d vic ${prefix}web"
run vdocker run -d --net ${prefix}web -p 8080:80 --name ${prefix}web $image httpd -f -p 80 -h /www
expect_ok "docker run -d --net ${prefix}web -p 8080:80 ${prefix}web"
run_until 30 in_ns "$VIC_OUTSIDE_NS" busybox wget -qO- "http://$VIC_PUBLIC_IP:8080/"
expect_out 'hello from vic-busybox' "the outside machine reaches ${prefix}web at the VCH's public address $VIC_PUBLIC_IP:8080"
run vdocker network inspect -f '{{.Driver}}' consumer
expect_out '^vic$' "the VCH's Docker has the container network consumer (port group External-Consumer)"
run vdocker run -d --net consumer -p 80:80 --name ${prefix}ext $image httpd -f -p 80 -h /www
expect_ok "docker run -d --net consumer -p 80:80 ${prefix}ext"
ext_ip=$(vcip ${prefix}ext consumer || true)
expect_value "$ext_ip" '203\.0\.113\.(1[45][0-9]|160)' "${prefix}ext has an address of the consumer range: $ext_ip" \
	"an address in 203.0.113.140-203.0.113.160"
run_until 30 in_ns "$VIC_NET_CONSUMER_NS" busybox wget -qO- "http://$ext_ip/"
expect_out 'hello from vic-busybox' "the machine on External-Consumer reaches ${prefix}ext at its own address"
for c in web ext; do
	id=$(vdocker inspect -f '{{.Id}}' ${prefix}$c 2>/dev/null | cut -c1-12 || true)
	run_until 30 sh -c "docker vic containers $vch | grep -E '^${prefix}$c-$id +[0-9a-f]{12} +poweredOn'"
	expect_ok "vSphere: container VM ${prefix}$c-$id is powered on"
done

header "no secret in vSphere"
run vdocker run --rm -v /var/lib/vic-data/tls:/tls:ro $image cat /tls/server-key.pem
expect_out 'PRIVATE KEY' "the Docker API's private key is on the VCH's data disk (/var/lib/vic-data/tls)"
# 40 characters of the key's body past its DER header (the private number), and the password.
# (Not the PEM header: the guest's binaries on the ISO hold "PRIVATE KEY" as a string.)
grep -v -- '-----' "$out" | tr -d '\n' >"$work/key.b64"
key_part=$(cut -c10-49 "$work/key.b64")
run bin/vic-vmconfig extraconfig "$vch"
cp "$out" "$work/extraconfig"
expect_out 'guestinfo\.vic\.tls\.csr=' "vic-vmconfig extraconfig $vch reads the VM's extraConfig"
run sh -c "grep -cF -e '$key_part' -e 'PRIVATE KEY' -e '$password' $work/extraconfig"
expect_fail "neither the private key nor the vSphere password is in the VM's extraConfig"
run bin/vic-vmconfig files "$vch"
folder=$(cat "$out")
expect_ok "the VCH's datastore folder is $folder"
run sh -c "ls -1 '$folder'"
data_disk=$(grep -E -- '-data(-flat)?\.vmdk$' "$out" | grep -- '-flat' || grep -E -- '-data\.vmdk$' "$out" || true)
run sh -c "cd '$folder' && grep -lrF -e '$key_part' --exclude='${data_disk:-none}' . ; true"
expect_value "$(cat "$out")" "" "the private key is in no file of [datastore] $vch/ but the data disk ${data_disk:-?}" "no file"
run sh -c "cd '$folder' && grep -lrF -e '$password' . ; true"
expect_value "$(cat "$out")" "" "the vSphere password is in no file of [datastore] $vch/, the data disk included" "no file"

header "docker vic rm"
pid=$(qemu_pid)
run client docker vic rm --force "$vch"
expect_ok "docker vic rm --force $vch"
vch_made=0
run_until 30 sh -c "! kill -0 $pid 2>/dev/null"
expect_ok "the endpoint VM's qemu (pid $pid) is gone"
run sh -c "! test -e '$folder'"
expect_ok "the datastore folder [datastore] $vch is gone"
run docker context inspect "$vch"
expect_fail "the Docker context $vch is gone"
run test -e "$certs"
expect_fail "the TLS files in $certs are gone"
run client docker vic ls
if [ "$status" -eq 0 ] && ! grep -q "$vch" "$out"; then pass "docker vic ls no longer lists $vch"; else fail "docker vic ls no longer lists $vch" "no $vch line"; fi

# shellcheck source=scripts/e2e/appliance/swarm.sh
. scripts/e2e/appliance/swarm.sh

finish
