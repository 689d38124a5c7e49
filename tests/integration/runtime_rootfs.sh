#!/bin/bash
# The container's filesystem through the real vessel-runtime: its own /proc,
# tmpfs and bind mounts, read-only root, maskedPaths/readonlyPaths, devices,
# --no-pivot, sysctl, and failures that name the mount and leave nothing.
. "$(dirname "$0")/lib.sh"

# a private copy: a rebuild during the run cannot swap the binary under us
if [ -x "$BUILD/vessel-runtime" ]; then
	mkdir -p "$T_TMP/bin"
	cp "$BUILD/vessel-runtime" "$T_TMP/bin/vessel-runtime"
	BUILD=$T_TMP/bin
fi
R="$BUILD/vessel-runtime"
STATE="$T_TMP/state"
MKB="$TOP/tests/integration/make-bundle.sh"
ID_PREFIX="vs-rootfs-$$"

# bundle NAME [make-bundle args...]: builds $T_TMP/NAME, prints its path
bundle() {
	local name=$1; shift
	BUILD=$BUILD bash "$MKB" "$T_TMP/$name" "$@" >/dev/null
	echo "$T_TMP/$name"
}

# crun ID BUNDLE [runtime run options]: runs to completion, output in $T_TMP/ID.out
crun_() {
	local id=$1 b=$2; shift 2
	timeout 60 "$R" --root "$STATE" run "$@" --bundle "$b" "$id" \
		> "$T_TMP/$id.out" 2> "$T_TMP/$id.err" < /dev/null
}

cleanup_id() {
	"$R" --root "$STATE" delete --force "$1" >/dev/null 2>&1 || true
}

# Nothing of a failed container may remain: no state, no mount of the bundle,
# no cgroup.
assert_nothing_left() {
	local id=$1 b=$2 cg=$3
	if "$R" --root "$STATE" list 2>/dev/null | grep -q "$id"; then
		t_fail "$id still listed after the failure"
	fi
	if [ -e "$STATE/$id" ]; then t_fail "state dir $STATE/$id left behind"; fi
	if grep -q " $b" /proc/self/mountinfo; then t_fail "a mount under $b left on the host"; fi
	if [ -n "$cg" ] && [ -d "/sys/fs/cgroup/memory$cg" -o -d "/sys/fs/cgroup$cg" ]; then
		t_fail "cgroup $cg left behind"
	fi
}

t_requirements() {
	[ -x "$R" ] || t_skip "no $R"
	[ "$(id -u)" = 0 ] || t_skip "needs root"
}

test_own_proc() {
	t_requirements
	local id=$ID_PREFIX-proc b
	b=$(bundle proc -- sh -c 'cat /proc/1/comm; ls -d /proc/[0-9]* | wc -l; echo $$')
	crun_ "$id" "$b" || t_fail "run failed: $(cat "$T_TMP/$id.err")"
	cleanup_id "$id"
	mapfile -t out < "$T_TMP/$id.out"
	[ "${out[0]}" = sh ] || t_fail "pid 1 is \"${out[0]}\", not the container's sh"
	# sh, ls and wc at most (plus the subshell): never the host's hundreds
	[ "${out[1]}" -le 4 ] || t_fail "/proc shows ${out[1]} processes"
	[ "${out[2]}" = 1 ] || t_fail "sh is pid ${out[2]}, not 1"
}

test_tmpfs_and_readonly_bind() {
	t_requirements
	local id=$ID_PREFIX-mnt b host=$T_TMP/hostdir
	mkdir -p "$host"; echo from-host > "$host/file"
	b=$(bundle mnt --set "c['mounts'] += [
		{'destination': '/scratch', 'type': 'tmpfs', 'source': 'tmpfs',
		 'options': ['nosuid', 'size=1m', 'mode=700']},
		{'destination': '/data/host', 'type': 'bind', 'source': '$host',
		 'options': ['rbind', 'ro']}]" -- sh -c '
		stat -f -c %T /scratch; stat -c %a /scratch
		echo x > /scratch/f && cat /scratch/f
		cat /data/host/file
		if echo y > /data/host/new 2>/dev/null; then echo writable; else echo ro; fi')
	crun_ "$id" "$b" || t_fail "run failed: $(cat "$T_TMP/$id.err")"
	cleanup_id "$id"
	[ "$(cat "$T_TMP/$id.out")" = "$(printf 'tmpfs\n700\nx\nfrom-host\nro')" ] ||
		t_fail "got: $(cat "$T_TMP/$id.out")"
	[ ! -e "$host/new" ] || t_fail "the read-only bind let a write through"
}

