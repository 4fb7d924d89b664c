#!/usr/bin/env bash
# testbed.sh: a whole VCH on this one machine, for tests and the demo (SPEC.md §9). The work is
# done by the Go command in scripts/testbed/ (bin/vic-testbed), which this script builds when
# its sources changed (go build's cache makes that cheap) and runs.
#
#   eval "$(scripts/testbed.sh up)"     build, start vcsim, create VCH vch-testbed, wire it, start
#                                       vic-endpoint; print the export lines below
#   eval "$(scripts/testbed.sh up --appliance)"
#                                       the appliance mode: vcsim as a vCenter on the management
#                                       wire (203.0.113.97), the wires and machines below, and the
#                                       harness that boots under qemu each vcsim VM powered on with an
#                                       ISO on its CD-ROM (NICs on their wires, guestinfo from vcsim;
#                                       log: harness.log); no VCH and no endpoint on the host:
#                                       `docker vic create` makes a VCH that boots
#   scripts/testbed.sh env              print the export lines of the running testbed again
#   scripts/testbed.sh restart-endpoint kill -9 vic-endpoint and start it again (reliability tests)
#   scripts/testbed.sh down [--force]   remove all of it; safe to run twice
#
# What `up` makes, all named with the prefix vtb- so that a later run can clear it:
#   - vcsim with the VIC documents' port groups, and VCH vch-testbed on it (plugin installed in a
#     DOCKER_CONFIG of the testbed's own, no Docker context);
#   - one network namespace per port group, vtb-pg-<port group>, holding a Linux bridge br0: the
#     port group's wire;
#   - per endpoint VM NIC, a veth whose host end carries that NIC's MAC (from `docker vic inspect`)
#     and the role's static address, and whose other end is a port of the wire's bridge:
#         vtb-public  Docker-Public   198.51.100.2/24   (published ports live here)
#         vtb-client  VIC-Client      203.0.113.2/26    (the Docker API in a real VCH)
#         vtb-mgmt    VIC-Management  203.0.113.98/27   (vSphere traffic in a real VCH)
#         vtb-bridge  VIC-Bridge      no address
#         vtb-c-ALIAS a container network's port group, no address (containers' macvlans hang here)
#   - machines on the wires: vtb-outside (198.51.100.10/24 on Docker-Public), vtb-clientside
#     (203.0.113.10/26 on VIC-Client, 203.0.113.100/27 on VIC-Management), and per container network
#     vtb-net-ALIAS (External-Consumer: 203.0.113.130/26; its containers get .140-.160, gateway .129;
#     VIC-Container-Network, a DHCP network: 203.0.113.193/26 runs busybox udhcpd handing out
#     .200-.220 with itself as router);
#   - vic-endpoint serving /run/docker/plugins/vic.sock, state in the testbed's directory.
# The host gets addresses on its vtb- links only (on-link routes in documentation ranges); its
# default route and eth0 are never touched, and 192.0.2.0/24 (eth0's network here) is never used.
# The files holding the vSphere password (credentials, env, vcsim.out) are root-only, in a
# root-only directory, and every start of vic-endpoint reads the login from the credentials file.
#
# Progress goes to stderr; stdout carries only the export lines:
#   VIC_TARGET VIC_THUMBPRINT VIC_VCH VIC_PUBLIC_IP VIC_CLIENT_IP VIC_MANAGEMENT_IP VIC_OUTSIDE_NS
#   VIC_OUTSIDE_IP VIC_CLIENTSIDE_NS VIC_NET_<ALIAS>_NS VIC_NET_<ALIAS>_LINK VIC_TESTBED_DIR VIC_ENDPOINT_LOG
#   VIC_DOCKER_CONFIG (where the docker-vic plugin is installed: DOCKER_CONFIG=... docker vic port)
# VIC_TESTBED_DIR (default /tmp/vic-testbed) may be set before `up` and must then be set for `down`.
#
# One testbed at a time: there is one plugin socket per Docker engine. `up` records its owner,
# VIC_TESTBED_OWNER or else the calling process; another `up` while that owner still runs waits
# for it to finish (at most VIC_TESTBED_WAIT seconds, default 900) instead of tearing its testbed
# down, and `down` from anyone else is refused unless given --force. A testbed whose owner is gone
# is stale: the next `up` clears it. VIC_TESTBED_KEEP=1 leaves a failed `up` in place for a look.
set -euo pipefail
# shellcheck source=scripts/lib.sh
. "$(dirname "$0")/lib.sh"
cd "$VIC_ROOT"

[ "$(id -u)" -eq 0 ] || die "testbed.sh needs root (network namespaces, links, iptables)"
# The caller owns the testbed, not this script (bin/vic-testbed's parent).
export VIC_TESTBED_OWNER=${VIC_TESTBED_OWNER:-$PPID}
if command -v go >/dev/null; then
	mkdir -p bin
	go build -o bin/vic-testbed ./scripts/testbed || die "building bin/vic-testbed failed"
fi
[ -x bin/vic-testbed ] || die "bin/vic-testbed is missing and there is no go to build it: run scripts/setup.sh"
exec bin/vic-testbed "$@"
