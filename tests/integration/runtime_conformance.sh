#!/bin/bash
# OCI runtime-spec conformance of vessel-runtime, driven the way the OCI
# validation harness drives a runtime: the bundle directory is the root
# filesystem itself (root.path "."), the runtime's stdout/stderr are files the
# container inherits, `create --pid-file P --bundle B ID`, `start ID`,
# `state ID` polled until a status, `kill ID KILL|TERM|USR1`, `delete ID`.
# The config is the harness's default one (14 capabilities in all five sets,
# RLIMIT_NOFILE 1024, hostname, the six default mounts), changed per case.
#
# Container IDs start with "cf-": the default cgroup is /vessel/<id> whatever
# the --root, so an ID shared with another state root would share the cgroup.
#
# Each case names the runtime-spec rule it checks (runtime.md, config.md,
# config-linux.md). Where runc 1.1.5 differs from the spec, the case says so.
. "$(dirname "$0")/lib.sh"

PY=/usr/bin/python3
ROOT=$T_TMP/state
CG=vessel-conformance-$$
rt() { "$BUILD/vessel-runtime" --root "$ROOT" "$@"; }
cleanup() {
	local id d
	for id in $(rt list -q 2>/dev/null); do rt delete --force "$id" >/dev/null 2>&1; done
	for d in /sys/fs/cgroup/*/"$CG" /sys/fs/cgroup/*/"$CG"-foreign; do
		[ -d "$d" ] && rmdir "$d" 2>/dev/null
	done
	rm -rf "$T_TMP"
}
trap cleanup EXIT

[ -x "$BUILD/vessel-runtime" ] || { echo "not ok runtime_conformance: no $BUILD/vessel-runtime"; exit 1; }

# One busybox tree, reused: B is both the bundle and the container's root.
"$TOP/tests/integration/make-bundle.sh" "$T_TMP/b" >/dev/null
B=$T_TMP/b/rootfs
rm -f "$T_TMP/b/config.json"

# cfg [PYTHON] -- ARGS...: writes B/config.json: the harness default, then
# PYTHON run on it as `c`, with process.args = ARGS.
cfg() {
	local stmt=""
	if [ "$1" != -- ]; then stmt=$1; shift; fi
	shift
	"$PY" - "$B/config.json" "$stmt" "$@" <<'PY'
import json, sys
path, stmt, args = sys.argv[1], sys.argv[2], sys.argv[3:]
caps = ["CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_MKNOD",
        "CAP_NET_RAW", "CAP_SETGID", "CAP_SETUID", "CAP_SETFCAP", "CAP_SETPCAP",
        "CAP_NET_BIND_SERVICE", "CAP_SYS_CHROOT", "CAP_KILL", "CAP_AUDIT_WRITE"]
def m(dst, typ, src, *opts):
    return {"destination": dst, "type": typ, "source": src, "options": list(opts)}
c = {
    "ociVersion": "1.0.2",
    "hostname": "conformance",
    "root": {"path": ".", "readonly": False},
    "process": {
        "terminal": False, "user": {"uid": 0, "gid": 0}, "args": args, "cwd": "/",
        "env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                "TERM=xterm"],
        "rlimits": [{"type": "RLIMIT_NOFILE", "hard": 1024, "soft": 1024}],
        "capabilities": {k: list(caps) for k in
                         ("bounding", "effective", "inheritable", "permitted", "ambient")},
    },
    "mounts": [
        m("/proc", "proc", "proc", "nosuid", "noexec", "nodev"),
        m("/dev", "tmpfs", "tmpfs", "nosuid", "strictatime", "mode=755", "size=65536k"),
        m("/dev/pts", "devpts", "devpts", "nosuid", "noexec", "newinstance",
          "ptmxmode=0666", "mode=0620", "gid=5"),
        m("/dev/shm", "tmpfs", "shm", "nosuid", "noexec", "nodev", "mode=1777", "size=65536k"),
        m("/dev/mqueue", "mqueue", "mqueue", "nosuid", "noexec", "nodev"),
        m("/sys", "sysfs", "sysfs", "nosuid", "noexec", "nodev", "ro"),
    ],
    "linux": {
        "resources": {"devices": [{"allow": False, "access": "rwm"}]},
        "namespaces": [{"type": t} for t in ("pid", "network", "ipc", "uts", "mount")],
    },
}
def cap_add(name):
    for k in ("bounding", "effective", "permitted"):
        c["process"]["capabilities"][k].append(name)
exec(stmt)
json.dump(c, open(path, "w"), indent=1)
PY
}

