#!/bin/bash
# Runs every test (unit binaries, integration scripts, short fuzz runs) and
# prints the summary line "N passed, N failed, N skipped" last.
# Usage: tests/run.sh [FILTER]  (FILTER: substring of the test file name)
set -u
TOP=$(cd "$(dirname "$0")/.." && pwd)
export TOP BUILD=${BUILD:-$TOP/build/asan}
filter=${1:-}
pass=0 fail=0 skip=0
out=$(mktemp)
trap 'rm -f "$out"' EXIT

run_one() {
	local what=$1; shift
	case "$what" in *"$filter"*) ;; *) return ;; esac
	echo "== $what"
	"$@" > "$out" 2>&1
	local rc=$? p f s
	grep -E '^(ok|not ok|skip) ' "$out" || true
	grep -vE '^(ok|not ok|skip) ' "$out" | grep -E -i 'error|fail|check|sanitizer|not ok' | head -40 | sed 's/^/    /'
	p=$(grep -c '^ok ' "$out"); f=$(grep -c '^not ok ' "$out"); s=$(grep -c '^skip ' "$out")
	pass=$((pass + p)); fail=$((fail + f)); skip=$((skip + s))
	if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
		echo "not ok $what: exited $rc"
		tail -n 20 "$out" | sed 's/^/    /'
		fail=$((fail + 1))
	fi
}

for t in "$BUILD"/tests/unit/test_*; do
	[ -x "$t" ] && run_one "$(basename "$t")" "$t"
done
for t in "$TOP"/tests/integration/*.sh; do
	case $(basename "$t") in lib.sh | make-bundle.sh) continue ;; esac	# helpers
	run_one "$(basename "$t")" bash "$t"
done
for t in "$TOP"/tests/fuzz/run-*.sh; do
	[ -f "$t" ] && run_one "$(basename "$t")" bash "$t"
done

echo "$pass passed, $fail failed, $skip skipped"
[ "$fail" -eq 0 ]