test_readonly_root() {
	t_requirements
	local id=$ID_PREFIX-ro b
	b=$(bundle ro --set 'c["root"]["readonly"] = True' -- sh -c '
		if touch /newfile 2>/dev/null; then echo writable; else echo ro; fi
		echo ok > /dev/shm/f && cat /dev/shm/f')
	crun_ "$id" "$b" || t_fail "run failed: $(cat "$T_TMP/$id.err")"
	cleanup_id "$id"
	[ "$(cat "$T_TMP/$id.out")" = "$(printf 'ro\nok')" ] || t_fail "got: $(cat "$T_TMP/$id.out")"
	[ ! -e "$b/rootfs/newfile" ] || t_fail "file created in the read-only root"
}

test_masked_and_readonly_paths() {
	t_requirements
	local id=$ID_PREFIX-mask b
	b=$(bundle mask --set 'c["linux"]["maskedPaths"] = ["/etc/secret", "/secretdir", "/nope"]' \
		--set 'c["linux"]["readonlyPaths"] = ["/rodir", "/proc/sys", "/nope2"]' -- sh -c '
		wc -c < /etc/secret; ls /secretdir | wc -l
		cat /rodir/f
		if touch /rodir/g 2>/dev/null; then echo writable; else echo ro; fi
		if touch /secretdir/g 2>/dev/null; then echo writable; else echo ro; fi
		if echo 1 > /proc/sys/kernel/shmmni 2>/dev/null; then echo writable; else echo ro; fi')
	echo top-secret > "$b/rootfs/etc/secret"
	mkdir -p "$b/rootfs/secretdir" "$b/rootfs/rodir"
	echo s > "$b/rootfs/secretdir/s"; echo r > "$b/rootfs/rodir/f"
	crun_ "$id" "$b" || t_fail "run failed: $(cat "$T_TMP/$id.err")"
	cleanup_id "$id"
	[ "$(cat "$T_TMP/$id.out")" = "$(printf '0\n0\nr\nro\nro\nro')" ] ||
		t_fail "got: $(cat "$T_TMP/$id.out" | tr '\n' ' ')"
}

test_devices() {
	t_requirements
	local id=$ID_PREFIX-dev b
	b=$(bundle dev --set 'c["linux"]["devices"] = [
		{"path": "/dev/vtest", "type": "c", "major": 1, "minor": 7, "fileMode": 384,
		 "uid": 3, "gid": 4},
		{"path": "/dev/sub/blk", "type": "b", "major": 7, "minor": 0}]' -- sh -c '
		echo hi > /dev/null && echo null-ok
		stat -c "%F %t:%T %a %u:%g" /dev/vtest
		stat -c "%F %t:%T" /dev/sub/blk
		head -c 4 /dev/zero | wc -c
		readlink /dev/ptmx; readlink /dev/fd')
	crun_ "$id" "$b" || t_fail "run failed: $(cat "$T_TMP/$id.err")"
	cleanup_id "$id"
	local want
	want=$(printf 'null-ok\ncharacter special file 1:7 600 3:4\nblock special file 7:0\n4\npts/ptmx\n/proc/self/fd')
	[ "$(cat "$T_TMP/$id.out")" = "$want" ] || t_fail "got: $(cat "$T_TMP/$id.out" | tr '\n' '|')"
}

test_no_pivot() {
	t_requirements
	local id=$ID_PREFIX-nopivot b
	b=$(bundle nopivot -- sh -c 'cat /proc/1/comm /marker; ls -d /proc/[0-9]* | wc -l')
	echo inside > "$b/rootfs/marker"
	crun_ "$id" "$b" --no-pivot || t_fail "run --no-pivot failed: $(cat "$T_TMP/$id.err")"
	cleanup_id "$id"
	mapfile -t out < "$T_TMP/$id.out"
	[ "${out[1]}" = inside ] || t_fail "root is not the rootfs: ${out[*]}"
	[ "${out[0]}" = sh ] && [ "${out[2]}" -le 4 ] || t_fail "own /proc missing: ${out[*]}"
}

test_sysctl() {
	t_requirements
	local id=$ID_PREFIX-sysctl b host_before
	host_before=$(cat /proc/sys/kernel/shmmni)
	b=$(bundle sysctl --set 'c["linux"]["sysctl"] = {"kernel.shmmni": "1111", "kernel.msgmax": "4321"}' \
		-- sh -c 'cat /proc/sys/kernel/shmmni /proc/sys/kernel/msgmax')
	crun_ "$id" "$b" || t_fail "run failed: $(cat "$T_TMP/$id.err")"
	cleanup_id "$id"
	[ "$(cat "$T_TMP/$id.out")" = "$(printf '1111\n4321')" ] || t_fail "got: $(cat "$T_TMP/$id.out")"
	[ "$(cat /proc/sys/kernel/shmmni)" = "$host_before" ] || t_fail "host kernel.shmmni changed"
}

test_sysctl_not_namespaced_refused() {
	t_requirements
	local id=$ID_PREFIX-badsysctl b
	b=$(bundle badsysctl --set 'c["linux"]["cgroupsPath"] = "/'"$ID_PREFIX"'-badsysctl"' \
		--set 'c["linux"]["sysctl"] = {"vm.swappiness": "10"}' -- true)
	if crun_ "$id" "$b"; then cleanup_id "$id"; t_fail "a host-wide sysctl was accepted"; fi
	grep -q 'linux.sysctl: "vm.swappiness": not namespaced' "$T_TMP/$id.err" ||
		t_fail "unclear error: $(cat "$T_TMP/$id.err")"
	cleanup_id "$id"
	assert_nothing_left "$id" "$b" "/$ID_PREFIX-badsysctl"
}

test_failing_mount_names_it() {
	t_requirements
	local id=$ID_PREFIX-badmnt b
	b=$(bundle badmnt --set 'c["linux"]["cgroupsPath"] = "/'"$ID_PREFIX"'-badmnt"' \
		--set 'c["mounts"].append({"destination": "/x", "type": "vesselnofs", "source": "src"})' \
		-- true)
	local n
	n=$(/usr/bin/python3 -c 'import json,sys; print(len(json.load(open(sys.argv[1]))["mounts"]) - 1)' "$b/config.json")
	if crun_ "$id" "$b"; then cleanup_id "$id"; t_fail "a mount of an unknown fs type worked"; fi
	grep -qF "config.json: mounts[$n] (src -> /x, type vesselnofs): mount: No such device" \
		"$T_TMP/$id.err" || t_fail "unclear error: $(cat "$T_TMP/$id.err")"
	cleanup_id "$id"
	assert_nothing_left "$id" "$b" "/$ID_PREFIX-badmnt"
}

test_missing_rootfs() {
	t_requirements
	local id=$ID_PREFIX-noroot b
	b=$(bundle noroot -- true)
	mv "$b/rootfs" "$b/rootfs.gone"
	if crun_ "$id" "$b"; then cleanup_id "$id"; t_fail "ran without a rootfs"; fi
	grep -qF "config.json: root.path: $b/rootfs: No such file or directory" "$T_TMP/$id.err" ||
		t_fail "unclear error: $(cat "$T_TMP/$id.err")"
	cleanup_id "$id"
	assert_nothing_left "$id" "$b" ""
}

test_userns_devices_and_sysfs() {
	t_requirements
	local id=$ID_PREFIX-userns b
	# the container's root (host uid 100000) must reach the bundle
	chmod 755 "$T_TMP"
	b=$(bundle userns --userns -- sh -c '
		echo hi > /dev/null && echo null-ok
		stat -c "%t:%T" /dev/zero
		test -d /sys/kernel && echo sys-ok')
	crun_ "$id" "$b" || t_fail "run failed: $(cat "$T_TMP/$id.err")"
	cleanup_id "$id"
	[ "$(cat "$T_TMP/$id.out")" = "$(printf 'null-ok\n1:5\nsys-ok')" ] ||
		t_fail "got: $(cat "$T_TMP/$id.out" | tr '\n' '|')"
}

test_cgroup_mount_is_own_cgroup() {
	t_requirements
	local id=$ID_PREFIX-cg b cg=/$ID_PREFIX-cg
	[ -d /sys/fs/cgroup/memory ] || t_skip "no cgroup v1 memory hierarchy"
	b=$(bundle cg --set "c['linux']['cgroupsPath'] = '$cg'" \
		--set 'c["linux"].setdefault("resources", {})["memory"] = {"limit": 67108864}' -- sh -c '
		cat /sys/fs/cgroup/memory/memory.limit_in_bytes
		grep -qx 1 /sys/fs/cgroup/memory/cgroup.procs && echo own-procs
		if echo 1 > /sys/fs/cgroup/memory/memory.limit_in_bytes 2>/dev/null; then
			echo writable; else echo ro; fi
		readlink /sys/fs/cgroup/cpu >/dev/null 2>&1 || test -d /sys/fs/cgroup/cpu && echo cpu')
	crun_ "$id" "$b" || t_fail "run failed: $(cat "$T_TMP/$id.err")"
	cleanup_id "$id"
	[ "$(cat "$T_TMP/$id.out")" = "$(printf '67108864\nown-procs\nro\ncpu')" ] ||
		t_fail "got: $(cat "$T_TMP/$id.out" | tr '\n' '|')"
}

test_idmapped_bind() {
	t_requirements
	local id=$ID_PREFIX-idmap b src=$T_TMP/idsrc
	mkdir -p "$src"; echo x > "$src/f"; chown 0:0 "$src/f"
	b=$(bundle idmap --set "c['mounts'].append({'destination': '/idm', 'type': 'bind',
		'source': '$src', 'options': ['bind', 'idmap'],
		'uidMappings': [{'containerID': 0, 'hostID': 1234, 'size': 1}],
		'gidMappings': [{'containerID': 0, 'hostID': 1234, 'size': 1}]})" \
		-- stat -c %u:%g /idm/f)
	if ! crun_ "$id" "$b"; then
		cleanup_id "$id"
		if grep -q "idmapped mount not prepared" "$T_TMP/$id.err"; then
			t_skip "vessel-runtime does not call ct_rootfs_idmap_prepare yet"
		fi
		t_fail "run failed: $(cat "$T_TMP/$id.err")"
	fi
	cleanup_id "$id"
	[ "$(cat "$T_TMP/$id.out")" = 1234:1234 ] || t_fail "owner through the idmap: $(cat "$T_TMP/$id.out")"
	[ "$(stat -c %u "$src/f")" = 0 ] || t_fail "the source owner changed"
}

t_run runtime_rootfs_own_proc_shows_only_container_processes test_own_proc
t_run runtime_rootfs_tmpfs_and_readonly_bind_of_host_dir test_tmpfs_and_readonly_bind
t_run runtime_rootfs_readonly_root_refuses_writes test_readonly_root
t_run runtime_rootfs_masked_and_readonly_paths test_masked_and_readonly_paths
t_run runtime_rootfs_devices_default_and_linux_devices test_devices
t_run runtime_rootfs_no_pivot_moves_root test_no_pivot
t_run runtime_rootfs_sysctl_applied_in_container_only test_sysctl
t_run runtime_rootfs_sysctl_not_namespaced_refused test_sysctl_not_namespaced_refused
t_run runtime_rootfs_failing_mount_named_and_nothing_left test_failing_mount_names_it
t_run runtime_rootfs_missing_rootfs_named test_missing_rootfs
t_run runtime_rootfs_userns_binds_devices_and_sysfs test_userns_devices_and_sysfs
t_run runtime_rootfs_cgroup_mount_shows_own_cgroup_read_only test_cgroup_mount_is_own_cgroup
t_run runtime_rootfs_idmapped_bind_maps_owners test_idmapped_bind
