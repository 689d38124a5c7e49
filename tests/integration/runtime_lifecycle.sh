#!/bin/bash
# vessel-runtime lifecycle: create -> created -> start -> running -> kill ->
# stopped -> delete; run (foreground and -d); delete --force; kill --all;
# state/list/ps output; PID 1, own hostname, --pid-file, run's exit status,
# hooks at the right points, --no-pivot.
. "$(dirname "$0")/lib.sh"

ROOT=$T_TMP/state
rt() { "$BUILD/vessel-runtime" --root "$ROOT" "$@"; }
cleanup() {
	local id
	for id in $(rt list -q 2>/dev/null); do rt delete --force "$id" >/dev/null 2>&1; done
	rm -rf "$T_TMP"
}
trap cleanup EXIT
mkb() { "$TOP/tests/integration/make-bundle.sh" "$@" >/dev/null; }

# status of a container ("" if state fails)
status_of() { rt state "$1" 2>/dev/null | sed -n 's/.*"status": *"\([a-z]*\)".*/\1/p'; }
# waits (bounded) until the container reaches the status
wait_status() {
	local i
	for i in $(seq 1 500); do
		[ "$(status_of "$1")" = "$2" ] && return 0
		sleep 0.02
	done
	t_fail "$1 never became $2 (is $(status_of "$1"))"
}
# a process is gone once it is a zombie (its reaper is not ours to wait for)
alive() { [ -e "/proc/$1" ] && ! grep -q '^State:.*Z' "/proc/$1/status" 2>/dev/null; }
leftovers() {
	[ ! -e "$ROOT/$1" ] || t_fail "state dir $ROOT/$1 left behind"
	! ls -d /sys/fs/cgroup/*/vessel/"$1" 2>/dev/null | grep -q . ||
		t_fail "cgroup of $1 left behind"
}

[ -x "$BUILD/vessel-runtime" ] || { echo "not ok runtime_lifecycle: no $BUILD/vessel-runtime"; exit 1; }
mkb "$T_TMP/sleep" sleep 1000

create_start_kill_delete() {
	local b=$T_TMP/sleep id=lc1 pid
	rt create --bundle "$b" --pid-file "$T_TMP/lc1.pid" $id
	[ "$(status_of $id)" = created ] || t_fail "after create: $(status_of $id)"
	pid=$(cat "$T_TMP/lc1.pid")
	rt state $id | grep -q "\"pid\": $pid," || t_fail "state pid differs from --pid-file $pid"
	kill -0 "$pid" || t_fail "init $pid not alive after create"
	# the init waits: the user program has not run yet
	readlink "/proc/$pid/exe" | grep -q vessel-runtime || t_fail "user program ran before start"
	rt start $id
	[ "$(status_of $id)" = running ] || t_fail "after start: $(status_of $id)"
	tr '\0' ' ' < "/proc/$pid/cmdline" | grep -q '^sleep 1000' || t_fail "init is not sleep after start"
	if rt start $id 2> "$T_TMP/err"; then t_fail "second start succeeded"; fi
	grep -q "not created" "$T_TMP/err" || t_fail "second start: $(cat "$T_TMP/err")"
	if rt delete $id 2> "$T_TMP/err"; then t_fail "delete of a running container succeeded"; fi
	grep -q "use --force" "$T_TMP/err" || t_fail "delete running: $(cat "$T_TMP/err")"
	rt kill $id KILL
	wait_status $id stopped
	rt state $id | grep -q '"pid": 0' || t_fail "stopped container does not report pid 0"
	rt delete $id
	leftovers $id
	if rt state $id 2> "$T_TMP/err"; then t_fail "state after delete succeeded"; fi
	grep -q "does not exist" "$T_TMP/err" || t_fail "state after delete: $(cat "$T_TMP/err")"
}

state_json_fields() {
	rt create --bundle "$T_TMP/sleep" lc2
	rt state lc2 > "$T_TMP/st.json"
	/usr/bin/python3 - "$T_TMP/st.json" "$T_TMP/sleep" <<'PY' || t_fail "state JSON: $(cat "$T_TMP/st.json")"
import json, sys
s = json.load(open(sys.argv[1]))
assert s["ociVersion"].startswith("1."), s
assert s["id"] == "lc2" and s["status"] == "created" and s["pid"] > 0
assert s["bundle"] == sys.argv[2] and s["owner"] == "root" and s["created"].endswith("Z")
assert isinstance(s["annotations"], dict)
PY
	rt delete --force lc2
	leftovers lc2
}

run_foreground_exit_status() {
	mkb "$T_TMP/exit" --set 'c["hostname"]="lc-host"' sh -c 'echo "pid=$$ host=$(hostname)"; exit 42'
	local rc=0
	rt run --bundle "$T_TMP/exit" lc3 > "$T_TMP/out" || rc=$?
	[ "$rc" = 42 ] || t_fail "run exit status $rc, expected 42"
	grep -q "pid=1 host=lc-host" "$T_TMP/out" || t_fail "output: $(cat "$T_TMP/out")"
	leftovers lc3
}

run_detach_and_force_delete() {
	rt run -d --bundle "$T_TMP/sleep" --pid-file "$T_TMP/lc4.pid" lc4
	[ "$(status_of lc4)" = running ] || t_fail "run -d: $(status_of lc4)"
	local pid; pid=$(cat "$T_TMP/lc4.pid")
	rt delete --force lc4
	alive "$pid" && t_fail "init $pid survived delete --force"
	leftovers lc4
}

kill_all_reaches_every_process() {
	rt run -d --bundle "$T_TMP/sleep" lc5
	rt exec -d --pid-file "$T_TMP/ex.pid" lc5 sleep 900
	local ex; ex=$(cat "$T_TMP/ex.pid")
	kill -0 "$ex" || t_fail "exec'd process not running"
	rt kill --all lc5 KILL
	wait_status lc5 stopped
	local i
	for i in $(seq 1 500); do alive "$ex" || break; sleep 0.02; done
	alive "$ex" && t_fail "kill --all left the exec'd process $ex"
	rt delete lc5
	leftovers lc5
}

kill_signal_names() {
	mkb "$T_TMP/trap" sh -c 'trap "echo got-usr1 > /tmp/sig; exit 3" USR1; while :; do sleep 0.1; done'
	rt run -d --bundle "$T_TMP/trap" lc6
	rt kill lc6 SIGUSR1
	wait_status lc6 stopped
	[ "$(cat "$T_TMP/trap/rootfs/tmp/sig")" = got-usr1 ] || t_fail "USR1 not delivered"
	if rt kill lc6 TERM 2> "$T_TMP/err"; then t_fail "kill of a stopped container succeeded"; fi
	grep -q "not running" "$T_TMP/err" || t_fail "kill stopped: $(cat "$T_TMP/err")"
	rt delete lc6
	if rt kill nosuch BOGUS 2> "$T_TMP/err"; then t_fail "kill with bad signal succeeded"; fi
	grep -q 'unknown signal "BOGUS"' "$T_TMP/err" || t_fail "bad signal: $(cat "$T_TMP/err")"
}

list_and_ps() {
	rt run -d --bundle "$T_TMP/sleep" lc7
	local pid; pid=$(rt state lc7 | sed -n 's/.*"pid": *\([0-9]*\).*/\1/p')
	rt list > "$T_TMP/list"
	head -1 "$T_TMP/list" | grep -q "^ID *PID *STATUS *BUNDLE *CREATED *OWNER" || t_fail "list header: $(head -1 "$T_TMP/list")"
	grep -Eq "^lc7 +$pid +running +$T_TMP/sleep " "$T_TMP/list" || t_fail "list row: $(cat "$T_TMP/list")"
	[ "$(rt list -q)" = lc7 ] || t_fail "list -q: $(rt list -q)"
	rt list --format json | /usr/bin/python3 -c '
import json, sys
l = json.load(sys.stdin); assert len(l) == 1 and l[0]["id"] == "lc7" and l[0]["status"] == "running", l' ||
		t_fail "list --format json"
	[ "$(rt ps --format json lc7)" = "[$pid]" ] || t_fail "ps json: $(rt ps --format json lc7), pid $pid"
	rt ps lc7 > "$T_TMP/ps"
	head -1 "$T_TMP/ps" | grep -q PID || t_fail "ps header"
	grep -q "sleep 1000" "$T_TMP/ps" || t_fail "ps table: $(cat "$T_TMP/ps")"
	[ "$(wc -l < "$T_TMP/ps")" = 2 ] || t_fail "ps shows other processes: $(cat "$T_TMP/ps")"
	rt delete -f lc7
}

