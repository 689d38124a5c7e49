#!/bin/bash
# vessel-runtime security settings seen from inside the container:
# capabilities (CapEff/CapBnd/CapAmb in /proc/self/status), seccomp rules
# (busybox mkdir fails with the profile's errno), noNewPrivileges, and
# refusals of bad profiles that leave nothing behind.
. "$(dirname "$0")/lib.sh"

ROOT=$T_TMP/state
rt() { "$BUILD/vessel-runtime" --root "$ROOT" "$@"; }
cleanup() {
	local id
	for id in $(rt list -q 2>/dev/null); do rt delete --force "$id" >/dev/null 2>&1; done
	rm -rf "$T_TMP"
}
trap cleanup EXIT
# mkb NAME PYTHON-SET ARGS...
mkb() {
	local dir=$T_TMP/$1 set=$2; shift 2
	"$TOP/tests/integration/make-bundle.sh" "$dir" --set "$set" -- "$@" >/dev/null
}
# runs bundle NAME in the foreground; output in $T_TMP/NAME.out/.err
run() {
	local rc=0
	rt run --bundle "$T_TMP/$1" "$1" > "$T_TMP/$1.out" 2> "$T_TMP/$1.err" || rc=$?
	rt delete --force "$1" >/dev/null 2>&1 || true
	return $rc
}
field() { sed -n "s/^$1:[[:space:]]*//p" "$2"; }
no_leftovers() {
	[ ! -e "$ROOT/$1" ] || t_fail "state dir of $1 left behind"
	! ls -d /sys/fs/cgroup/*/vessel/"$1" 2>/dev/null | grep -q . || t_fail "cgroup of $1 left behind"
}
STATUS='cat /proc/self/status'

[ -x "$BUILD/vessel-runtime" ] || { echo "not ok runtime_security: no $BUILD/vessel-runtime"; exit 1; }

capabilities_dropped_inside() {
	mkb caps 'c["process"]["capabilities"]={k:["CAP_CHOWN","CAP_KILL"] for k in ("bounding","effective","permitted")}' sh -c "$STATUS"
	run caps || t_fail "run failed: $(cat "$T_TMP/caps.err")"
	# CAP_CHOWN = bit 0, CAP_KILL = bit 5
	[ "$(field CapEff "$T_TMP/caps.out")" = 0000000000000021 ] || t_fail "CapEff $(field CapEff "$T_TMP/caps.out")"
	[ "$(field CapBnd "$T_TMP/caps.out")" = 0000000000000021 ] || t_fail "CapBnd $(field CapBnd "$T_TMP/caps.out")"
	[ "$(field CapInh "$T_TMP/caps.out")" = 0000000000000000 ] || t_fail "CapInh $(field CapInh "$T_TMP/caps.out")"
	no_leftovers caps
}

dropped_capability_really_missing() {
	# without CAP_CHOWN, even root cannot give a file away; with it, it can
	mkb nochown 'c["process"]["capabilities"]={k:["CAP_KILL"] for k in ("bounding","effective","permitted")}' \
		sh -c 'touch /tmp/f; chown 1000 /tmp/f; echo "chown $?"'
	run nochown || true
	grep -qx "chown 1" "$T_TMP/nochown.out" || t_fail "chown worked: $(cat "$T_TMP/nochown.out" "$T_TMP/nochown.err")"
	mkb chown 'c["process"]["capabilities"]={k:["CAP_CHOWN"] for k in ("bounding","effective","permitted")}' \
		sh -c 'touch /tmp/f; chown 1000 /tmp/f; echo "chown $?"'
	run chown || true
	grep -qx "chown 0" "$T_TMP/chown.out" || t_fail "chown with CAP_CHOWN failed: $(cat "$T_TMP/chown.out" "$T_TMP/chown.err")"
}

ambient_caps_for_non_root_user() {
	mkb amb 'c["process"]["user"]={"uid":1000,"gid":1000}; c["process"]["capabilities"]={k:["CAP_NET_BIND_SERVICE"] for k in ("bounding","effective","permitted","inheritable","ambient")}' sh -c "$STATUS"
	run amb || t_fail "run failed: $(cat "$T_TMP/amb.err")"
	grep -q "^Uid:[[:space:]]*1000" "$T_TMP/amb.out" || t_fail "not uid 1000"
	# CAP_NET_BIND_SERVICE = bit 10, kept across the exec by the ambient set
	[ "$(field CapAmb "$T_TMP/amb.out")" = 0000000000000400 ] || t_fail "CapAmb $(field CapAmb "$T_TMP/amb.out")"
	[ "$(field CapEff "$T_TMP/amb.out")" = 0000000000000400 ] || t_fail "CapEff $(field CapEff "$T_TMP/amb.out")"
}

capability_runtime_lacks_is_left_out() {
	grep -q '^CapBnd:' /proc/self/status || t_skip "no CapBnd"
	local bnd=$(( 16#$(sed -n 's/^CapBnd:[[:space:]]*//p' /proc/self/status) ))
	[ $(( bnd >> 24 & 1 )) = 0 ] || t_skip "this host grants CAP_SYS_RESOURCE"
	mkb sysres 'c["process"]["capabilities"]={k:["CAP_CHOWN","CAP_SYS_RESOURCE"] for k in ("bounding","effective","permitted")}' sh -c "$STATUS"
	run sysres || t_fail "run failed: $(cat "$T_TMP/sysres.err")"
	[ "$(field CapEff "$T_TMP/sysres.out")" = 0000000000000001 ] || t_fail "CapEff $(field CapEff "$T_TMP/sysres.out")"
	grep -q "CAP_SYS_RESOURCE" "$T_TMP/sysres.err" || t_fail "no warning naming CAP_SYS_RESOURCE"
}