status_of() { rt state "$1" 2>/dev/null | sed -n 's/.*"status": *"\([a-z]*\)".*/\1/p'; }
# waits (bounded, 10 s) until the container has the status
wait_status() {
	local i
	for i in $(seq 1 500); do
		[ "$(status_of "$1")" = "$2" ] && return 0
		sleep 0.02
	done
	t_fail "$1 never became $2 (is $(status_of "$1"))"
}
# waits (bounded) until the file exists
wait_file() {
	local i
	for i in $(seq 1 500); do
		[ -e "$1" ] && return 0
		sleep 0.02
	done
	t_fail "$1 never appeared"
}
gone() {
	[ ! -e "$ROOT/$1" ] || t_fail "state of $1 left behind"
	! ls -d /sys/fs/cgroup/*/vessel/"$1" 2>/dev/null | grep -q . || t_fail "cgroup of $1 left behind"
}
# harness: create with the runtime's stdio as files in the bundle
h_create() { rt create --pid-file "$T_TMP/pid" --bundle "$B" "$1" > "$B/out" 2> "$B/err"; }
# harness: create, start, wait until stopped, delete; output in $B/out
h_run() {
	h_create "$1" || t_fail "create: $(cat "$B/err")"
	rt start "$1" || t_fail "start failed"
	wait_status "$1" stopped
	rt delete "$1" || t_fail "delete of stopped $1 failed"
	gone "$1"
}
# the container's output must not say FAIL and must say each given word
out_ok() {
	! grep -q FAIL "$B/out" || t_fail "$(grep FAIL "$B/out" | head -3 | tr '\n' ' ')"
	for w in "$@"; do grep -q -- "$w" "$B/out" || t_fail "no \"$w\" in: $(head -c 400 "$B/out")"; done
}

# ---- lifecycle and operations (runtime.md "Operations") ----------------------

bundle_as_root_runs_program_with_inherited_stdio() {
	cfg -- sh -c 'echo to-stdout; echo to-stderr >&2'
	h_create cf-c1 || t_fail "create: $(cat "$B/err")"
	[ "$(status_of cf-c1)" = created ] || t_fail "after create: $(status_of cf-c1)"
	[ ! -s "$B/out" ] || t_fail "program ran before start: $(cat "$B/out")"
	rt start cf-c1
	wait_status cf-c1 stopped
	grep -qx to-stdout "$B/out" || t_fail "stdout file: $(cat "$B/out")"
	grep -qx to-stderr "$B/err" || t_fail "stderr file: $(cat "$B/err")"
	rt delete cf-c1
	gone cf-c1
}

pid_file_holds_state_pid_without_newline() {
	cfg -- true
	h_create cf-c2 || t_fail "create: $(cat "$B/err")"
	# the harness parses the file with Atoi: digits only
	grep -qE '^[0-9]+$' "$T_TMP/pid" && [ "$(tail -c 1 "$T_TMP/pid" | od -An -c | tr -d ' ')" != '\n' ] ||
		t_fail "pid file: $(od -c "$T_TMP/pid" | head -2)"
	rt state cf-c2 | grep -q "\"pid\": $(cat "$T_TMP/pid")," || t_fail "state pid is not $(cat "$T_TMP/pid")"
	rt delete --force cf-c2
	gone cf-c2
}

create_without_id_fails() {
	cfg -- true
	if rt create --bundle "$B" > /dev/null 2> "$T_TMP/err"; then t_fail "create without ID succeeded"; fi
	[ -s "$T_TMP/err" ] || t_fail "no message"
	[ -z "$(rt list -q)" ] || t_fail "a container was left: $(rt list -q)"
}

create_with_duplicate_id_fails_and_keeps_first() {
	cfg -- sleep 30
	h_create cf-c3 || t_fail "create: $(cat "$B/err")"
	local pid1
	pid1=$(cat "$T_TMP/pid")
	if rt create --bundle "$B" cf-c3 > /dev/null 2> "$T_TMP/err"; then t_fail "second create succeeded"; fi
	grep -q cf-c3 "$T_TMP/err" || t_fail "message: $(cat "$T_TMP/err")"
	[ "$(status_of cf-c3)" = created ] || t_fail "first container is $(status_of cf-c3)"
	rt state cf-c3 | grep -q "\"pid\": $pid1," || t_fail "first container's pid changed"
	rt delete --force cf-c3
	gone cf-c3
}

state_of_unknown_or_missing_id_fails() {
	if rt state no-such-container > "$T_TMP/out" 2> "$T_TMP/err"; then t_fail "state of unknown ID succeeded"; fi
	grep -q no-such-container "$T_TMP/err" || t_fail "message: $(cat "$T_TMP/err")"
	[ ! -s "$T_TMP/out" ] || t_fail "stdout not empty: $(cat "$T_TMP/out")"
	if rt state > /dev/null 2>&1; then t_fail "state without ID succeeded"; fi
}

state_json_follows_the_lifecycle() {
	cfg 'c["annotations"] = {"org.example.conformance": "yes"}' -- sh -c 'sleep 30'
	h_create cf-c4 || t_fail "create: $(cat "$B/err")"
	rt state cf-c4 > "$T_TMP/created.json"
	rt start cf-c4
	rt state cf-c4 > "$T_TMP/running.json"
	rt kill cf-c4 KILL
	wait_status cf-c4 stopped
	rt state cf-c4 > "$T_TMP/stopped.json"
	"$PY" - "$T_TMP" "$B" <<'PY' || t_fail "state JSON (see log)"
import json, sys
d, bundle = sys.argv[1], sys.argv[2]
for st in ("created", "running", "stopped"):
    s = json.load(open("%s/%s.json" % (d, st)))
    print(st, s)
    # runtime.md "State": the required properties
    assert isinstance(s["ociVersion"], str) and s["ociVersion"].startswith("1."), s
    assert s["id"] == "cf-c4" and s["status"] == st, s
    assert s["bundle"] == bundle, s
    assert s["annotations"] == {"org.example.conformance": "yes"}, s
    # pid is required while created or running
    if st != "stopped":
        assert isinstance(s["pid"], int) and s["pid"] > 0, s
c = json.load(open(d + "/created.json"))
r = json.load(open(d + "/running.json"))
assert c["pid"] == r["pid"], (c, r)
PY
	rt delete cf-c4
	gone cf-c4
}

# runtime.md "State": bundle is the absolute path, whatever the caller gave
bundle_defaults_to_cwd_and_is_reported_absolute() {
	cfg -- true
	(cd "$B" && rt create cf-c34 > /dev/null 2>&1) || t_fail "create in the bundle without --bundle failed"
	rt state cf-c34 | grep -q "\"bundle\": \"$B\"" || t_fail "bundle: $(rt state cf-c34 | grep bundle)"
	rt delete --force cf-c34
	(cd "$T_TMP/b" && rt create --bundle rootfs cf-c35 > /dev/null 2>&1) || t_fail "create with a relative bundle failed"
	rt state cf-c35 | grep -q "\"bundle\": \"$B\"" || t_fail "bundle: $(rt state cf-c35 | grep bundle)"
	rt delete --force cf-c35
	gone cf-c34
	gone cf-c35
}

kill_without_id_or_of_unknown_id_fails() {
	if rt kill > /dev/null 2>&1; then t_fail "kill without ID succeeded"; fi
	if rt kill no-such-container KILL 2> "$T_TMP/err"; then t_fail "kill of unknown ID succeeded"; fi
	grep -q no-such-container "$T_TMP/err" || t_fail "message: $(cat "$T_TMP/err")"
}

kill_of_created_container_is_delivered() {
	cfg -- true
	h_create cf-c5 || t_fail "create: $(cat "$B/err")"
	rt kill cf-c5 KILL || t_fail "kill of a created container failed"
	wait_status cf-c5 stopped
	[ ! -s "$B/out" ] || t_fail "the program ran: $(cat "$B/out")"
	rt delete cf-c5
	gone cf-c5
}

kill_of_stopped_container_fails_and_changes_nothing() {
	cfg -- true
	h_create cf-c6 || t_fail "create: $(cat "$B/err")"
	rt start cf-c6
	wait_status cf-c6 stopped
	rt state cf-c6 > "$T_TMP/before"
	if rt kill cf-c6 KILL 2> "$T_TMP/err"; then t_fail "kill of a stopped container succeeded"; fi
	[ -s "$T_TMP/err" ] || t_fail "no message"
	rt state cf-c6 > "$T_TMP/after"
	cmp -s "$T_TMP/before" "$T_TMP/after" || t_fail "state changed: $(diff "$T_TMP/before" "$T_TMP/after")"
	rt delete cf-c6
	gone cf-c6
}

kill_delivers_named_signals_to_trapping_init() {
	local sig
	for sig in TERM USR1; do
		rm -f "$B/ready" "$B/got-$sig"
		# PID 1 of a PID namespace only gets signals it handles: the trap
		cfg -- sh -c "trap 'touch /got-$sig; exit 0' $sig; touch /ready; while :; do sleep 1; done"
		h_create cf-c7 || t_fail "create: $(cat "$B/err")"
		rt start cf-c7
		wait_file "$B/ready"
		rt kill cf-c7 "$sig" || t_fail "kill $sig failed"
		wait_status cf-c7 stopped
		[ -e "$B/got-$sig" ] || t_fail "$sig not delivered"
		rt delete cf-c7
		gone cf-c7
	done
	rm -f "$B/ready" "$B"/got-*
}

delete_of_running_container_fails_and_keeps_it() {
	cfg -- sleep 30
	h_create cf-c8 || t_fail "create: $(cat "$B/err")"
	rt start cf-c8
	local pid
	pid=$(cat "$T_TMP/pid")
	if rt delete cf-c8 2> "$T_TMP/err"; then t_fail "delete of a running container succeeded"; fi
	grep -q cf-c8 "$T_TMP/err" || t_fail "message: $(cat "$T_TMP/err")"
	[ "$(status_of cf-c8)" = running ] || t_fail "after refused delete: $(status_of cf-c8)"
	kill -0 "$pid" || t_fail "init $pid is gone"
	rt kill cf-c8 KILL
	wait_status cf-c8 stopped
	rt delete cf-c8
	gone cf-c8
}

# runtime.md says deleting a container that is not stopped MUST fail; runc,
# crun and youki all delete a *created* one without --force (containerd relies
# on it), and so does vessel-runtime: its init is killed and nothing is left.
delete_of_created_container_removes_it_like_runc() {
	cfg -- sh -c 'echo ran > /ran'
	rm -f "$B/ran"
	h_create cf-c9 || t_fail "create: $(cat "$B/err")"
	local pid
	pid=$(cat "$T_TMP/pid")
	rt delete cf-c9 || t_fail "delete of a created container failed"
	gone cf-c9
	# gone, or a zombie nobody here is the parent of
	! grep -qs '^State:.*[RSD]' "/proc/$pid/status" || t_fail "init $pid still alive"
	[ ! -e "$B/ran" ] || t_fail "the program ran"
}

delete_leaves_cgroups_it_did_not_create() {
	local foreign=/sys/fs/cgroup/pids/$CG-foreign
	mkdir "$foreign"
	cfg -- true
	h_create cf-c10 || t_fail "create: $(cat "$B/err")"
	echo "$(cat "$T_TMP/pid")" > "$foreign/cgroup.procs"
	rt start cf-c10
	wait_status cf-c10 stopped
	rt delete cf-c10 || t_fail "delete failed"
	[ -d "$foreign" ] || t_fail "delete removed $foreign"
	rmdir "$foreign"
	gone cf-c10
}

# runtime.md "Create": a failed create leaves the environment as it was; a
# cgroup already holding processes is someone else's and is refused
create_into_a_busy_cgroup_is_refused_and_harms_nothing() {
	cfg "c['linux']['cgroupsPath'] = '/$CG'" -- sleep 30
	h_create cf-c38 || t_fail "create: $(cat "$B/err")"
	local pid
	pid=$(cat "$T_TMP/pid")
	# the same cgroup from another state root, with a program that is missing
	cfg "c['linux']['cgroupsPath'] = '/$CG'" -- /bin/not-there
	if "$BUILD/vessel-runtime" --root "$T_TMP/other-root" create --bundle "$B" cf-c38 \
		> /dev/null 2> "$T_TMP/err"; then
		"$BUILD/vessel-runtime" --root "$T_TMP/other-root" delete --force cf-c38
		t_fail "second create into the busy cgroup succeeded"
	fi
	grep -q "already has 1 process" "$T_TMP/err" || t_fail "message: $(cat "$T_TMP/err")"
	[ "$(status_of cf-c38)" = created ] || t_fail "first container is now $(status_of cf-c38)"
	grep -qs '^State:.*[RSD]' "/proc/$pid/status" || t_fail "first container's init $pid was killed"
	rt delete --force cf-c38
	gone cf-c38
}

config_changes_after_create_do_not_affect_the_container() {
	cfg -- sh -c 'echo started; hostname'
	h_create cf-c11 || t_fail "create: $(cat "$B/err")"
	echo '{"ociVersion": "1.0.0"}' > "$B/config.json"
	rt start cf-c11 || t_fail "start after config.json was replaced failed"
	wait_status cf-c11 stopped
	out_ok started conformance
	rt delete cf-c11
	gone cf-c11
}

unknown_properties_and_annotations_are_accepted() {
	cfg 'c["annotations"] = {"org.example.empty": ""}; c["unknownTop"] = "x"; c["process"]["unknownInner"] = {"a": 1}; c["linux"]["unknownLinux"] = [1]' -- echo fine
	h_run cf-c12
	out_ok fine
}

invalid_values_are_refused_without_leftovers() {
	local stmt
	for stmt in 'c["ociVersion"] = "invalid"' \
		'c["process"]["capabilities"]["bounding"].append("CAP_NOT_A_CAP")' \
		'c["process"]["rlimits"].append({"type": "RLIMIT_NOT_ONE", "soft": 1, "hard": 1})' \
		'c["linux"]["namespaces"].append({"type": "notans"})'; do
		cfg "$stmt" -- true
		if h_create cf-c13; then t_fail "create accepted: $stmt"; fi
		[ -s "$B/err" ] || t_fail "no message for: $stmt"
		gone cf-c13
	done
}

# ---- hooks (config.md "POSIX-platform Hooks", runtime.md "Lifecycle") ---------

hooks_get_state_on_stdin_with_status_per_stage() {
	rm -f "$B"/hook-*
	cfg "c['annotations'] = {'org.example.hook': 'stdin test'}
def h(n): return [{'path': '$B/bin/sh', 'args': ['sh', '-c', 'cat > $B/hook-' + n], 'timeout': 5}]
c['hooks'] = {n: h(n) for n in ('prestart', 'createRuntime', 'poststart', 'poststop')}" -- true
	h_create cf-c14 || t_fail "create: $(cat "$B/err")"
	rt state cf-c14 > "$T_TMP/st.json"
	rt start cf-c14
	wait_status cf-c14 stopped
	rt delete cf-c14
	gone cf-c14
	"$PY" - "$B" "$T_TMP/st.json" <<'PY' || t_fail "hook stdin (see log)"
import json, sys
b, st = sys.argv[1], json.load(open(sys.argv[2]))
want = {"prestart": "created", "createRuntime": "created", "poststart": "running",
        "poststop": "stopped"}
for n, status in want.items():
    s = json.load(open("%s/hook-%s" % (b, n)))
    print(n, s)
    assert s["id"] == "cf-c14" and s["bundle"] == b, s
    assert s["annotations"] == {"org.example.hook": "stdin test"}, s
    assert s["status"] == status, s
    if n != "poststop":
        assert s["pid"] == st["pid"], (s, st)
PY
	rm -f "$B"/hook-*
}

prestart_hook_failure_fails_create_and_program_never_runs() {
	rm -f "$B/output"
	cfg "c['hooks'] = {'prestart': [{'path': '$B/bin/false', 'args': ['false']}]}" -- sh -c 'touch /output'
	if h_create cf-c15; then rt start cf-c15; t_fail "create with a failing prestart hook succeeded"; fi
	grep -q prestart "$B/err" || t_fail "message: $(cat "$B/err")"
	if rt start cf-c15 2> /dev/null; then t_fail "start succeeded"; fi
	if rt state cf-c15 > /dev/null 2>&1; then t_fail "the container still exists"; fi
	[ ! -e "$B/output" ] || t_fail "the program ran"
	gone cf-c15
}

poststart_hook_failure_is_only_a_warning() {
	rm -f "$B/output"
	cfg "c['hooks'] = {'poststart': [{'path': '$B/bin/false', 'args': ['false']},
	{'path': '$B/bin/sh', 'args': ['sh', '-c', 'echo poststart-called >> $B/output']}]}" -- true
	h_create cf-c16 || t_fail "create: $(cat "$B/err")"
	rt start cf-c16 2> "$T_TMP/err" || t_fail "start failed: $(cat "$T_TMP/err")"
	grep -q 'warning.*poststart\[0\]' "$T_TMP/err" || t_fail "no warning: $(cat "$T_TMP/err")"
	wait_status cf-c16 stopped
	rt delete cf-c16
	[ "$(cat "$B/output")" = poststart-called ] || t_fail "the next hook did not run once"
	gone cf-c16
	rm -f "$B/output"
}

poststop_hook_failure_is_only_a_warning() {
	rm -f "$B/output"
	cfg "c['hooks'] = {'poststop': [{'path': '$B/bin/false', 'args': ['false']},
	{'path': '$B/bin/sh', 'args': ['sh', '-c', 'echo poststop-called >> $B/output']}]}" -- true
	h_create cf-c17 || t_fail "create: $(cat "$B/err")"
	rt start cf-c17
	wait_status cf-c17 stopped
	rt delete cf-c17 2> "$T_TMP/err" || t_fail "delete failed: $(cat "$T_TMP/err")"
	grep -q 'warning.*poststop\[0\]' "$T_TMP/err" || t_fail "no warning: $(cat "$T_TMP/err")"
	[ "$(cat "$B/output")" = poststop-called ] || t_fail "the next hook did not run once"
	gone cf-c17
	rm -f "$B/output"
}

# ---- what the program sees (config.md, config-linux.md) -----------------------

# the 14 default capabilities (mask 0xa80425fb) in every set, ambient included
default_config_seen_inside() {
	cfg -- sh -c '
	for s in CapInh CapPrm CapEff CapBnd CapAmb; do
		grep -q "^$s:.*00000000a80425fb$" /proc/self/status || echo "FAIL $s: $(grep ^$s: /proc/self/status)"
	done
	grep -q "^NoNewPrivs:.*0$" /proc/self/status || echo "FAIL no_new_privs set"
	[ "$(ulimit -n)" = 1024 ] && [ "$(ulimit -Hn)" = 1024 ] || echo "FAIL nofile $(ulimit -n)/$(ulimit -Hn)"
	[ "$(hostname)" = conformance ] || echo "FAIL hostname $(hostname)"
	[ "$(id -u):$(id -g)" = 0:0 ] || echo "FAIL ids $(id)"
	[ "$PWD" = / ] || echo "FAIL cwd $PWD"
	[ "$TERM" = xterm ] || echo "FAIL TERM=$TERM"
	[ "$(tr "\0" "\n" < /proc/$$/cmdline | head -n 2 | tr "\n" " ")" = "sh -c " ] ||
		echo "FAIL args: $(tr "\0" " " < /proc/$$/cmdline)"
	echo checked'
	h_run cf-c18
	out_ok checked
}

user_ids_additional_gids_cwd_env_applied() {
	cfg 'c["process"]["user"] = {"uid": 1000, "gid": 1000, "additionalGids": [5, 6, 1000]}
c["process"]["cwd"] = "/tmp"; c["process"]["env"].append("WITH_EQUALS=a=b")
c["process"]["noNewPrivileges"] = True' -- sh -c '
	[ "$(id -u):$(id -g)" = 1000:1000 ] || echo "FAIL ids $(id)"
	for g in 5 6 1000; do id -G | tr " " "\n" | grep -qx $g || echo "FAIL group $g missing: $(id -G)"; done
	[ "$PWD" = /tmp ] || echo "FAIL cwd $PWD"
	[ "$WITH_EQUALS" = a=b ] || echo "FAIL env $WITH_EQUALS"
	grep -q "^NoNewPrivs:.*1$" /proc/self/status || echo "FAIL no_new_privs not set"
	echo checked'
	h_run cf-c19
	out_ok checked
}

rlimits_and_oom_score_adj_applied_inside() {
	cfg 'c["process"]["rlimits"] += [{"type": "RLIMIT_CORE", "soft": 2048, "hard": 4096},
	{"type": "RLIMIT_NPROC", "soft": 500, "hard": 600}]
c["process"]["oomScoreAdj"] = 321' -- sh -c '
	[ "$(ulimit -c):$(ulimit -Hc)" = 4:8 ] || echo "FAIL core $(ulimit -c):$(ulimit -Hc) (512-byte blocks)"
	[ "$(ulimit -u):$(ulimit -Hu)" = 500:600 ] || echo "FAIL nproc $(ulimit -u):$(ulimit -Hu)"
	[ "$(cat /proc/self/oom_score_adj)" = 321 ] || echo "FAIL oom $(cat /proc/self/oom_score_adj)"
	echo checked'
	h_run cf-c20
	out_ok checked
}

default_devices_present_with_modes() {
	# config-linux.md "Default Devices" and "/dev symbolic links"
	cfg -- sh -c '
	for d in null:1:3 zero:1:5 full:1:7 random:1:8 urandom:1:9 tty:5:0; do
		n=${d%%:*}
		got=$(stat -c "%F %t:%T %a" /dev/$n)
		[ "$got" = "character special file ${d#*:} 666" ] || echo "FAIL /dev/$n: $got"
	done
	[ "$(readlink /dev/ptmx)" = pts/ptmx ] || echo "FAIL /dev/ptmx -> $(readlink /dev/ptmx)"
	[ "$(stat -L -c "%F %t:%T" /dev/ptmx)" = "character special file 5:2" ] || echo "FAIL ptmx target"
	for l in fd:/proc/self/fd stdin:/proc/self/fd/0 stdout:/proc/self/fd/1 stderr:/proc/self/fd/2; do
		[ "$(readlink /dev/${l%%:*})" = "${l#*:}" ] || echo "FAIL /dev/${l%%:*} -> $(readlink /dev/${l%%:*})"
	done
	echo checked'
	h_run cf-c21
	out_ok checked
}

linux_devices_created_with_type_numbers_mode_and_owner() {
	cfg 'c["linux"]["devices"] = [
	{"path": "/dev/fuse", "type": "c", "major": 10, "minor": 229, "fileMode": 0o640, "uid": 1000, "gid": 5},
	{"path": "/dev/loopx", "type": "b", "major": 7, "minor": 0, "fileMode": 0o600, "uid": 0, "gid": 0},
	{"path": "/dev/nullu", "type": "u", "major": 1, "minor": 3},
	{"path": "/dev/fifo", "type": "p"}]' -- sh -c '
	[ "$(stat -c "%F %t:%T %a %u:%g" /dev/fuse)" = "character special file a:e5 640 1000:5" ] || echo "FAIL fuse $(stat -c "%F %t:%T %a %u:%g" /dev/fuse)"
	[ "$(stat -c "%F %t:%T %a %u:%g" /dev/loopx)" = "block special file 7:0 600 0:0" ] || echo "FAIL loopx $(stat -c "%F %t:%T %a %u:%g" /dev/loopx)"
	[ "$(stat -c "%F %t:%T" /dev/nullu)" = "character special file 1:3" ] || echo "FAIL nullu $(stat -c "%F %t:%T" /dev/nullu)"
	[ "$(stat -c %F /dev/fifo)" = fifo ] || echo "FAIL fifo $(stat -c %F /dev/fifo)"
	echo checked'
	h_run cf-c22
	out_ok checked
}

default_filesystems_mounted_in_config_order() {
	cfg 'c["mounts"].append({"destination": "/mnt/scratch", "type": "tmpfs", "source": "scratch", "options": ["size=1m"]})' -- cat /proc/self/mountinfo
	h_run cf-c23
	"$PY" - "$B/out" <<'PY' || t_fail "mountinfo (see log)"
import sys
rows = []
for line in open(sys.argv[1]):
    f = line.split()
    sep = f.index("-")
    rows.append((f[4], f[sep + 1], f[sep + 2]))
print(rows)
want = [("/proc", "proc", "proc"), ("/dev", "tmpfs", "tmpfs"), ("/dev/pts", "devpts", "devpts"),
        ("/dev/shm", "tmpfs", "shm"), ("/dev/mqueue", "mqueue", "mqueue"),
        ("/sys", "sysfs", "sysfs"), ("/mnt/scratch", "tmpfs", "scratch")]
# each config mount is found, after the one before it (config.md "Mounts": in order)
pos = -1
for w in want:
    idx = [i for i, r in enumerate(rows) if r == w]
    assert idx, ("missing", w)
    later = [i for i in idx if i > pos]
    assert later, ("out of order", w)
    pos = later[0]
PY
}

masked_paths_unreadable_and_readonly_paths_unwritable() {
	local f
	mkdir -p "$B/secret-dir/sub" "$B/ro-dir/sub"
	for f in secret-file secret-dir/file secret-dir/sub/file ro-file ro-dir/file ro-dir/sub/file; do
		echo secret > "$B/$f"
	done
	mknod "$B/secret-fifo" p
	# nested entries: their parent is masked or read-only already
	cfg 'c["linux"]["maskedPaths"] = ["/secret-dir", "/secret-file", "/secret-dir/sub",
	"/secret-dir/file", "/secret-dir/sub/file", "/secret-fifo", "/not-there"]
c["linux"]["readonlyPaths"] = ["/ro-dir", "/ro-file", "/ro-dir/sub", "/ro-dir/file",
	"/ro-dir/sub/file", "/proc/sys", "/not-there-either"]' -- sh -c '
	[ -z "$(ls -A /secret-dir)" ] || echo "FAIL /secret-dir lists $(ls -A /secret-dir)"
	[ -z "$(cat /secret-file)" ] || echo "FAIL /secret-file readable"
	[ -c /secret-fifo ] || echo "FAIL /secret-fifo not masked"
	for f in /ro-file /ro-dir/file /ro-dir/sub/file; do
		(echo x > $f) 2>/dev/null && echo "FAIL $f writable"
		[ "$(cat $f)" = secret ] || echo "FAIL $f unreadable"
	done
	touch /ro-dir/new 2>/dev/null && echo "FAIL /ro-dir writable"
	(echo x > /proc/sys/kernel/domainname) 2>/dev/null && echo "FAIL /proc/sys writable"
	echo checked'
	h_run cf-c24
	out_ok checked
	[ "$(cat "$B/secret-file")" = secret ] || t_fail "host file changed"
	[ "$(cat "$B/ro-file")" = secret ] || t_fail "host read-only file changed"
	[ ! -e "$B/ro-dir/new" ] || t_fail "file created in ro-dir"
	rm -rf "$B/secret-dir" "$B/ro-dir" "$B/secret-file" "$B/secret-fifo" "$B/ro-file"
}

readonly_root_refuses_writes() {
	cfg 'c["root"]["readonly"] = True' -- sh -c '
	touch /written 2>/dev/null && echo "FAIL root writable"
	touch /dev/shm/ok || echo "FAIL /dev/shm not writable"
	echo checked'
	h_run cf-c25
	out_ok checked
	[ ! -e "$B/written" ] || { rm -f "$B/written"; t_fail "a file reached the root"; }
}

sysctls_applied() {
	cfg 'c["linux"]["sysctl"] = {"net.ipv4.ip_forward": "1", "kernel.shmmax": "12345678"}' -- sh -c '
	[ "$(cat /proc/sys/net/ipv4/ip_forward)" = 1 ] || echo "FAIL ip_forward"
	[ "$(cat /proc/sys/kernel/shmmax)" = 12345678 ] || echo "FAIL shmmax $(cat /proc/sys/kernel/shmmax)"
	echo checked'
	h_run cf-c26
	out_ok checked
	[ "$(cat /proc/sys/kernel/shmmax)" != 12345678 ] || t_fail "host shmmax changed"
}

namespace_paths_joined_and_absent_namespaces_shared() {
	local holder want
	unshare --net --uts --ipc sh -c 'hostname joined; exec sleep 60' &
	holder=$!
	# this case runs in its own subshell: stop the holder however it ends
	trap "kill $holder 2>/dev/null || true" EXIT
	# wait until the holder is the sleep: its namespaces and hostname are set
	for _ in $(seq 1 500); do
		[ "$(cat /proc/$holder/comm 2>/dev/null)" = sleep ] && break
		sleep 0.02
	done
	[ "$(cat /proc/$holder/comm 2>/dev/null)" = sleep ] || t_fail "namespace holder did not start"
	want="$(readlink /proc/$holder/ns/net) $(readlink /proc/$holder/ns/ipc) $(readlink /proc/self/ns/cgroup)"
	cfg "c.pop('hostname')
c['linux']['namespaces'] = [{'type': 'pid'}, {'type': 'mount'},
	{'type': 'network', 'path': '/proc/$holder/ns/net'},
	{'type': 'uts', 'path': '/proc/$holder/ns/uts'}, {'type': 'ipc', 'path': '/proc/$holder/ns/ipc'}]" \
		-- sh -c 'echo "$(readlink /proc/self/ns/net) $(readlink /proc/self/ns/ipc) $(readlink /proc/self/ns/cgroup)"; hostname'
	h_run cf-c27
	kill "$holder"
	wait "$holder" 2>/dev/null || true
	grep -Fqx "$want" "$B/out" || t_fail "namespaces: $(head -1 "$B/out"), want $want"
	grep -qx joined "$B/out" || t_fail "uts not joined: $(cat "$B/out")"
}

namespace_path_of_wrong_type_refused() {
	cfg 'c["linux"]["namespaces"] = [{"type": "pid"}, {"type": "mount"}, {"type": "uts"},
	{"type": "network", "path": "/proc/self/ns/uts"}]' -- true
	if h_create cf-c28; then t_fail "create joined a uts namespace as network"; fi
	grep -q 'namespaces\[3\]' "$B/err" || t_fail "message: $(cat "$B/err")"
	gone cf-c28
}

rootfs_propagation_shared_exposes_and_private_hides() {
	local p
	for p in shared private; do
		rm -rf "$B/view" "$B/src" "$B/dst"
		mkdir -p "$B/view" "$B/src" "$B/dst"
		touch "$B/src/marker"
		# a recursive bind of / at /view, then a new mount at /dst: it shows
		# under /view/dst only if / propagates to its bind copy (shared)
		cfg "c['linux']['rootfsPropagation'] = '$p'; cap_add('CAP_SYS_ADMIN')" -- sh -c '
		mount --rbind / /view || echo "FAIL rbind"
		mount --bind /src /dst || echo "FAIL bind"
		[ -e /view/dst/marker ] && echo exposed || echo hidden
		umount /dst; umount -l /view'
		h_run cf-c29
		if [ $p = shared ]; then out_ok exposed; else out_ok hidden; fi
	done
	rm -rf "$B/view" "$B/src" "$B/dst"
}

# runc 1.1.5 fails create here (it binds the rootfs under an unbindable /)
rootfs_propagation_unbindable_refuses_binds_of_root() {
	mkdir -p "$B/view"
	cfg "c['linux']['rootfsPropagation'] = 'unbindable'; cap_add('CAP_SYS_ADMIN')" -- sh -c '
	mount --bind / /view 2>/dev/null && { echo "FAIL / could be bound"; umount /view; }
	echo checked'
	h_run cf-c33
	out_ok checked
	rmdir "$B/view"
}

seccomp_errno_rule_applied() {
	cfg 'c["linux"]["seccomp"] = {"defaultAction": "SCMP_ACT_ALLOW",
	"syscalls": [{"names": ["getcwd"], "action": "SCMP_ACT_ERRNO"}]}' -- sh -c '
	/bin/busybox pwd -P 2>/dev/null && echo "FAIL getcwd allowed"
	echo checked'
	h_run cf-c30
	out_ok checked
}

# ---- cgroups, read from the host while the container is created (v1) --------

cgroup_files_written_per_resource() {
	[ -d /sys/fs/cgroup/memory ] && [ -d /sys/fs/cgroup/cpu ] || t_skip "no cgroup v1 memory/cpu hierarchies"
	local L=50593792 root=/sys/fs/cgroup
	cfg "c['linux']['cgroupsPath'] = '/$CG'
c['linux']['resources'].update({
	'memory': {'limit': $L, 'reservation': $L, 'swap': $L, 'swappiness': 10, 'disableOOMKiller': True},
	'cpu': {'shares': 512, 'quota': 50000, 'period': 100000, 'cpus': '0', 'mems': '0'},
	'pids': {'limit': 77},
	'devices': [{'allow': False, 'access': 'rwm'},
		{'allow': True, 'type': 'c', 'major': 10, 'minor': 229, 'access': 'rw'}]})" -- true
	h_create cf-c31 || t_fail "create: $(cat "$B/err")"
	local pid
	pid=$(cat "$T_TMP/pid")
	grep -q "memory:/$CG\$" "/proc/$pid/cgroup" || t_fail "init not in /$CG: $(cat /proc/$pid/cgroup)"
	[ "$(cat $root/memory/$CG/memory.limit_in_bytes)" = $L ] || t_fail "memory limit"
	[ "$(cat $root/memory/$CG/memory.soft_limit_in_bytes)" = $L ] || t_fail "memory reservation"
	[ ! -e $root/memory/$CG/memory.memsw.limit_in_bytes ] ||
		[ "$(cat $root/memory/$CG/memory.memsw.limit_in_bytes)" = $L ] || t_fail "memory swap"
	[ "$(cat $root/memory/$CG/memory.swappiness)" = 10 ] || t_fail "swappiness"
	grep -qx "oom_kill_disable 1" $root/memory/$CG/memory.oom_control || t_fail "oom killer not disabled"
	[ "$(cat $root/cpu/$CG/cpu.shares)" = 512 ] || t_fail "cpu shares"
	[ "$(cat $root/cpu/$CG/cpu.cfs_quota_us)" = 50000 ] || t_fail "cpu quota"
	[ "$(cat $root/cpu/$CG/cpu.cfs_period_us)" = 100000 ] || t_fail "cpu period"
	[ "$(cat $root/cpuset/$CG/cpuset.cpus)" = 0 ] || t_fail "cpuset cpus"
	[ "$(cat $root/pids/$CG/pids.max)" = 77 ] || t_fail "pids max"
	# the config's rules first, in order, before the runtime's defaults
	[ "$(head -n 1 $root/devices/$CG/devices.list)" = "c 10:229 rw" ] ||
		t_fail "device rules: $(head -n 3 $root/devices/$CG/devices.list | tr '\n' ' ')"
	rt start cf-c31
	wait_status cf-c31 stopped
	rt delete cf-c31
	gone cf-c31
	local d
	for d in $root/*/$CG; do [ ! -d "$d" ] || t_fail "cgroup $d left behind"; done
}

