#!/usr/bin/env bash
# checks.sh: the check vocabulary the end-to-end scripts share, sourced after lib.sh. The script
# sets passed, failed and skipped to 0, out and err to files of its own, and defines finish
# (called at the first failed check when E2E_STOP is set). Each check asserts what a user sees.

status=0

pass() { passed=$((passed + 1)); say "  ${vic_green}ok${vic_off}   $1"; }

# fail WHAT EXPECTED: count a failed check and show what came instead.
fail() {
	failed=$((failed + 1))
	say "  ${vic_red}FAIL${vic_off} $1"
	say "       expected: $2"
	say "       status:   $status"
	sed -n '1,15s/^/       stdout:   /p' "$out"
	sed -n '1,15s/^/       stderr:   /p' "$err"
	if [ -n "${E2E_STOP:-}" ]; then finish; fi
}

skip() { skipped=$((skipped + 1)); say "  skip $1"; }

# expect_lines WHAT PATTERN...: one check per PATTERN (grep -E), that a line of the last run's
# output or errors matches it: a command's progress, WHAT naming whose.
expect_lines() {
	local what=$1 line
	shift
	for line in "$@"; do
		if grep -Eq -- "$line" "$out" "$err"; then
			pass "$what: /$line/"
		else
			fail "$what: /$line/" "a line matching it"
		fi
	done
}

# summarize NAME: the counts of the checks (the Makefile's summary reads the last line) and the
# script's exit: 0 when none failed.
summarize() {
	say ""
	[ "${skipped:-0}" -eq 0 ] || say "$1: $skipped skipped (see the 'skip' lines)"
	say "$1: took $SECONDS s"
	say "$1: $passed passed, $failed failed"
	[ "$failed" -eq 0 ] && exit 0
	exit 1
}

# bounded SECONDS CMD...: CMD under a time limit; shell functions bound themselves.
bounded() {
	local secs=$1
	shift
	if declare -F "$1" >/dev/null; then "$@"; else timeout "$secs" "$@"; fi
}

# run CMD...: run a command, print it, keep its output and status; never stops the script.
# RUN_TIMEOUT bounds it (120 s by default).
run() {
	printf '%s$%s' "$vic_dim" "$vic_off"
	printf ' %q' "$@"
	printf '\n'
	status=0
	bounded "${RUN_TIMEOUT:-120}" "$@" >"$out" 2>"$err" </dev/null || status=$?
	sed 's/^/    /' "$out"
	sed 's/^/    /' "$err"
}
