#!/usr/bin/env bash
# e2e-vch.sh: drive the real `docker vic` (the docker CLI running the installed plugin) against
# vcsim through a VCH's whole life: create, ls, inspect, configure, a second VCH that must not
# reuse the first one's bridge, contexts, several endpoint VMs (configure --endpoints, create
# --endpoints with an address each), rm. Every check counts; the last line says how many
# passed and failed, and the exit status is non-zero when any failed.
#
#   scripts/e2e-vch.sh            run everything, report every failed check
#   E2E_STOP=1 scripts/e2e-vch.sh stop at the first failed check
set -euo pipefail
# shellcheck source=scripts/lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source=scripts/checks.sh
. "$(dirname "$0")/checks.sh"
cd "$VIC_ROOT"

passed=0 failed=0 skipped=0
work=$(mktemp -d "${TMPDIR:-/tmp}/vic-e2e.XXXXXX")
cleanup() {
	stop_vcsim
	rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# --- checks -----------------------------------------------------------------------------------

# The last command's output, error output and status, as vic and run leave them.
out=$work/out err=$work/err
RUN_TIMEOUT=180

# vic ARGS...: run `docker vic ARGS`.
vic() { run docker vic "$@"; }

expect_ok() { if [ "$status" -eq 0 ]; then pass "$1 succeeds"; else fail "$1 succeeds" "exit status 0"; fi; }
expect_fail() { if [ "$status" -ne 0 ]; then pass "$1 fails"; else fail "$1 fails" "a non-zero exit status"; fi; }

# expect_out REGEX [WHAT]: stdout matches the extended REGEX.
expect_out() {
	if grep -Eq -- "$1" "$out"; then pass "${2:-stdout shows $1}"; else fail "${2:-stdout shows $1}" "stdout matching /$1/"; fi
}
# expect_no_out REGEX [WHAT]: no stdout line matches REGEX.
expect_no_out() {
	if ! grep -Eq -- "$1" "$out"; then pass "${2:-stdout has no $1}"; else fail "${2:-stdout has no $1}" "no stdout line matching /$1/"; fi
}
# expect_err REGEX [WHAT]: stderr matches REGEX, case-insensitively.
expect_err() {
	if grep -Eiq -- "$1" "$err"; then pass "${2:-stderr says $1}"; else fail "${2:-stderr says $1}" "stderr matching /$1/"; fi
}
# expect_no_err STRING [WHAT]: stderr does not contain STRING.
expect_no_err() {
	if ! grep -Fq -- "$1" "$err"; then pass "$2"; else fail "$2" "stderr without $1"; fi
}
# expect_json KEY VALUE: stdout is JSON holding KEY (any depth, any case) with VALUE.
expect_json() {
	local rc=0
	"$work/jsonhas" "$out" "$1" "$2" || rc=$?
	case $rc in
	0) pass "json has $1 = $2" ;;
	2) fail "json has $1 = $2" "valid JSON on stdout" ;;
	*) fail "json has $1 = $2" "a key $1 with value $2 in the JSON" ;;
	esac
}
# expect_path PATH EXISTS|ABSENT
expect_path() {
	if [ "$2" = EXISTS ] && [ -e "$1" ]; then
		pass "$1 exists"
	elif [ "$2" = ABSENT ] && [ ! -e "$1" ]; then
		pass "$1 does not exist"
	else
		fail "$1 ${2,,}" "$1 ${2,,}"
	fi
}

finish() {
	trap - EXIT
	cleanup
	summarize e2e-vch
}

# build_jsonhas: a tiny JSON checker, because a fresh Debian machine has Go but no jq or python.
build_jsonhas() {
	mkdir -p "$work/jsonhas.src"
	cat >"$work/jsonhas.src/main.go" <<'EOF'
// jsonhas FILE KEY VALUE: exit 0 when FILE is JSON holding KEY (any depth, any case) with a
// value that prints as VALUE, 1 when it does not, 2 when FILE is not JSON.
package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
)

func has(v any, key, want string) bool {
	switch v := v.(type) {
	case map[string]any:
		for k, x := range v {
			if strings.EqualFold(k, key) && fmt.Sprint(x) == want {
				return true
			}
			if has(x, key, want) {
				return true
			}
		}
	case []any:
		for _, x := range v {
			if has(x, key, want) {
				return true
			}
		}
	}
	return false
}