hugepage_limits_applied_and_bad_page_size_refused() {
	[ -d /sys/kernel/mm/hugepages/hugepages-2048kB ] || t_skip "no 2 MiB huge pages"
	local f
	grep -qw hugetlb /proc/cgroups || t_skip "no hugetlb controller"
	cfg "c['linux']['cgroupsPath'] = '/$CG'
c['linux']['resources']['hugepageLimits'] = [{'pageSize': '2MB', 'limit': 52428800}]" -- true
	h_create cf-c36 || t_fail "create: $(cat "$B/err")"
	# the hierarchy serving hugetlb: v1 hugetlb, or the unified one (hybrid, pure v2)
	f=$(ls /sys/fs/cgroup/hugetlb/$CG/hugetlb.2MB.limit_in_bytes \
		/sys/fs/cgroup/unified/$CG/hugetlb.2MB.max /sys/fs/cgroup/$CG/hugetlb.2MB.max 2>/dev/null | head -n 1)
	[ -n "$f" ] || t_fail "no hugetlb file for /$CG"
	[ "$(cat "$f")" = 52428800 ] || t_fail "$f: $(cat "$f")"
	rt delete --force cf-c36
	gone cf-c36
	# config-linux.md: a page size the host lacks is an error
	cfg "c['linux']['cgroupsPath'] = '/$CG'
c['linux']['resources']['hugepageLimits'] = [{'pageSize': '3MB', 'limit': 3145728}]" -- true
	if h_create cf-c37; then t_fail "create accepted a 3MB page size"; fi
	grep -q 3MB "$B/err" || t_fail "message: $(cat "$B/err")"
	gone cf-c37
}

