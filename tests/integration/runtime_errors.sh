#!/bin/bash
# Bad input: one clear message naming what is wrong, exit status 1, and
# nothing left behind (state dir, cgroup dirs, mounts, processes).
. "$(dirname "$0")/lib.sh"

ROOT=$T_TMP/state
rt() { "$BUILD/vessel-runtime" --root "$ROOT" "$@"; }
cleanup() {
	local id
	for id in $(rt list -q 2>/dev/null); do rt delete --force "$id" >/dev/null 2>&1; done
	rm -rf "$T_TMP"
}
trap cleanup EXIT
PY=/usr/bin/python3; [ -x "$PY" ] || PY=python3

[ -x "$BUILD/vessel-runtime" ] || { echo "not ok runtime_errors: no $BUILD/vessel-runtime"; exit 1; }
GOOD=$T_TMP/good
"$TOP/tests/integration/make-bundle.sh" "$GOOD" sleep 1000 >/dev/null

# a bundle that is GOOD's rootfs with a config edited by a python statement
bad_bundle() {
	local b=$T_TMP/$1; shift
	mkdir -p "$b"
	ln -sfn "$GOOD/rootfs" "$b/rootfs"
	"$PY" - "$GOOD/config.json" "$b/config.json" "$@" <<'PY'
import json, sys
c = json.load(open(sys.argv[1]))
for stmt in sys.argv[3:]:
    exec(stmt)
json.dump(c, open(sys.argv[2], "w"))
PY
	echo "$b"
}

nothing_left() {
	local id=$1 b=${2:-}
	[ ! -e "$ROOT/$id" ] || t_fail "state dir $ROOT/$id left behind"
	! ls -d /sys/fs/cgroup/*/vessel/"$id" 2>/dev/null | grep -q . || t_fail "cgroup of $id left behind"
	# other tests may mount meanwhile: only mounts of our files count
	! grep -q "$T_TMP" /proc/self/mountinfo || t_fail "a mount under $T_TMP is left"
	# the container's init runs with the runtime's command line until exec
	if [ -n "$b" ] && pgrep -f -- "--bundle $b $id" > /dev/null; then
		t_fail "a process of $id is left: $(pgrep -a -f -- "--bundle $b $id")"
	fi
	return 0
}

# expect_fail ID MESSAGE-REGEX CMD...: CMD fails with status 1 and prints
# exactly one error line matching the regex
expect_fail() {
	local id=$1 re=$2 rc=0; shift 2
	"$@" > "$T_TMP/out" 2> "$T_TMP/err" || rc=$?
	[ "$rc" = 1 ] || t_fail "exit status $rc (expected 1) for: $*"
	grep -Eq "$re" "$T_TMP/err" || t_fail "message '$(cat "$T_TMP/err")' does not match '$re'"
	[ "$(grep -vc ': warning: ' "$T_TMP/err")" = 1 ] || t_fail "more than one error line: $(cat "$T_TMP/err")"
}

missing_bundle() {
	expect_fail e1 "bundle $T_TMP/nope: No such file" rt create --bundle "$T_TMP/nope" e1
	nothing_left e1
}

missing_config() {
	mkdir -p "$T_TMP/empty"
	expect_fail e2 "empty/config.json: No such file" rt create --bundle "$T_TMP/empty" e2
	nothing_left e2
}

unreadable_config() {
	mkdir -p "$T_TMP/dirconf/config.json"
	expect_fail e3 "config.json.*(directory|Is a)" rt create --bundle "$T_TMP/dirconf" e3
	nothing_left e3
}

malformed_config() {
	mkdir -p "$T_TMP/malformed"
	printf '{"ociVersion": "1.0.2", "process": {' > "$T_TMP/malformed/config.json"
	expect_fail e4 "config.json.*line 1" rt create --bundle "$T_TMP/malformed" e4
	nothing_left e4
}

wrong_field_type() {
	local b; b=$(bad_bundle wt 'c["process"]["args"] = "sleep 1000"')
	expect_fail e5 "process.args.*expected array" rt create --bundle "$b" e5
	nothing_left e5 "$b"
}

unknown_namespace() {
	local b; b=$(bad_bundle ns 'c["linux"]["namespaces"].append({"type": "bogus"})')
	expect_fail e6 'linux.namespaces\[[0-9]+\].type.*"bogus"' rt create --bundle "$b" e6
	nothing_left e6 "$b"
}

bad_mapping() {
	local b; b=$(bad_bundle map 'c["linux"]["namespaces"].append({"type": "user"})' \
		'c["linux"]["uidMappings"] = [{"containerID": 0, "hostID": 100000, "size": 0}]' \
		'c["linux"]["gidMappings"] = [{"containerID": 0, "hostID": 100000, "size": 1}]')
	expect_fail e7 "uidMappings" rt create --bundle "$b" e7
	nothing_left e7 "$b"
	b=$(bad_bundle nomap 'c["linux"]["namespaces"].append({"type": "user"})')
	expect_fail e7 "uidMappings.*required" rt create --bundle "$b" e7
	nothing_left e7 "$b"
}

missing_rootfs() {
	local b; b=$(bad_bundle nort 'c["root"]["path"] = "no-such-rootfs"')
	expect_fail e8 "root.path.*no-such-rootfs" rt create --bundle "$b" e8
	nothing_left e8 "$b"
}

namespace_path_not_a_namespace() {
	local b; b=$(bad_bundle nspath \
		'c["linux"]["namespaces"] = [n for n in c["linux"]["namespaces"] if n["type"] != "network"] + [{"type": "network", "path": "/etc/hostname"}]')
	expect_fail e9 "/etc/hostname.*not a network namespace" rt create --bundle "$b" e9
	nothing_left e9 "$b"
}

failure_inside_init_cleans_up() {
	# the bind source is missing: found only by the init while mounting
	local b; b=$(bad_bundle badmount \
		'c["mounts"].append({"destination": "/mnt", "type": "bind", "source": "/no/such/src", "options": ["bind"]})')
	expect_fail e10 "/no/such/src" rt create --bundle "$b" e10
	nothing_left e10 "$b"
}

cgroup_failure_cleans_up() {
	# this host has no net_cls controller: asking for a class id fails at
	# cgroup setup, after the cgroup was made
	local b; b=$(bad_bundle netcls 'c["linux"]["resources"] = {"network": {"classID": 1048577}}')
	[ -d /sys/fs/cgroup/net_cls ] && t_skip "this host has net_cls"
	expect_fail e11 "net_cls" rt create --bundle "$b" e11
	nothing_left e11 "$b"
}

systemd_cgroups_path_refused() {
	local b; b=$(bad_bundle sd 'c["linux"]["cgroupsPath"] = "system.slice:vessel:e12"')
	expect_fail e12 "cgroupsPath.*systemd" rt --systemd-cgroup create --bundle "$b" e12
	nothing_left e12 "$b"
}

duplicate_id() {
	rt create --bundle "$GOOD" dup
	local pid; pid=$(rt state dup | sed -n 's/.*"pid": *\([0-9]*\).*/\1/p')
	expect_fail dup "container dup already exists" rt create --bundle "$GOOD" dup
	[ "$(rt state dup | sed -n 's/.*"pid": *\([0-9]*\).*/\1/p')" = "$pid" ] || t_fail "duplicate create changed the container"
	rt delete --force dup
	nothing_left dup "$GOOD"
}