pause_resume() {
	rt run -d --bundle "$T_TMP/sleep" lc8
	rt pause lc8
	[ "$(status_of lc8)" = paused ] || t_fail "after pause: $(status_of lc8)"
	if rt pause lc8 2>/dev/null; then t_fail "pause of a paused container succeeded"; fi
	rt resume lc8
	[ "$(status_of lc8)" = running ] || t_fail "after resume: $(status_of lc8)"
	rt pause lc8
	rt delete --force lc8
	leftovers lc8
}

hooks_run_in_order() {
	local b=$T_TMP/hooks f=$T_TMP/hooks/rootfs/tmp/hooks
	mkb "$b" --set "
def h(n, f): return {'path': '/bin/sh', 'args': ['sh', '-c', 'grep -q lc9 && echo %s >> %s' % (n, f)]}
f = '$f'
c['hooks'] = {'prestart': [h('prestart', f)], 'createRuntime': [h('createRuntime', f)],
	'createContainer': [h('createContainer', f)], 'startContainer': [h('startContainer', '/tmp/hooks')],
	'poststart': [h('poststart', f)], 'poststop': [h('poststop', f)]}" sleep 1000
	rt create --bundle "$b" lc9
	echo created >> "$f"
	rt start lc9
	echo started >> "$f"
	rt delete --force lc9
	printf '%s\n' prestart createRuntime createContainer created startContainer poststart \
		started poststop > "$T_TMP/want"
	diff -u "$T_TMP/want" "$f" >&2 || t_fail "hook order: $(tr '\n' ' ' < "$f")"
	leftovers lc9
}

