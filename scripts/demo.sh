#!/bin/bash
# The demo of `make demo`: builds a busybox root filesystem, starts a container
# from it with vessel-runtime, shows that it is isolated, and stops it.
set -eu
TOP=$(cd "$(dirname "$0")/.." && pwd)
RT=$TOP/build/release/vessel-runtime
ROOT=$(mktemp -d /tmp/vessel-demo-root.XXXXXX)
B=$(mktemp -d /tmp/vessel-demo.XXXXXX)
ID=vessel-demo-$$
cleanup() {
	"$RT" --root "$ROOT" delete --force "$ID" 2>/dev/null || true
	rm -rf "$B" "$ROOT"
}
trap cleanup EXIT

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
show() { printf '$'; printf ' %q' "$@"; echo; "$@"; }

step "Build a busybox root filesystem and an OCI bundle"
BUILD=$TOP/build/release "$TOP/tests/integration/make-bundle.sh" "$B" \
	--set 'c["hostname"]="demo-box"' \
	--set 'c["linux"]["resources"]={"memory":{"limit":67108864},"pids":{"limit":64}}' \
	-- sh -c 'while :; do sleep 1; done'
echo "bundle: $B (rootfs: $(ls "$B/rootfs" | tr '\n' ' '))"

step "Create and start the container"
show "$RT" --root "$ROOT" create --bundle "$B" "$ID"
show "$RT" --root "$ROOT" state "$ID"
show "$RT" --root "$ROOT" start "$ID"
show "$RT" --root "$ROOT" list

step "Inside, the container is isolated"
echo "-- its own PID namespace: the shell loop is PID 1, no host processes"
show "$RT" --root "$ROOT" exec "$ID" ps -o pid,comm
echo "-- its own hostname (the host is $(hostname))"
show "$RT" --root "$ROOT" exec "$ID" hostname
echo "-- its own mounts: the busybox rootfs is /"
show "$RT" --root "$ROOT" exec "$ID" sh -c 'ls /; cat /proc/mounts | head -n 5'
echo "-- its own network namespace: only loopback"
show "$RT" --root "$ROOT" exec "$ID" ip -o link
echo "-- limits from cgroups: 64 MiB of memory, 64 processes"
pid=$("$RT" --root "$ROOT" state "$ID" | python3 -c 'import json,sys; print(json.load(sys.stdin)["pid"])')
for f in /sys/fs/cgroup/memory/vessel/$ID/memory.limit_in_bytes /sys/fs/cgroup/pids/vessel/$ID/pids.max \
	/sys/fs/cgroup/vessel/$ID/memory.max /sys/fs/cgroup/vessel/$ID/pids.max; do
	[ -f "$f" ] && echo "$f: $(cat "$f")"
done
echo "container init is host PID $pid; inside it sees itself as PID 1"

step "Stop and delete it"
show "$RT" --root "$ROOT" kill "$ID" KILL
for _ in $(seq 50); do
	"$RT" --root "$ROOT" state "$ID" | grep -q '"stopped"' && break
	sleep 0.1
done
show "$RT" --root "$ROOT" state "$ID"
show "$RT" --root "$ROOT" delete "$ID"
echo
echo "demo done: nothing left behind ($(ls "$ROOT" | wc -l) containers in $ROOT)"