# the limit is the container's: its init alone fits in pids.max 1 (as runc)
pids_limit_of_one_leaves_only_the_init() {
	[ -d /sys/fs/cgroup/pids ] || [ -e /sys/fs/cgroup/cgroup.controllers ] || t_skip "no pids controller"
	cfg "c['linux']['resources']['pids'] = {'limit': 1}" -- sh -c 'echo init-runs; /bin/true; echo FAIL forked'
	h_run cf-c39
	out_ok init-runs
	grep -q "can't fork" "$B/err" || t_fail "the fork was not refused: $(cat "$B/err")"
}

relative_cgroups_path_is_used() {
	[ -d /sys/fs/cgroup/pids ] || t_skip "no cgroup v1 pids hierarchy"
	cfg "c['linux']['cgroupsPath'] = '$CG'; c['linux']['resources']['pids'] = {'limit': 33}" -- true
	h_create cf-c32 || t_fail "create: $(cat "$B/err")"
	local sub
	sub=$(sed -n 's/^[0-9]*:pids://p' "/proc/$(cat "$T_TMP/pid")/cgroup")
	case $sub in */"$CG") ;; *) t_fail "pids cgroup $sub does not end in $CG" ;; esac
	[ "$(cat "/sys/fs/cgroup/pids$sub/pids.max")" = 33 ] || t_fail "pids.max"
	rt delete --force cf-c32
	gone cf-c32
	[ ! -d "/sys/fs/cgroup/pids$sub" ] || t_fail "cgroup $sub left behind"
}

