#!/bin/bash
# vessel-runtime resource limits through cgroups: memory limit OOM-kills,
# pids limit stops a fork bomb, cpu values written, update --memory /
# --resources change limits live, pause/resume through the freezer, and
# refusals (a limit the host lacks, systemd cgroup paths) leave nothing.
. "$(dirname "$0")/lib.sh"

ROOT=$T_TMP/state
rt() { "$BUILD/vessel-runtime" --root "$ROOT" "$@"; }
# every container of this script lives under this cgroup parent
CGP=vessel-itl-$$
cleanup() {
	local id d
	for id in $(rt list -q 2>/dev/null); do rt delete --force "$id" >/dev/null 2>&1; done
	for d in /sys/fs/cgroup/*/"$CGP"; do [ -d "$d" ] && rmdir "$d"/* "$d" 2>/dev/null; done
	rm -rf "$T_TMP"
}
trap cleanup EXIT
# mkb DIR RESOURCES_JSON ARGS...: bundle with linux.resources and our cgroup path
mkb() {
	local dir=$1 res=$2; shift 2
	"$TOP/tests/integration/make-bundle.sh" "$dir" \
		--set "c['linux']['resources']=$res" \
		--set "c['linux']['cgroupsPath']='/$CGP/$(basename "$dir")'" -- "$@" >/dev/null
}
cg() { echo "/sys/fs/cgroup/$1/$CGP/$2"; }
status_of() { rt state "$1" 2>/dev/null | sed -n 's/.*"status": *"\([a-z]*\)".*/\1/p'; }
wait_status() {
	local i
	for i in $(seq 1 500); do
		[ "$(status_of "$1")" = "$2" ] && return 0
		sleep 0.02
	done
	t_fail "$1 never became $2 (is $(status_of "$1"))"
}
no_leftovers() {
	[ ! -e "$ROOT/$1" ] || t_fail "state dir of $1 left behind"
	! ls -d /sys/fs/cgroup/*/"$CGP/$1" 2>/dev/null | grep -q . || t_fail "cgroup of $1 left behind"
}

[ -x "$BUILD/vessel-runtime" ] || { echo "not ok runtime_limits: no $BUILD/vessel-runtime"; exit 1; }
[ -d /sys/fs/cgroup/memory ] || [ -e /sys/fs/cgroup/cgroup.controllers ] ||
	{ echo "skip runtime_limits: no cgroups"; exit 0; }

memory_limit_oom_kills_container() {
	local b=$T_TMP/oom
	# tail keeps a line of /dev/zero in memory forever: it must be OOM-killed
	mkb "$b" '{"memory":{"limit":33554432,"swap":33554432}}' sh -c \
		'tail /dev/zero; echo "tail exit $?"; cat /sys/fs/cgroup/memory/memory.limit_in_bytes; grep oom_kill /sys/fs/cgroup/memory/memory.oom_control'
	rt run --bundle "$b" oom > "$T_TMP/oom.out" 2> "$T_TMP/oom.err" || t_fail "run failed: $(cat "$T_TMP/oom.err")"
	grep -qx "tail exit 137" "$T_TMP/oom.out" || t_fail "tail not SIGKILLed: $(cat "$T_TMP/oom.out")"
	grep -qx "33554432" "$T_TMP/oom.out" || t_fail "limit not seen inside: $(cat "$T_TMP/oom.out")"
	grep -Eq "^oom_kill [1-9]" "$T_TMP/oom.out" || t_fail "no oom_kill counted: $(cat "$T_TMP/oom.out")"
	rt delete --force oom 2>/dev/null || true
	no_leftovers oom
}

pids_limit_stops_fork_bomb() {
	local b=$T_TMP/pids
	# an inner shell forks until refused (ash gives up with status 2); the
	# outer one then uses builtins only, since every pid is taken by sleeps
	mkb "$b" '{"pids":{"limit":8}}' sh -c \
		'sh -c "while :; do sleep 1000 & done" 2>/dev/null; echo "bomb exit $?"; read n < /sys/fs/cgroup/pids/pids.current; echo "current $n"; while read l; do echo "$l"; done < /sys/fs/cgroup/pids/pids.events; echo alive'
	rt run --bundle "$b" pids > "$T_TMP/pids.out" 2> "$T_TMP/pids.err" || t_fail "run failed: $(cat "$T_TMP/pids.err" "$T_TMP/pids.out")"
	grep -qx alive "$T_TMP/pids.out" || t_fail "container did not survive: $(cat "$T_TMP/pids.out")"
	grep -qx "bomb exit 2" "$T_TMP/pids.out" || t_fail "fork bomb not stopped: $(cat "$T_TMP/pids.out")"
	# outer sh + the sleeps that got a pid: at most the limit
	grep -Eq "^current [78]$" "$T_TMP/pids.out" || t_fail "pids.current: $(cat "$T_TMP/pids.out")"
	grep -Eq "^max [1-9]" "$T_TMP/pids.out" || t_fail "no refused fork counted: $(cat "$T_TMP/pids.out")"
	rt delete --force pids 2>/dev/null || true
	no_leftovers pids
}

cpu_values_written() {
	local b=$T_TMP/cpu
	mkb "$b" '{"cpu":{"shares":512,"quota":50000,"period":200000,"cpus":"0"}}' sleep 1000
	rt create --bundle "$b" cpu
	[ "$(cat "$(cg cpu cpu)/cpu.cfs_quota_us")" = 50000 ] || t_fail "quota: $(cat "$(cg cpu cpu)/cpu.cfs_quota_us")"
	[ "$(cat "$(cg cpu cpu)/cpu.cfs_period_us")" = 200000 ] || t_fail "period"
	[ "$(cat "$(cg cpu cpu)/cpu.shares")" = 512 ] || t_fail "shares"
	[ "$(cat "$(cg cpuset cpu)/cpuset.cpus")" = 0 ] || t_fail "cpuset.cpus: $(cat "$(cg cpuset cpu)/cpuset.cpus")"
	rt delete --force cpu
	no_leftovers cpu
}

update_changes_limits_live() {
	local b=$T_TMP/upd
	mkb "$b" '{"memory":{"limit":67108864}}' sleep 1000
	rt create --bundle "$b" upd
	rt start upd
	[ "$(cat "$(cg memory upd)/memory.limit_in_bytes")" = 67108864 ] || t_fail "initial limit"
	rt update --memory 128M upd || t_fail "update --memory failed"
	[ "$(cat "$(cg memory upd)/memory.limit_in_bytes")" = 134217728 ] ||
		t_fail "after --memory: $(cat "$(cg memory upd)/memory.limit_in_bytes")"
	echo '{"pids":{"limit":42},"cpu":{"shares":256}}' > "$T_TMP/res.json"
	rt update --resources "$T_TMP/res.json" upd || t_fail "update --resources failed"
	[ "$(cat "$(cg pids upd)/pids.max")" = 42 ] || t_fail "pids.max: $(cat "$(cg pids upd)/pids.max")"
	[ "$(cat "$(cg cpu upd)/cpu.shares")" = 256 ] || t_fail "cpu.shares"
	# untouched by that file
	[ "$(cat "$(cg memory upd)/memory.limit_in_bytes")" = 134217728 ] || t_fail "memory changed"
	# a bad file: named error, nothing changed
	echo '{"pids":{"limit":"many"}}' > "$T_TMP/bad.json"
	if rt update --resources "$T_TMP/bad.json" upd 2> "$T_TMP/upd.err"; then t_fail "bad file accepted"; fi
	grep -q "pids.limit" "$T_TMP/upd.err" || t_fail "error does not name the field: $(cat "$T_TMP/upd.err")"
	[ "$(cat "$(cg pids upd)/pids.max")" = 42 ] || t_fail "pids.max changed by a refused update"
	# a value the kernel refuses: the error names the cgroup file
	echo '{"cpu":{"quota":10}}' > "$T_TMP/k.json"
	if rt update --resources "$T_TMP/k.json" upd 2> "$T_TMP/upd.err"; then t_fail "quota 10 accepted"; fi
	grep -q "cpu.cfs_quota_us: write \"10\"" "$T_TMP/upd.err" || t_fail "kernel refusal: $(cat "$T_TMP/upd.err")"
	rt delete --force upd
	no_leftovers upd
}

pause_resume_uses_freezer() {
	local b=$T_TMP/frz pid
	[ -d /sys/fs/cgroup/freezer ] || t_skip "no v1 freezer"
	mkb "$b" '{}' sleep 1000
	rt create --bundle "$b" --pid-file "$T_TMP/frz.pid" frz
	rt start frz
	pid=$(cat "$T_TMP/frz.pid")
	rt pause frz || t_fail "pause failed"
	[ "$(cat "$(cg freezer frz)/freezer.state")" = FROZEN ] || t_fail "freezer.state: $(cat "$(cg freezer frz)/freezer.state")"
	[ "$(status_of frz)" = paused ] || t_fail "state after pause: $(status_of frz)"
	# a frozen task sits in the refrigerator, in uninterruptible sleep
	grep -q '^State:.*D' "/proc/$pid/status" || t_fail "init not frozen: $(grep State "/proc/$pid/status")"
	rt resume frz || t_fail "resume failed"
	[ "$(cat "$(cg freezer frz)/freezer.state")" = THAWED ] || t_fail "not thawed"
	[ "$(status_of frz)" = running ] || t_fail "state after resume: $(status_of frz)"
	# delete --force of a paused container works too
	rt pause frz
	rt delete --force frz || t_fail "delete --force of paused failed"
	no_leftovers frz
}

limit_host_lacks_is_clear_error() {
	# CFQ's leaf weights are gone from this kernel (BFQ has none)
	local b=$T_TMP/blk
	[ -d /sys/fs/cgroup/blkio ] || t_skip "no v1 blkio"
	ls /sys/fs/cgroup/blkio/*/blkio.leaf_weight >/dev/null 2>&1 && t_skip "this host has blkio.leaf_weight"
	mkb "$b" '{"blockIO":{"leafWeight":500}}' true
	if rt create --bundle "$b" blk 2> "$T_TMP/blk.err"; then t_fail "create succeeded"; fi
	grep -q "blkio.leaf_weight: not supported by this host" "$T_TMP/blk.err" || t_fail "error: $(cat "$T_TMP/blk.err")"
	no_leftovers blk
	rt state blk 2>/dev/null && t_fail "state exists after failed create"
	true
}

blkio_weight_applied_through_bfq_when_cfq_is_gone() {
	local b=$T_TMP/bfq
	[ -d /sys/fs/cgroup/blkio ] || t_skip "no v1 blkio"
	mkb "$b" '{"blockIO":{"weight":321}}' sh -c 'cat /sys/fs/cgroup/blkio/blkio.weight 2>/dev/null || cat /sys/fs/cgroup/blkio/blkio.bfq.weight'
	rt run --bundle "$b" bfq > "$T_TMP/bfq.out" 2> "$T_TMP/bfq.err" || t_fail "run failed: $(cat "$T_TMP/bfq.err")"
	grep -qw 321 "$T_TMP/bfq.out" || t_fail "weight inside: $(cat "$T_TMP/bfq.out")"
	rt delete --force bfq >/dev/null 2>&1 || true
	no_leftovers bfq
}

systemd_cgroup_path_refused() {
	local b=$T_TMP/sd
	"$TOP/tests/integration/make-bundle.sh" "$b" --set "c['linux']['cgroupsPath']='system.slice:vessel:sd'" true >/dev/null
	if rt create --bundle "$b" sd 2> "$T_TMP/sd.err"; then t_fail "create succeeded"; fi
	grep -q "systemd" "$T_TMP/sd.err" || t_fail "error: $(cat "$T_TMP/sd.err")"
	[ ! -e "$ROOT/sd" ] || t_fail "state left behind"
	! ls -d /sys/fs/cgroup/*/system.slice* 2>/dev/null | grep -q . || t_fail "cgroup left behind"
}

t_run memory_limit_oom_kills_container memory_limit_oom_kills_container
t_run pids_limit_stops_fork_bomb pids_limit_stops_fork_bomb
t_run cpu_values_written cpu_values_written
t_run update_changes_limits_live update_changes_limits_live
t_run pause_resume_uses_freezer pause_resume_uses_freezer
t_run limit_host_lacks_is_clear_error limit_host_lacks_is_clear_error
t_run blkio_weight_applied_through_bfq_when_cfq_is_gone blkio_weight_applied_through_bfq_when_cfq_is_gone
t_run systemd_cgroup_path_refused systemd_cgroup_path_refused