func main() {
	f, err := os.Open(os.Args[1])
	if err != nil {
		fmt.Fprintln(os.Stderr, "jsonhas:", err)
		os.Exit(2)
	}
	// One document, or one per line as docker's --format json prints lists.
	dec, found, docs := json.NewDecoder(f), false, 0
	for {
		var v any
		if err := dec.Decode(&v); err == io.EOF {
			break
		} else if err != nil {
			fmt.Fprintln(os.Stderr, "jsonhas:", err)
			os.Exit(2)
		}
		docs++
		found = found || has(v, os.Args[2], os.Args[3])
	}
	if docs == 0 {
		fmt.Fprintln(os.Stderr, "jsonhas: no JSON")
		os.Exit(2)
	}
	if !found {
		os.Exit(1)
	}
}
EOF
	(cd "$work/jsonhas.src" && GOFLAGS='' go build -o "$work/jsonhas" main.go)
}

# --- the run ----------------------------------------------------------------------------------

header "build and start vcsim"
run make --no-print-directory build
expect_ok "make build"
[ "$status" -eq 0 ] || finish
build_jsonhas
start_vcsim "$work"
say "vcsim serves $(printf '%s' "$VIC_TARGET" | sed 's|//[^@]*@|//|') with port groups ${VIC_PORTGROUPS[*]}"
unset GOVC_URL GOVC_USERNAME GOVC_PASSWORD GOVC_INSECURE GOVC_DATACENTER DOCKER_HOST DOCKER_CONTEXT
export DOCKER_CONFIG=$work/docker
password=$(printf '%s' "$VIC_TARGET" | sed -E 's|^https://[^:]+:([^@]+)@.*|\1|')

header "install the plugin into a fresh DOCKER_CONFIG"
run make --no-print-directory install DOCKER_CONFIG="$DOCKER_CONFIG"
expect_ok "make install"
expect_path "$DOCKER_CONFIG/cli-plugins/docker-vic" EXISTS
run docker --help
expect_out '^  vic\*? ' "docker --help lists the vic plugin"
vic version
expect_ok "docker vic version"

header "connection: the simulator's self-signed certificate"
run env -u VIC_THUMBPRINT docker vic ls
expect_fail "ls without a thumbprint"
expect_err "$VIC_THUMBPRINT" "the refusal shows the server's thumbprint"
run env -u VIC_THUMBPRINT GOVC_INSECURE=1 docker vic ls
expect_ok "ls with GOVC_INSECURE=1"
run env -u VIC_TARGET GOVC_URL="$VIC_TARGET" docker vic ls
expect_ok "ls with GOVC_URL instead of VIC_TARGET"
run docker vic ls --target "${VIC_TARGET/:$password@/:not-the-password@}"
expect_fail "ls with a wrong password in --target"
expect_no_err "not-the-password" "the error does not print the password given"
expect_no_err ":$password@" "the error does not print the target's password"

header "create vch1: the five networks of the VIC documents"
# The simulator boots no VM: the endpoint VMs here boot nothing (--appliance-iso none), even
# when `make install` installed an appliance image.
vic create --name vch1 --compute-resource /DC0/host/DC0_C0 --appliance-iso none \
	--public-network Docker-Public --public-network-ip 198.51.100.10/24 --public-network-gateway 198.51.100.1 \
	--bridge-network VIC-Bridge --bridge-network-range 172.16.0.0/12 \
	--management-network VIC-Management \
	--container-network External-Consumer:consumer \
	--container-network-gateway External-Consumer:203.0.113.1/24 \
	--container-network-ip-range External-Consumer:203.0.113.16/28 \
	--container-network-dns External-Consumer:203.0.113.2 \
	--container-network-firewall External-Consumer:published \
	--container-network VIC-Container-Network:containers \
	--dns-server 198.51.100.2 --timeout 2m
expect_ok "create vch1"
expect_out 'tcp://198\.51\.100\.10:2376' "create prints the Docker endpoint on the public address"
expect_path "$DOCKER_CONFIG/vic/vch1" EXISTS

