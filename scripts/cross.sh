#!/usr/bin/env bash
# cross.sh: the portability check of `make test`. It builds the docker-vic CLI plugin for the
# platforms admins run it on besides Linux, and vets on each, tests included, the CLI tree, the
# project's packages it imports and endpoint/nat's platform-free model. The last line says how
# many platforms passed and failed; the exit status is non-zero when any failed. Offline, it
# needs a module cache that `go mod download` filled.
#
#   scripts/cross.sh                      darwin/amd64, darwin/arm64 and windows/amd64
#   scripts/cross.sh windows/arm64 ...    the platforms given
set -euo pipefail
# shellcheck source=scripts/lib.sh
. "$(dirname "$0")/lib.sh"
cd "$VIC_ROOT"

platforms=("$@")
[ ${#platforms[@]} -gt 0 ] || platforms=(darwin/amd64 darwin/arm64 windows/amd64)
# The CLI tree and what it imports of the project, as go lists them, then the NAT model.
mapfile -t pkgs < <(go list -deps -f '{{if .Module}}{{if .Module.Main}}{{.ImportPath}}{{end}}{{end}}' ./cli-plugin/...)
pkgs+=(./endpoint/nat/)

pass=0 fail=0
for p in "${platforms[@]}"; do
	if GOOS=${p%/*} GOARCH=${p#*/} go build -o /dev/null ./cli-plugin &&
		GOOS=${p%/*} GOARCH=${p#*/} go vet "${pkgs[@]}"; then
		say "  ok   $p"
		pass=$((pass + 1))
	else
		say "  FAIL $p"
		fail=$((fail + 1))
	fi
done
say "cross: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
