#!/bin/bash
# Short fuzzing runs for `make check`: every built fuzzer (build/fuzz/fuzz_*)
# runs for a few seconds on a copy of its seed corpus
# (tests/fuzz/corpus/<name>/, an empty one if there is none). Prints
# "ok fuzz_<name>" or "not ok fuzz_<name>: crash"; crash inputs are kept in
# build/fuzz/crashes/. Total time stays under about a minute.
set -u
TOP=${TOP:-$(cd "$(dirname "$0")/../.." && pwd)}
FUZZ_DIR=${FUZZ_DIR:-$TOP/build/fuzz}
BUDGET=${FUZZ_BUDGET:-50}	# seconds for all fuzzers together

fuzzers=()
for f in "$FUZZ_DIR"/fuzz_*; do
	[ -f "$f" ] && [ -x "$f" ] && fuzzers+=("$f")
done
if [ ${#fuzzers[@]} -eq 0 ]; then
	echo "skip fuzz: no fuzzers in $FUZZ_DIR (run make fuzz)"
	exit 0
fi

# a few seconds each, at least 2 and at most 8
per=$((BUDGET / ${#fuzzers[@]}))
[ "$per" -gt 8 ] && per=8
[ "$per" -lt 2 ] && per=2

work=$(mktemp -d /tmp/vessel-fuzz.XXXXXX)
trap 'rm -rf "$work"' EXIT
rc=0
for f in "${fuzzers[@]}"; do
	name=$(basename "$f")
	short=${name#fuzz_}
	corpus="$work/$short/corpus"
	mkdir -p "$corpus" "$work/$short/artifacts"
	if [ -d "$TOP/tests/fuzz/corpus/$short" ]; then
		cp -r "$TOP/tests/fuzz/corpus/$short/." "$corpus/"
	fi
	if "$f" -max_total_time="$per" -timeout=10 -rss_limit_mb=2048 \
		-artifact_prefix="$work/$short/artifacts/" "$corpus" \
		> "$work/$short/log" 2>&1; then
		echo "ok $name"
	else
		mkdir -p "$FUZZ_DIR/crashes"
		cp "$work/$short/artifacts/"* "$FUZZ_DIR/crashes/" 2>/dev/null
		echo "not ok $name: crash (inputs in $FUZZ_DIR/crashes/)"
		grep -E 'ERROR|SUMMARY|runtime error' "$work/$short/log" | head -5 | sed 's/^/    /'
		rc=1
	fi
done
exit $rc