failing_create_hook_leaves_nothing() {
	mkb "$T_TMP/badhook" --set "c['hooks'] = {'createRuntime': [{'path': '/bin/false'}],
		'poststop': [{'path': '/bin/sh', 'args': ['sh', '-c', 'echo ran > $T_TMP/poststop']}]}" true
	if rt create --bundle "$T_TMP/badhook" lc10 2> "$T_TMP/err"; then t_fail "create with failing hook succeeded"; fi
	grep -q "createRuntime" "$T_TMP/err" || t_fail "message: $(cat "$T_TMP/err")"
	# runtime-spec: the lifecycle continues at delete, with the poststop hooks
	[ "$(cat "$T_TMP/poststop" 2>/dev/null)" = ran ] || t_fail "poststop did not run after the failed create"
	leftovers lc10
}

no_pivot() {
	mkb "$T_TMP/nopivot" sh -c 'ls /bin/busybox && cat /proc/1/cmdline'
	rt run --no-pivot --bundle "$T_TMP/nopivot" lc11 > "$T_TMP/out"
	grep -q /bin/busybox "$T_TMP/out" || t_fail "no-pivot output: $(cat "$T_TMP/out")"
	leftovers lc11
}

start_reports_missing_program() {
	# the program is looked up at create, so create fails (as runc)
	mkb "$T_TMP/missing" /bin/not-there
	if rt create --bundle "$T_TMP/missing" lc12 2> "$T_TMP/err"; then t_fail "create succeeded"; fi
	grep -q '"/bin/not-there"' "$T_TMP/err" || t_fail "message: $(cat "$T_TMP/err")"
	leftovers lc12
}

