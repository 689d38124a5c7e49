#!/bin/bash
# vessel-runtime exec: joins the container's namespaces and cgroup; env, cwd,
# user honoured; exit status propagated; --process FILE; --detach --pid-file.
. "$(dirname "$0")/lib.sh"

ROOT=$T_TMP/state
rt() { "$BUILD/vessel-runtime" --root "$ROOT" "$@"; }
cleanup() {
	local id
	for id in $(rt list -q 2>/dev/null); do rt delete --force "$id" >/dev/null 2>&1; done
	rm -rf "$T_TMP"
}
trap cleanup EXIT
alive() { [ -e "/proc/$1" ] && ! grep -q '^State:.*Z' "/proc/$1/status" 2>/dev/null; }

[ -x "$BUILD/vessel-runtime" ] || { echo "not ok runtime_exec: no $BUILD/vessel-runtime"; exit 1; }
"$TOP/tests/integration/make-bundle.sh" "$T_TMP/b" --set 'c["hostname"]="exec-box"' \
	--set 'c["process"]["env"].append("FROMCONFIG=yes")' sleep 1000 >/dev/null
rt run -d --bundle "$T_TMP/b" ex

sees_hostname_and_pid_ns() {
	rt exec ex sh -c 'hostname; echo $$; cat /proc/1/cmdline | tr "\0" " "' > "$T_TMP/out"
	[ "$(sed -n 1p "$T_TMP/out")" = exec-box ] || t_fail "hostname: $(cat "$T_TMP/out")"
	local p; p=$(sed -n 2p "$T_TMP/out")
	[ "$p" -gt 1 ] && [ "$p" -lt 100 ] || t_fail "pid in the container's pid ns: $p"
	sed -n 3p "$T_TMP/out" | grep -q "^sleep 1000" || t_fail "pid 1 is not the container init"
	local init; init=$(rt state ex | sed -n 's/.*"pid": *\([0-9]*\).*/\1/p')
	[ "$(readlink /proc/$init/ns/mnt)" != "$(readlink /proc/self/ns/mnt)" ] || t_fail "init not in own mnt ns"
}

env_cwd_user() {
	rt exec --env A=1 -e B=two --cwd /tmp --user 1000:1000 ex \
		sh -c 'echo "$A $B $FROMCONFIG"; pwd; id -u; id -g' > "$T_TMP/out"
	printf '1 two yes\n/tmp\n1000\n1000\n' | diff -u - "$T_TMP/out" >&2 || t_fail "env/cwd/user: $(cat "$T_TMP/out")"
}

exit_status_propagated() {
	local rc=0
	rt exec ex sh -c 'exit 23' || rc=$?
	[ "$rc" = 23 ] || t_fail "exit status $rc, expected 23"
}

process_file() {
	cat > "$T_TMP/proc.json" <<'J'
{ "args": ["sh", "-c", "echo from-file $X; pwd; id -u"], "env": ["X=42", "PATH=/bin"],
  "cwd": "/etc", "user": { "uid": 1, "gid": 1 }, "terminal": false }
J
	rt exec --process "$T_TMP/proc.json" ex > "$T_TMP/out"
	printf 'from-file 42\n/etc\n1\n' | diff -u - "$T_TMP/out" >&2 || t_fail "process file: $(cat "$T_TMP/out")"
}

detach_pid_file() {
	rt exec --detach --pid-file "$T_TMP/e.pid" ex sleep 777
	local p; p=$(cat "$T_TMP/e.pid")
	alive "$p" || t_fail "detached process $p not running"
	tr '\0' ' ' < "/proc/$p/cmdline" | grep -q "^sleep 777" || t_fail "pid-file does not name the process"
	grep -q "$p" <<< "$(rt ps --format json ex)" || t_fail "detached process not in the container cgroup"
	[ "$(readlink /proc/$p/ns/pid)" != "$(readlink /proc/self/ns/pid)" ] || t_fail "not in the pid ns"
	kill -9 "$p"
}

missing_program_and_stopped_container() {
	if rt exec ex /bin/nope 2> "$T_TMP/err"; then t_fail "exec of a missing program succeeded"; fi
	grep -q '"/bin/nope"' "$T_TMP/err" || t_fail "message: $(cat "$T_TMP/err")"
	if rt exec nosuch true 2> "$T_TMP/err"; then t_fail "exec in unknown container succeeded"; fi
	grep -q "does not exist" "$T_TMP/err" || t_fail "unknown: $(cat "$T_TMP/err")"
	if rt exec --user abc ex true 2> "$T_TMP/err"; then t_fail "bad --user accepted"; fi
	grep -q "expected UID" "$T_TMP/err" || t_fail "bad user: $(cat "$T_TMP/err")"
	rt run -d --bundle "$T_TMP/b" ex2
	rt kill ex2 KILL
	local i; for i in $(seq 1 500); do rt state ex2 | grep -q stopped && break; sleep 0.02; done
	if rt exec ex2 true 2> "$T_TMP/err"; then t_fail "exec in a stopped container succeeded"; fi
	grep -q "stopped" "$T_TMP/err" || t_fail "stopped: $(cat "$T_TMP/err")"
	rt delete ex2
}

preserve_fds() {
	echo passed-in > "$T_TMP/f3"
	rt exec --preserve-fds 1 ex sh -c 'cat <&3; [ -e /proc/$$/fd/4 ] && echo leaked; echo end' \
		3< "$T_TMP/f3" > "$T_TMP/out"
	printf 'passed-in\nend\n' | diff -u - "$T_TMP/out" >&2 || t_fail "preserve-fds: $(cat "$T_TMP/out")"
	if rt exec --preserve-fds 3 ex true 2> "$T_TMP/err"; then t_fail "closed fds accepted"; fi
	grep -q "fd 3 is not open" "$T_TMP/err" || t_fail "message: $(cat "$T_TMP/err")"
}

t_run exec_sees_container_hostname_and_pid_ns sees_hostname_and_pid_ns
t_run exec_env_cwd_user_honoured env_cwd_user
t_run exec_exit_status_propagated exit_status_propagated
t_run exec_process_file process_file
t_run exec_detach_writes_pid_file detach_pid_file
t_run exec_errors_missing_program_unknown_or_stopped_container missing_program_and_stopped_container
t_run exec_preserve_fds preserve_fds