unknown_id() {
	expect_fail x "container nosuch does not exist" rt start nosuch
	expect_fail x "container nosuch does not exist" rt state nosuch
	expect_fail x "container nosuch does not exist" rt kill nosuch
	expect_fail x "container nosuch does not exist" rt delete nosuch
	expect_fail x "container nosuch does not exist" rt pause nosuch
	expect_fail x "invalid container id" rt state ../etc
}

start_running_and_delete_running() {
	rt run -d --bundle "$GOOD" busy
	expect_fail busy "cannot start container busy: it is running" rt start busy
	expect_fail busy "cannot delete container busy that is running" rt delete busy
	[ "$(rt state busy | sed -n 's/.*"status": *"\([a-z]*\)".*/\1/p')" = running ] || t_fail "no longer running"
	rt delete --force busy
	nothing_left busy "$GOOD"
}

bad_command_lines() {
	expect_fail x 'unknown command "frobnicate"' rt frobnicate
	expect_fail x 'create: unknown option "--frob"' rt create --frob x
	expect_fail x "create: expected exactly one container ID" rt create --bundle "$GOOD"
	expect_fail x "log-format.*xml" rt --log-format xml state x
	expect_fail x "preserve-fds 5: fd 3 is not open" rt create --bundle "$GOOD" --preserve-fds 5 pf
	nothing_left pf "$GOOD"
	expect_fail x "spec: .*already exists" rt spec --bundle "$GOOD"
}

json_log_for_callers() {
	# podman/conmon read errors back from --log in JSON lines
	local rc=0
	rt --log "$T_TMP/log.json" --log-format json start nosuch 2> /dev/null || rc=$?
	[ "$rc" = 1 ] || t_fail "exit status $rc"
	/usr/bin/python3 - "$T_TMP/log.json" <<'PY' || t_fail "log: $(cat "$T_TMP/log.json")"
import json, sys
lines = [json.loads(l) for l in open(sys.argv[1])]
assert len(lines) == 1, lines
assert lines[0]["level"] == "error" and "container nosuch does not exist" in lines[0]["msg"], lines
PY
}

no_proc_refused() {
	local b; b=$(bad_bundle noproc 'c["mounts"] = [m for m in c["mounts"] if m["destination"] != "/proc"]' \
		'c["linux"].pop("maskedPaths", None); c["linux"].pop("readonlyPaths", None)')
	expect_fail e13 "no usable /proc" rt create --bundle "$b" e13
	nothing_left e13 "$b"
}

apparmor_refused() {
	local b; b=$(bad_bundle aa 'c["process"]["apparmorProfile"] = "some-profile"')
	expect_fail e14 'apparmorProfile "some-profile".*not supported' rt create --bundle "$b" e14
	nothing_left e14 "$b"
}

t_run errors_missing_bundle missing_bundle
t_run errors_missing_config missing_config
t_run errors_unreadable_config unreadable_config
t_run errors_malformed_config malformed_config
t_run errors_wrong_field_type wrong_field_type
t_run errors_unknown_namespace unknown_namespace
t_run errors_bad_id_mapping bad_mapping
t_run errors_missing_rootfs missing_rootfs
t_run errors_namespace_path_not_a_namespace namespace_path_not_a_namespace
t_run errors_failure_inside_init_cleans_up failure_inside_init_cleans_up
t_run errors_cgroup_failure_cleans_up cgroup_failure_cleans_up
t_run errors_systemd_cgroups_path_refused systemd_cgroups_path_refused
t_run errors_duplicate_id duplicate_id
t_run errors_unknown_or_invalid_id unknown_id
t_run errors_start_or_delete_running start_running_and_delete_running
t_run errors_bad_command_lines bad_command_lines
t_run errors_json_log_for_callers json_log_for_callers
t_run errors_container_without_proc_refused no_proc_refused
t_run errors_apparmor_profile_refused apparmor_refused