preserve_fds_and_listen_fds() {
	mkb "$T_TMP/fds" sh -c 'cat <&3; cat <&4; echo "LISTEN_FDS=$LISTEN_FDS LISTEN_PID=$LISTEN_PID"; for f in 5 6 7 8 9; do [ -e /proc/$$/fd/$f ] && echo "leaked fd $f"; done; echo end'
	echo three > "$T_TMP/f3"; echo four > "$T_TMP/f4"
	rt run --preserve-fds 2 --bundle "$T_TMP/fds" lc13 3< "$T_TMP/f3" 4< "$T_TMP/f4" > "$T_TMP/out"
	printf 'three\nfour\nLISTEN_FDS= LISTEN_PID=\nend\n' | diff -u - "$T_TMP/out" >&2 ||
		t_fail "preserve-fds: $(cat "$T_TMP/out")"
	# sd_listen_fds: the runtime's LISTEN_FDS are passed on, for pid 1
	LISTEN_FDS=1 rt run --bundle "$T_TMP/fds" lc14 3< "$T_TMP/f3" 4< "$T_TMP/f4" > "$T_TMP/out" 2>&1 || true
	grep -q "^three$" "$T_TMP/out" || t_fail "LISTEN_FDS fd 3 not passed: $(cat "$T_TMP/out")"
	grep -q "LISTEN_FDS=1 LISTEN_PID=1" "$T_TMP/out" || t_fail "LISTEN_FDS env: $(cat "$T_TMP/out")"
	leftovers lc13; leftovers lc14
}

update_limits() {
	rt run -d --bundle "$T_TMP/sleep" lc15
	local cg=/sys/fs/cgroup/memory/vessel/lc15 pcg=/sys/fs/cgroup/pids/vessel/lc15
	[ -d "$cg" ] || t_skip "no v1 memory hierarchy"
	rt update --memory 48m --pids-limit 77 lc15
	[ "$(cat $cg/memory.limit_in_bytes)" = 50331648 ] || t_fail "memory limit $(cat $cg/memory.limit_in_bytes)"
	[ "$(cat $pcg/pids.max)" = 77 ] || t_fail "pids.max $(cat $pcg/pids.max)"
	echo '{"memory": {"limit": 67108864}, "pids": {"limit": 55}}' > "$T_TMP/res.json"
	rt update --resources "$T_TMP/res.json" lc15
	[ "$(cat $cg/memory.limit_in_bytes)" = 67108864 ] || t_fail "memory via --resources"
	[ "$(cat $pcg/pids.max)" = 55 ] || t_fail "pids via --resources"
	echo '{"pids": {"limit": 44}}' | rt update -r - lc15
	[ "$(cat $pcg/pids.max)" = 44 ] || t_fail "pids via stdin"
	if rt update --memory lots lc15 2> "$T_TMP/err"; then t_fail "bad --memory accepted"; fi
	grep -q -- '--memory: bad value "lots"' "$T_TMP/err" || t_fail "message: $(cat "$T_TMP/err")"
	rt delete -f lc15
}

features_spec_version() {
	rt features > "$T_TMP/f.json"
	/usr/bin/python3 - "$T_TMP/f.json" <<'PY' || t_fail "features: $(head -c 300 "$T_TMP/f.json")"
import json, sys
f = json.load(open(sys.argv[1]))
assert f["ociVersionMin"] == "1.0.0" and f["ociVersionMax"].startswith("1.")
assert "createContainer" in f["hooks"] and "rbind" in f["mountOptions"]
l = f["linux"]
assert set(["pid", "network", "mount", "user", "cgroup"]) <= set(l["namespaces"]), l["namespaces"]
assert "CAP_SYS_ADMIN" in l["capabilities"]
assert l["cgroup"]["v1"] and l["cgroup"]["v2"] and not l["cgroup"]["systemd"]
assert l["seccomp"]["enabled"] and "SCMP_ACT_ERRNO" in l["seccomp"]["actions"]
assert not l["apparmor"]["enabled"] and not l["selinux"]["enabled"]
PY
	mkdir -p "$T_TMP/newspec"
	rt spec --bundle "$T_TMP/newspec"
	/usr/bin/python3 -c 'import json,sys; c=json.load(open(sys.argv[1])); assert c["process"]["args"]' \
		"$T_TMP/newspec/config.json" || t_fail "spec wrote a bad config.json"
	if rt spec --bundle "$T_TMP/newspec" 2>/dev/null; then t_fail "spec overwrote config.json"; fi
	rt --version | grep -q "^vessel-runtime version" || t_fail "--version"
	rt -v | grep -q "^spec: 1\." || t_fail "-v"
	rt --help | grep -q "create" || t_fail "--help"
	rt kill --help | grep -q "^usage: vessel-runtime kill \[--all\] ID \[SIGNAL\]" || t_fail "kill --help"
}

