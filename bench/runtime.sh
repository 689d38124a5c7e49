#!/bin/bash
# bench/runtime: `run` of /bin/true in one busybox bundle, vessel-runtime side by side
# with crun and runc in the same run. Prints mean times, max RSS and the ratios.
#
# crun 1.8 refuses this machine's hybrid cgroup layout unless the unified
# hierarchy's cgroup.controllers is hidden; that is done for crun alone, once,
# in a private mount namespace around its whole measurement, so no per-run
# cost is added to it and the other runtimes see the real layout.
set -eu
TOP=$(cd "$(dirname "$0")/.." && pwd)
VR=${VESSEL_RUNTIME:-$TOP/build/release/vessel-runtime}
RUNS=${RUNS:-50}
W=$(mktemp -d /tmp/vessel-bench.XXXXXX)
trap 'rm -rf "$W"' EXIT

[ -x "$VR" ] || { echo "bench/runtime: $VR not built (make release)" >&2; exit 1; }
# crun 1.8 accepts only 1.0.x configs; every runtime gets the same bundle
BUILD=$(dirname "$VR") "$TOP/tests/integration/make-bundle.sh" "$W/bundle" \
	--set 'c["ociVersion"]="1.0.2"' -- /bin/true >/dev/null

hide=""
if [ -f /sys/fs/cgroup/unified/cgroup.controllers ] && [ -d /sys/fs/cgroup/memory ]; then
	hide="mount --bind /dev/null /sys/fs/cgroup/unified/cgroup.controllers;"
fi

# one measurement: NAME CMD-PREFIX (the runtime binary and its global flags)
measure() {
	local name=$1 pre=$2 wrap=${3:-}
	local root="$W/root-$name"
	mkdir -p "$root"
	# shellcheck disable=SC2016
	local cmd="$pre --root $root run --bundle $W/bundle bench-$name"
	# correctness first: a runtime that fails is reported, not timed
	# (a wrapper that mounts runs only inside a private mount namespace)
	if ! unshare -m sh -c "$wrap $cmd" >/dev/null 2>"$W/$name.err"; then
		echo "$name: run failed: $(head -c 300 "$W/$name.err")" >&2
		echo "$name nan nan" >> "$W/results"
		return
	fi
	if [ -n "$wrap" ]; then
		unshare -m sh -c "$wrap hyperfine -N -w 5 -r $RUNS --export-json $W/$name.json '$cmd'" >/dev/null
	else
		hyperfine -N -w 5 -r "$RUNS" --export-json "$W/$name.json" "$cmd" >/dev/null
	fi
	local rss=0 r
	for _ in 1 2 3 4 5 6 7 8 9 10; do
		if [ -n "$wrap" ]; then
			r=$(unshare -m sh -c "$wrap /usr/bin/time -f %M $cmd" 2>&1 >/dev/null | tail -n 1)
		else
			r=$(/usr/bin/time -f %M $cmd 2>&1 >/dev/null | tail -n 1)
		fi
		[ "$r" -gt "$rss" ] && rss=$r
	done
	local mean
	mean=$(python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['results'][0]['mean'])" "$W/$name.json")
	echo "$name $mean $rss" >> "$W/results"
}

: > "$W/results"
measure vessel "$VR"
measure crun "crun" "$hide"
measure runc "runc"

python3 - "$W/results" "$RUNS" <<'PY'
import sys, math
rows = {}
for line in open(sys.argv[1]):
    n, t, r = line.split()
    rows[n] = (float(t), float(r))
print(f"bench/runtime: run /bin/true in a busybox bundle, {sys.argv[2]} runs each")
print(f"{'runtime':10} {'mean ms':>9} {'max RSS KiB':>12}")
for n, (t, r) in rows.items():
    print(f"{n:10} {t*1000:9.2f} {r:12.0f}")
v = rows.get("vessel")
for ref in ("crun", "runc"):
    if v and ref in rows and not math.isnan(rows[ref][0]) and not math.isnan(v[0]):
        print(f"vessel/{ref}: time {v[0]/rows[ref][0]:.2f}x, RSS {v[1]/rows[ref][1]:.2f}x")
PY
