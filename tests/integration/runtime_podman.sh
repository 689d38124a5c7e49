#!/bin/bash
# podman drives vessel-runtime (create/start/exec/kill/delete, a console
# socket for -t, a memory limit), with a private image store in a temp dir.
. "$(dirname "$0")/lib.sh"

[ -x "$BUILD/vessel-runtime" ] || { echo "not ok runtime_podman: no $BUILD/vessel-runtime"; exit 1; }
if ! command -v podman > /dev/null; then
	echo "skip podman: podman is not installed"
	exit 0
fi
chmod 755 "$T_TMP"
CGP=/vessel-podman-test-$$	# our own cgroup parent, removed at the end
printf '[containers]\ndefault_ulimits = ["nofile=1024:1024","nproc=4096:4096"]\n' > "$T_TMP/containers.conf"
export CONTAINERS_CONF=$T_TMP/containers.conf
# every call is logged, so tests can check what podman asked of the runtime
cat > "$T_TMP/runtime" <<W
#!/bin/sh
echo "\$@" >> "$T_TMP/calls"
exec "$BUILD/vessel-runtime" "\$@"
W
chmod +x "$T_TMP/runtime"
pm() {
	podman --root "$T_TMP/storage" --runroot "$T_TMP/run" --tmpdir "$T_TMP/tmp" \
		--storage-driver vfs --cgroup-manager cgroupfs --events-backend file \
		--runtime "$T_TMP/runtime" "$@"
}
cleanup() {
	pm rm -af -t 0 > /dev/null 2>&1
	pm rmi -af > /dev/null 2>&1
	local d
	for d in /sys/fs/cgroup/*$CGP /sys/fs/cgroup/*/*$CGP; do
		[ -d "$d" ] || continue
		find "$d" -depth -type d -exec rmdir {} + 2>/dev/null
	done
	rm -rf "$T_TMP"
}
trap cleanup EXIT

"$TOP/tests/integration/make-bundle.sh" "$T_TMP/b" true > /dev/null
if ! tar -C "$T_TMP/b/rootfs" -c . | pm import - vessel-busybox > "$T_TMP/import.log" 2>&1; then
	echo "not ok podman_import: $(tail -1 "$T_TMP/import.log")"
	exit 1
fi

run_rm() {
	pm run --rm --network=none --cgroup-parent "$CGP" vessel-busybox \
		sh -c 'echo "pid=$$"; id -u' > "$T_TMP/out"
	printf 'pid=1\n0\n' | diff -u - "$T_TMP/out" >&2 || t_fail "output: $(cat "$T_TMP/out")"
	grep -q "^create --bundle .* --pid-file " "$T_TMP/calls" || t_fail "podman did not call create"
	grep -q "^delete --force " "$T_TMP/calls" || t_fail "podman did not call delete"
	local rc=0
	pm run --rm --network=none --cgroup-parent "$CGP" vessel-busybox sh -c 'exit 5' || rc=$?
	[ "$rc" = 5 ] || t_fail "exit status through podman: $rc"
}

tty() {
	command -v script > /dev/null || t_skip "no script(1) to give podman a terminal"
	: > "$T_TMP/calls"
	script -qec "podman --root $T_TMP/storage --runroot $T_TMP/run --tmpdir $T_TMP/tmp \
		--storage-driver vfs --cgroup-manager cgroupfs --events-backend file \
		--runtime $T_TMP/runtime run --rm -t --network=none --cgroup-parent $CGP \
		vessel-busybox sh -c 'tty; [ -t 0 ] && echo stdin-is-tty'" /dev/null < /dev/null \
		> "$T_TMP/out"
	tr -d '\r' < "$T_TMP/out" > "$T_TMP/out2"
	grep -qx '/dev/pts/0' "$T_TMP/out2" || t_fail "tty: $(cat "$T_TMP/out2")"
	grep -qx stdin-is-tty "$T_TMP/out2" || t_fail "stdin is not a tty"
	grep -q -- "--console-socket" "$T_TMP/calls" || t_fail "podman did not pass a console socket"
}

exec_stop_rm() {
	pm run -d --name pc1 --network=none --cgroup-parent "$CGP" vessel-busybox sleep 1000 > /dev/null
	[ "$(pm exec pc1 sh -c 'echo $((6 * 7))')" = 42 ] || t_fail "podman exec"
	grep -q "^exec .*--process " "$T_TMP/calls" || t_fail "podman exec did not use --process"
	local rc=0
	pm exec pc1 sh -c 'exit 9' || rc=$?
	[ "$rc" = 9 ] || t_fail "exec exit status through podman: $rc"
	pm stop -t 1 pc1 > /dev/null
	pm inspect -f '{{.State.Status}}' pc1 | grep -qx exited || t_fail "not exited after stop"
	grep -q "^kill .* 9$\|^kill .* KILL$" "$T_TMP/calls" || t_fail "podman stop did not kill"
	pm rm pc1 > /dev/null
	pm run -d --name pc2 --network=none --cgroup-parent "$CGP" vessel-busybox sleep 1000 > /dev/null
	local id; id=$(pm inspect -f '{{.Id}}' pc2)
	pm rm -f -t 0 pc2 > /dev/null
	[ ! -e "/run/vessel-runtime/$id" ] || t_fail "state of $id left after rm -f"
	! ls -d /sys/fs/cgroup/*/"$CGP"/*"$id"* 2>/dev/null | grep -q . || t_fail "cgroup of $id left"
}

memory_limit() {
	pm run --rm --network=none --cgroup-parent "$CGP" --memory 32m vessel-busybox \
		sh -c 'cat /sys/fs/cgroup/memory/memory.limit_in_bytes 2>/dev/null || cat /sys/fs/cgroup/memory.max' \
		> "$T_TMP/out"
	[ "$(cat "$T_TMP/out")" = 33554432 ] || t_fail "memory limit inside: $(cat "$T_TMP/out")"
}

pause_and_exec_options() {
	pm run -d --name pc3 --network=none --cgroup-parent "$CGP" vessel-busybox sleep 1000 > /dev/null
	pm pause pc3 > /dev/null
	pm inspect -f '{{.State.Status}}' pc3 | grep -qx paused || t_fail "not paused"
	grep -q "^pause " "$T_TMP/calls" || t_fail "podman pause did not call the runtime"
	pm unpause pc3 > /dev/null
	pm inspect -f '{{.State.Status}}' pc3 | grep -qx running || t_fail "not running after unpause"
	pm exec -u 1000 -e A=b -w /tmp pc3 sh -c 'echo "$(id -u) $A $(pwd)"' > "$T_TMP/out"
	[ "$(cat "$T_TMP/out")" = "1000 b /tmp" ] || t_fail "exec options: $(cat "$T_TMP/out")"
	pm rm -f -t 0 pc3 > /dev/null
}

t_run podman_run_rm_and_exit_status run_rm
t_run podman_run_tty tty
t_run podman_exec_stop_rm exec_stop_rm
t_run podman_memory_limit memory_limit
t_run podman_pause_and_exec_options pause_and_exec_options