exec_caps_and_no_new_privs() {
	mkb "$T_TMP/nnp" --set 'c["process"]["noNewPrivileges"] = False' sleep 1000
	rt run -d --bundle "$T_TMP/nnp" lc16
	rt exec lc16 grep NoNewPrivs /proc/self/status | grep -q '0$' || t_fail "NNP set without asking"
	rt exec --no-new-privs lc16 grep NoNewPrivs /proc/self/status | grep -q '1$' || t_fail "--no-new-privs ignored"
	# CAP_NET_RAW is bit 13; --cap adds it
	local eff
	eff=$(rt exec lc16 sed -n 's/^CapEff:\s*//p' /proc/self/status)
	[ $(( 0x$eff >> 13 & 1 )) = 0 ] || t_fail "CAP_NET_RAW present by default"
	eff=$(rt exec --cap CAP_NET_RAW lc16 sed -n 's/^CapEff:\s*//p' /proc/self/status)
	[ $(( 0x$eff >> 13 & 1 )) = 1 ] || t_fail "--cap CAP_NET_RAW not effective ($eff)"
	rt delete -f lc16
}

kill_default_is_term() {
	mkb "$T_TMP/term" sh -c 'trap "echo got-term > /tmp/sig; exit 0" TERM; while :; do sleep 0.1; done'
	rt run -d --bundle "$T_TMP/term" lc17
	rt kill lc17
	wait_status lc17 stopped
	[ "$(cat "$T_TMP/term/rootfs/tmp/sig")" = got-term ] || t_fail "default signal is not TERM"
	rt delete lc17
}

join_namespace_by_path() {
	rt run -d --bundle "$T_TMP/sleep" --pid-file "$T_TMP/a.pid" lc18
	local a; a=$(cat "$T_TMP/a.pid")
	mkb "$T_TMP/joiner" --set "
for n in c['linux']['namespaces']:
    if n['type'] in ('network', 'ipc', 'uts'):
        n['path'] = '/proc/$a/ns/' + {'network': 'net'}.get(n['type'], n['type'])
c.pop('hostname', None)" sleep 1000
	rt run -d --bundle "$T_TMP/joiner" --pid-file "$T_TMP/b.pid" lc19
	local b ns; b=$(cat "$T_TMP/b.pid")
	for ns in net ipc uts; do
		[ "$(readlink /proc/$a/ns/$ns)" = "$(readlink /proc/$b/ns/$ns)" ] || t_fail "$ns not shared"
	done
	[ "$(readlink /proc/$a/ns/pid)" != "$(readlink /proc/$b/ns/pid)" ] || t_fail "pid ns shared"
	[ "$(readlink /proc/$a/ns/mnt)" != "$(readlink /proc/$b/ns/mnt)" ] || t_fail "mnt ns shared"
	rt delete -f lc19
	rt delete -f lc18
}

