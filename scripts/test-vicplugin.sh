#!/usr/bin/env bash
# test-vicplugin.sh: the appliance's installation of the managed plugin (appliance/vicplugin)
# against a real Docker engine: private engine 1 of scripts/nodes.sh (taking the private
# engines' lock) and the plugin built by scripts/plugin.sh, then
# TestEnsureOnAnEngine. Everything it starts is removed at the end.
set -euo pipefail
# shellcheck source=scripts/lib.sh
. "$(dirname "$0")/lib.sh"
cd "$VIC_ROOT"
[ "$(id -u)" -eq 0 ] || die "test-vicplugin.sh needs root (a private dockerd)"

work=$(mktemp -d "${TMPDIR:-/tmp}/vic-test-vicplugin.XXXXXX")
export VIC_NODES_DIR=/tmp/vic-test-vicplugin-nodes
nodes_lock
cleanup() {
	bash scripts/nodes.sh down >/dev/null 2>&1 || true
	rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

bash scripts/plugin.sh "$work/plugin" >/dev/null
eval "$(bash scripts/nodes.sh up 1)"
VIC_TEST_PLUGIN_DIR=$work/plugin go test -count=1 -run 'TestEnsureOnAnEngine' -v ./appliance/vicplugin