# ONLY=substring runs just the matching cases
run() { case $1 in *"${ONLY:-}"*) t_run "$1" "$1" ;; esac; }
run bundle_as_root_runs_program_with_inherited_stdio
run pid_file_holds_state_pid_without_newline
run create_without_id_fails
run create_with_duplicate_id_fails_and_keeps_first
run state_of_unknown_or_missing_id_fails
run state_json_follows_the_lifecycle
run bundle_defaults_to_cwd_and_is_reported_absolute
run kill_without_id_or_of_unknown_id_fails
run kill_of_created_container_is_delivered
run kill_of_stopped_container_fails_and_changes_nothing
run kill_delivers_named_signals_to_trapping_init
run delete_of_running_container_fails_and_keeps_it
run delete_of_created_container_removes_it_like_runc
run delete_leaves_cgroups_it_did_not_create
run create_into_a_busy_cgroup_is_refused_and_harms_nothing
run config_changes_after_create_do_not_affect_the_container
run unknown_properties_and_annotations_are_accepted
run invalid_values_are_refused_without_leftovers
run hooks_get_state_on_stdin_with_status_per_stage
run prestart_hook_failure_fails_create_and_program_never_runs
run poststart_hook_failure_is_only_a_warning
run poststop_hook_failure_is_only_a_warning
run default_config_seen_inside
run user_ids_additional_gids_cwd_env_applied
run rlimits_and_oom_score_adj_applied_inside
run default_devices_present_with_modes
run linux_devices_created_with_type_numbers_mode_and_owner
run default_filesystems_mounted_in_config_order
run masked_paths_unreadable_and_readonly_paths_unwritable
run readonly_root_refuses_writes
run sysctls_applied
run namespace_paths_joined_and_absent_namespaces_shared
run namespace_path_of_wrong_type_refused
run rootfs_propagation_shared_exposes_and_private_hides
run rootfs_propagation_unbindable_refuses_binds_of_root
run seccomp_errno_rule_applied
run cgroup_files_written_per_resource
run hugepage_limits_applied_and_bad_page_size_refused
run pids_limit_of_one_leaves_only_the_init
run relative_cgroups_path_is_used