time_namespace_offsets() {
	[ -e /proc/self/ns/time ] || t_skip "no time namespaces"
	mkb "$T_TMP/time" --set "
c['linux']['namespaces'].append({'type': 'time'})
c['linux']['timeOffsets'] = {'boottime': {'secs': 86400 * 365, 'nanosecs': 0}}" cat /proc/uptime
	local up; up=$(rt run --bundle "$T_TMP/time" lc20 | cut -d. -f1)
	local host; host=$(cut -d. -f1 /proc/uptime)
	[ "$up" -ge $((host + 86400 * 365 - 60)) ] || t_fail "boottime offset not applied: $up vs host $host"
}

run_forwards_signals() {
	mkb "$T_TMP/fwd" sh -c 'trap "exit 7" USR1; echo ready > /tmp/ready; while :; do sleep 0.1; done'
	"$BUILD/vessel-runtime" --root "$ROOT" run --bundle "$T_TMP/fwd" lc21 > /dev/null &
	local rpid=$! i rc=0
	for i in $(seq 1 500); do [ -e "$T_TMP/fwd/rootfs/tmp/ready" ] && break; sleep 0.02; done
	[ -e "$T_TMP/fwd/rootfs/tmp/ready" ] || t_fail "container never ran"
	kill -USR1 "$rpid"
	wait "$rpid" || rc=$?
	[ "$rc" = 7 ] || t_fail "run exit status $rc after forwarding USR1, expected 7"
	leftovers lc21
}

ps_passes_arguments_to_ps() {
	rt run -d --bundle "$T_TMP/sleep" lc22
	rt ps lc22 -o pid,comm > "$T_TMP/ps"
	head -1 "$T_TMP/ps" | grep -Eq '^ *PID +COMMAND' || t_fail "ps -o header: $(head -1 "$T_TMP/ps")"
	grep -Eq '^ *[0-9]+ +sleep$' "$T_TMP/ps" || t_fail "ps -o rows: $(cat "$T_TMP/ps")"
	rt delete -f lc22
}

flags_after_id_and_equals_form() {
	"$BUILD/vessel-runtime" --root="$ROOT" create lc23 --bundle="$T_TMP/sleep" --pid-file="$T_TMP/lc23.pid"
	[ -s "$T_TMP/lc23.pid" ] || t_fail "--pid-file=FILE after the ID ignored"
	rt start lc23
	rt kill lc23 KILL --all
	wait_status lc23 stopped
	rt run -b "$T_TMP/sleep" -d lc24
	rt delete lc24 -f
	rt delete lc23
	leftovers lc23; leftovers lc24
}

t_run lifecycle_create_start_kill_delete create_start_kill_delete
t_run lifecycle_state_json_fields state_json_fields
t_run lifecycle_run_foreground_exit_status_pid1_hostname run_foreground_exit_status
t_run lifecycle_run_detach_and_force_delete run_detach_and_force_delete
t_run lifecycle_kill_all_reaches_every_process kill_all_reaches_every_process
t_run lifecycle_kill_signal_names kill_signal_names
t_run lifecycle_list_and_ps list_and_ps
t_run lifecycle_pause_resume pause_resume
t_run lifecycle_hooks_run_in_order hooks_run_in_order
t_run lifecycle_failing_create_hook_leaves_nothing failing_create_hook_leaves_nothing
t_run lifecycle_no_pivot no_pivot
t_run lifecycle_missing_program_fails_create start_reports_missing_program
t_run lifecycle_preserve_fds_and_listen_fds preserve_fds_and_listen_fds
t_run lifecycle_update_limits update_limits
t_run lifecycle_features_spec_version features_spec_version
t_run lifecycle_exec_caps_and_no_new_privs exec_caps_and_no_new_privs
t_run lifecycle_kill_default_is_term kill_default_is_term
t_run lifecycle_join_namespaces_by_path join_namespace_by_path
t_run lifecycle_time_namespace_offsets time_namespace_offsets
t_run lifecycle_run_forwards_signals run_forwards_signals
t_run lifecycle_ps_passes_arguments_to_ps ps_passes_arguments_to_ps
t_run lifecycle_flags_after_id_and_equals_form flags_after_id_and_equals_form