header "ls"
vic ls
expect_ok "ls"
expect_out '^ID +NAME +PATH +PUBLIC +ENDPOINTS +CONTAINERS +STATUS' "ls prints the table header"
expect_out '^[^ ]+ +vch1 ' "ls lists vch1"
vic ls -q
expect_ok "ls -q"
expect_no_out ' ' "ls -q prints bare IDs"
vic ls --format json
expect_json name vch1

header "inspect vch1: roles, port groups and container networks"
vic inspect vch1
expect_ok "inspect vch1"
for word in Docker-Public VIC-Bridge VIC-Management External-Consumer consumer VIC-Container-Network containers \
	198.51.100.10 203.0.113.1 published 172.16.0.0/12; do
	expect_out "$word" "inspect shows $word"
done
if grep -Eiq 'dhcp' "$out"; then pass "inspect shows containers as a DHCP network"; else fail "inspect shows DHCP" "the word DHCP"; fi

vic inspect vch1 --format json
expect_ok "inspect --format json"
expect_json name vch1
expect_json portGroup VIC-Bridge
expect_json alias consumer
expect_json alias containers
expect_json firewall published

vic inspect vch1 --format create-flags
expect_ok "inspect --format create-flags"
for flag in '--name vch1' '--public-network Docker-Public' '--public-network-ip 198.51.100.10/24' \
	'--bridge-network VIC-Bridge' '--management-network VIC-Management' \
	'--container-network External-Consumer:consumer' \
	'--container-network-gateway External-Consumer:203.0.113.1/24' \
	'--container-network-ip-range External-Consumer:203.0.113.16-203.0.113.31' \
	'--container-network-dns External-Consumer:203.0.113.2' \
	'--container-network VIC-Container-Network:containers' '--dns-server 198.51.100.2'; do
	expect_out "(^| )$flag( |$)" "create-flags has $flag"
done
expect_no_out 'password|pass@' "create-flags holds no credential"

header "configure vch1: firewall level, a second range, one more container network"
vic configure vch1 --container-network-firewall External-Consumer:peers \
	--container-network-ip-range External-Consumer:203.0.113.16/28 \
	--container-network-ip-range External-Consumer:203.0.113.64-203.0.113.79 \
	--container-network VIC-Container-Network-2:containers2
expect_ok "configure vch1"
vic inspect vch1 --format create-flags
expect_out '--container-network-firewall External-Consumer:peers' "the firewall level is now peers"
expect_out '--container-network-ip-range External-Consumer:203\.0\.113\.16-203\.0\.113\.31' "the first range stays"
expect_out '--container-network-ip-range External-Consumer:203\.0\.113\.64-203\.0\.113\.79' "the new range is there"
expect_out '--container-network VIC-Container-Network-2:containers2' "the new container network is there"

vic configure vch1 --container-network-firewall External-Consumer:wide-open
expect_fail "configure with an unknown firewall level"
expect_err 'container-network-firewall' "the error names the flag"
vic configure vch1 --container-network DC0_DVPG0:plain
expect_fail "configure with a port group that drops other MACs"
expect_err 'DC0_DVPG0' "the error names the port group"
expect_err 'forged|promiscuous|mac learning' "the error names the blocking setting"
vic inspect vch1 --format create-flags
expect_no_out 'DC0_DVPG0|wide-open' "failed configures changed nothing"

header "vch2 may not share vch1's bridge port group"
vic create --name vch2 --compute-resource /DC0/host/DC0_C0 --appliance-iso none --public-network Docker-Public --bridge-network VIC-Bridge
expect_fail "create vch2 on VIC-Bridge"
expect_err 'bridge' "the error is about the bridge port group"
expect_err 'VIC-Bridge' "the error names VIC-Bridge"
vic ls
expect_no_out 'vch2' "ls shows no vch2"
expect_out '^[^ ]+ +vch1 ' "ls still shows vch1"
expect_path "$DOCKER_CONFIG/vic/vch2" ABSENT

header "vch2 on its own bridge, VIC-Bridge-2"
vic create --name vch2 --compute-resource /DC0/host/DC0_C0 --appliance-iso none --public-network Docker-Public --bridge-network VIC-Bridge-2
expect_ok "create vch2 on VIC-Bridge-2"
vic ls
expect_out '^[^ ]+ +vch1 ' "ls shows vch1"
expect_out '^[^ ]+ +vch2 ' "ls shows vch2"