unknown_capability_refused() {
	mkb badcap 'c["process"]["capabilities"]={"bounding":["CAP_CHOWN","CAP_TELEPORT"]}' true
	if run badcap; then t_fail "ran with an unknown capability"; fi
	grep -q 'process.capabilities.bounding\[1\]: unknown capability "CAP_TELEPORT"' "$T_TMP/badcap.err" ||
		t_fail "error: $(cat "$T_TMP/badcap.err")"
	no_leftovers badcap
}

devices_cgroup_denies_unlisted_device() {
	[ -c /dev/net/tun ] && [ -c /dev/fuse ] || t_skip "no /dev/net/tun or /dev/fuse on this host"
	# CAP_MKNOD lets root make any node, and opening tun or fuse needs no
	# capability: only the device cgroup refuses. tun (10:200) read-only,
	# fuse (10:229) not listed at all.
	mkb devs 'c["process"]["capabilities"]={k:["CAP_MKNOD"] for k in ("bounding","effective","permitted")}; c["linux"]["resources"]={"devices":[{"allow":False,"access":"rwm"},{"allow":True,"type":"c","major":10,"minor":200,"access":"r"}]}' \
		sh -c 'mknod /tmp/fuse c 10 229; mknod /tmp/tun c 10 200; mknod /tmp/zero c 1 5
			(exec 3< /tmp/fuse) 2>/dev/null; echo "fuse $?"
			(exec 3< /tmp/tun) 2>/dev/null; echo "tun-r $?"
			(exec 3> /tmp/tun) 2>/dev/null; echo "tun-w $?"
			echo "zero $(head -c1 /tmp/zero | wc -c)"'
	run devs || true
	grep -qx "fuse 1" "$T_TMP/devs.out" || t_fail "unlisted fuse opened: $(cat "$T_TMP/devs.out" "$T_TMP/devs.err")"
	grep -qx "tun-r 0" "$T_TMP/devs.out" || t_fail "allowed read refused: $(cat "$T_TMP/devs.out")"
	grep -qx "tun-w 1" "$T_TMP/devs.out" || t_fail "write not in the rule allowed: $(cat "$T_TMP/devs.out")"
	# the default devices (null, zero, ...) stay usable under "deny all"
	grep -qx "zero 1" "$T_TMP/devs.out" || t_fail "/dev/zero not readable: $(cat "$T_TMP/devs.out")"
}

PROFILE='{"defaultAction":"SCMP_ACT_ALLOW","architectures":["SCMP_ARCH_X86_64","SCMP_ARCH_X86"],"syscalls":[{"names":["mkdir","mkdirat","no_such_syscall_9"],"action":"SCMP_ACT_ERRNO"},{"names":["rmdir"],"action":"SCMP_ACT_ERRNO","errnoRet":30}]}'