header "vch2 scales to two endpoint VMs, kept on the cluster's two hosts"
vic configure vch2 --endpoints 2
expect_ok "configure vch2 --endpoints 2"
vic ls --format '{{.Name}} {{.Endpoints}}'
expect_out '^vch2 2$' "ls counts two endpoints of vch2"
vic inspect vch2
expect_out '^  2 +vch2-2 +vm-[0-9]+ +[^ ]+ +Running' "inspect lists endpoint VM vch2-2, running"
expect_out 'Anti-affinity rule: "vch2-endpoints" in cluster "DC0_C0" \(not mandatory\): "vch2", "vch2-2"' "inspect shows the anti-affinity rule naming both"
expect_out '^Networks of endpoint 2 \(vch2-2\):' "inspect shows the NICs of endpoint 2"
vic inspect vch2 --format json
expect_json name vch2-2
vic configure vch2 --endpoints 3
expect_fail "configure vch2 --endpoints 3 on a cluster of two hosts"
expect_err 'invalid --endpoints "3": .*2 usable hosts' "the refusal names the count of usable hosts"
vic ls --format '{{.Name}} {{.Endpoints}}'
expect_out '^vch2 2$' "the refused configure left two endpoints"
vic configure vch2 --endpoints 1
expect_ok "configure vch2 --endpoints 1"
vic inspect vch2
expect_no_out 'vch2-2|Anti-affinity' "endpoint VM vch2-2 and the rule are gone"

header "docker contexts"
run docker context ls
expect_out '^vch1 ' "docker context ls shows vch1"
run docker context inspect vch1 --format '{{.Endpoints.docker.Host}}'
expect_out '^tcp://198\.51\.100\.10:2376$' "the vch1 context points at the public address"

header "rm vch1 vch2"
vic rm vch1 vch2
expect_ok "rm vch1 vch2"
vic ls
expect_ok "ls after rm"
expect_no_out 'vch[12]' "ls shows no VCH"
vic rm vch1
expect_fail "rm of a VCH that is gone"
expect_err 'vch1' "the error names vch1"

header "create vch3 of two endpoints, each with its own public address"
vic create --name vch3 --compute-resource /DC0/host/DC0_C0 --appliance-iso none --no-context --endpoints 2 \
	--public-network Docker-Public --public-network-ip 198.51.100.20/24 --public-network-gateway 198.51.100.1 --bridge-network VIC-Bridge
expect_fail "create vch3 --endpoints 2 with one static address"
expect_err 'invalid --public-network-ip "198\.51\.100\.20/24": a VCH of 2 endpoints needs 2 static public addresses' "the refusal says one address per endpoint"
vic create --name vch3 --compute-resource /DC0/host/DC0_C0 --appliance-iso none --no-context --endpoints 2 \
	--public-network Docker-Public --public-network-ip 198.51.100.20/24,198.51.100.21/24 --public-network-gateway 198.51.100.1 \
	--bridge-network VIC-Bridge
expect_ok "create vch3 --endpoints 2"
vic inspect vch3
expect_out '^  1 +vch3 +vm-[0-9]+ +[^ ]+ +Running +198\.51\.100\.20$' "endpoint 1 has the first public address"
expect_out '^  2 +vch3-2 +vm-[0-9]+ +[^ ]+ +Running +198\.51\.100\.21$' "endpoint 2 has the second public address"
if [ "$(grep -E '^  [12] +vch3' "$out" | awk '{print $4}' | sort -u | wc -l)" -eq 2 ]; then
	pass "the two endpoint VMs run on different hosts"
else
	fail "the two endpoint VMs run on different hosts" "two different HOST values"
fi
vic inspect vch3 --format create-flags
expect_out '--endpoints 2 ' "create-flags has --endpoints 2"
expect_out '--public-network-ip 198\.51\.100\.20/24,198\.51\.100\.21/24 ' "create-flags lists both addresses"
vic rm vch3
expect_ok "rm vch3"
vic ls
expect_no_out 'vch3' "ls shows no vch3"

finish