seccomp_rule_blocks_mkdir() {
	mkb sc "c['linux']['seccomp']=$PROFILE" sh -c 'mkdir /tmp/d; echo "mkdir $?"; rmdir /tmp; echo "rmdir $?"; touch /tmp/f && echo touch ok'
	run sc || t_fail "run failed: $(cat "$T_TMP/sc.err")"
	grep -qx "mkdir 1" "$T_TMP/sc.out" || t_fail "mkdir not refused: $(cat "$T_TMP/sc.out")"
	grep -q "Operation not permitted" "$T_TMP/sc.err" || t_fail "mkdir errno: $(cat "$T_TMP/sc.err")"
	# errnoRet 30 = EROFS
	grep -q "Read-only file system" "$T_TMP/sc.err" || t_fail "rmdir errno: $(cat "$T_TMP/sc.err")"
	grep -qx "touch ok" "$T_TMP/sc.out" || t_fail "an allowed syscall failed"
}

seccomp_kill_process_ends_container() {
	# sethostname(2) is fatal here (checked before any capability): the
	# process calling it dies of SIGSYS, whether busybox runs hostname in a
	# child (status 159 seen by the shell) or in the shell itself (the
	# container exits 159)
	mkb sckill "c['linux']['seccomp']={'defaultAction':'SCMP_ACT_ALLOW','syscalls':[{'names':['sethostname'],'action':'SCMP_ACT_KILL_PROCESS'}]}" \
		sh -c 'echo before; hostname x; echo "after $?"'
	local rc=0
	run sckill || rc=$?
	grep -qx before "$T_TMP/sckill.out" || t_fail "the container did not start: $(cat "$T_TMP/sckill.err")"
	if ! grep -qx "after 159" "$T_TMP/sckill.out"; then
		[ "$rc" = 159 ] && ! grep -q after "$T_TMP/sckill.out" ||
			t_fail "not killed by SIGSYS: status $rc, $(cat "$T_TMP/sckill.out")"
	fi
}

seccomp_without_no_new_privileges() {
	# the filter must then be loaded while CAP_SYS_ADMIN is still held
	mkb scnnp "c['linux']['seccomp']=$PROFILE; c['process']['noNewPrivileges']=False" sh -c "mkdir /tmp/d; echo \"mkdir \$?\"; $STATUS"
	run scnnp || t_fail "run failed: $(cat "$T_TMP/scnnp.err")"
	grep -qx "mkdir 1" "$T_TMP/scnnp.out" || t_fail "mkdir not refused: $(cat "$T_TMP/scnnp.out")"
	[ "$(field NoNewPrivs "$T_TMP/scnnp.out")" = 0 ] || t_fail "NoNewPrivs set"
	[ "$(field Seccomp "$T_TMP/scnnp.out")" = 2 ] || t_fail "no seccomp filter"
}

no_new_privileges_set() {
	mkb nnp "c['process']['noNewPrivileges']=True" sh -c "$STATUS"
	run nnp || t_fail "run failed: $(cat "$T_TMP/nnp.err")"
	[ "$(field NoNewPrivs "$T_TMP/nnp.out")" = 1 ] || t_fail "NoNewPrivs $(field NoNewPrivs "$T_TMP/nnp.out")"
	mkb nonnp "c['process']['noNewPrivileges']=False" sh -c "$STATUS"
	run nonnp || t_fail "run failed: $(cat "$T_TMP/nonnp.err")"
	[ "$(field NoNewPrivs "$T_TMP/nonnp.out")" = 0 ] || t_fail "NoNewPrivs set without asking"
}

seccomp_bad_profile_refused() {
	mkb scbad "c['linux']['seccomp']={'defaultAction':'SCMP_ACT_ALLOW','syscalls':[{'names':['mkdir'],'action':'SCMP_ACT_EXPLODE'}]}" true
	if run scbad; then t_fail "ran with a bad action"; fi
	grep -q 'linux.seccomp.syscalls\[0\].action: unknown action "SCMP_ACT_EXPLODE"' "$T_TMP/scbad.err" ||
		t_fail "error: $(cat "$T_TMP/scbad.err")"
	no_leftovers scbad
	mkb scnotify "c['linux']['seccomp']={'defaultAction':'SCMP_ACT_ALLOW','syscalls':[{'names':['mkdir'],'action':'SCMP_ACT_NOTIFY'}]}" true
	if run scnotify; then t_fail "ran NOTIFY without listenerPath"; fi
	grep -q 'needs listenerPath' "$T_TMP/scnotify.err" || t_fail "error: $(cat "$T_TMP/scnotify.err")"
	no_leftovers scnotify
}

# podman's own security options (its default seccomp profile included)
PM=$T_TMP/pm
PM_CGP=/vessel-sec-podman-$$
pm() {
	CONTAINERS_CONF=$PM/containers.conf podman --root "$PM/storage" --runroot "$PM/run" \
		--tmpdir "$PM/tmp" --storage-driver vfs --cgroup-manager cgroupfs \
		--events-backend file --runtime "$BUILD/vessel-runtime" "$@"
}
pm_cleanup() {
	local d
	pm rm -af -t 0 > /dev/null 2>&1 < /dev/null
	pm rmi -af > /dev/null 2>&1 < /dev/null
	for d in /sys/fs/cgroup/*"$PM_CGP" /sys/fs/cgroup/*/*"$PM_CGP"; do
		[ -d "$d" ] && find "$d" -depth -type d -exec rmdir {} + 2>/dev/null
	done
	rm -rf "$PM"
}
podman_security_body() {
	mkdir -p "$PM"
	chmod 755 "$T_TMP" "$PM"
	printf '[containers]\ndefault_ulimits = ["nofile=1024:1024","nproc=4096:4096"]\n' > "$PM/containers.conf"
	"$TOP/tests/integration/make-bundle.sh" "$PM/b" true > /dev/null
	tar -C "$PM/b/rootfs" -c . | pm import - vessel-sec > /dev/null 2>&1 || t_fail "podman import failed"
	pm run --rm --network=none --cgroup-parent "$PM_CGP" --cap-drop=all --cap-add=CAP_CHOWN \
		--security-opt no-new-privileges vessel-sec sh -c "$STATUS" \
		> "$PM/out" 2> "$PM/err" || t_fail "podman run failed: $(cat "$PM/err")"
	[ "$(field CapEff "$PM/out")" = 0000000000000001 ] || t_fail "CapEff $(field CapEff "$PM/out")"
	[ "$(field NoNewPrivs "$PM/out")" = 1 ] || t_fail "NoNewPrivs $(field NoNewPrivs "$PM/out")"
	[ "$(field Seccomp "$PM/out")" = 2 ] || t_fail "podman's seccomp profile not loaded"
	[ "$(field Seccomp_filters "$PM/out")" = 1 ] || t_fail "filters: $(field Seccomp_filters "$PM/out")"
}
podman_security_options_reach_container() {
	local rc=0
	command -v podman > /dev/null || t_skip "podman is not installed"
	( set -e; podman_security_body ) || rc=$?
	pm_cleanup
	! ls -d /sys/fs/cgroup/*"$PM_CGP" 2>/dev/null | grep -q . || t_fail "podman cgroups left behind"
	return $rc
}

devices_denied_by_default_without_device_rules() {
	# no linux.resources at all: still "deny all" + the default devices, so a
	# node made with CAP_MKNOD for a host disk (8:0) cannot be opened (EPERM
	# from the devices cgroup, not ENXIO from a missing disk)
	mkb nodevrules 'c["linux"].pop("resources", None); c["process"]["capabilities"]={k:["CAP_MKNOD"] for k in ("bounding","effective","permitted")}' \
		sh -c 'mknod /tmp/sda b 8 0 && echo made; head -c 1 /tmp/sda; echo "open $?"; echo x > /dev/null && echo nullok'
	run nodevrules || true
	grep -qx made "$T_TMP/nodevrules.out" || t_fail "mknod failed: $(cat "$T_TMP/nodevrules.err")"
	grep -q "Operation not permitted" "$T_TMP/nodevrules.err" || t_fail "disk node opened: $(cat "$T_TMP/nodevrules.out" "$T_TMP/nodevrules.err")"
	grep -qx nullok "$T_TMP/nodevrules.out" || t_fail "/dev/null not usable"
}

t_run capabilities_dropped_inside capabilities_dropped_inside
t_run dropped_capability_really_missing dropped_capability_really_missing
t_run ambient_caps_for_non_root_user ambient_caps_for_non_root_user
t_run capability_runtime_lacks_is_left_out capability_runtime_lacks_is_left_out
t_run unknown_capability_refused unknown_capability_refused
t_run devices_cgroup_denies_unlisted_device devices_cgroup_denies_unlisted_device
t_run devices_denied_by_default_without_device_rules devices_denied_by_default_without_device_rules
t_run seccomp_rule_blocks_mkdir seccomp_rule_blocks_mkdir
t_run seccomp_kill_process_ends_container seccomp_kill_process_ends_container
t_run seccomp_without_no_new_privileges seccomp_without_no_new_privileges
t_run no_new_privileges_set no_new_privileges_set
t_run seccomp_bad_profile_refused seccomp_bad_profile_refused
t_run podman_security_options_reach_container podman_security_options_reach_container
