#!/bin/bash
# User namespaces: root inside is an unprivileged uid outside.
. "$(dirname "$0")/lib.sh"

ROOT=$T_TMP/state
rt() { "$BUILD/vessel-runtime" --root "$ROOT" "$@"; }
cleanup() {
	local id
	for id in $(rt list -q 2>/dev/null); do rt delete --force "$id" >/dev/null 2>&1; done
	rm -rf "$T_TMP"
}
trap cleanup EXIT

[ -x "$BUILD/vessel-runtime" ] || { echo "not ok runtime_userns: no $BUILD/vessel-runtime"; exit 1; }
[ -e /proc/self/ns/user ] || { echo "skip userns: no user namespaces"; exit 0; }
chmod 755 "$T_TMP"	# the mapped root (uid 100000) must reach the bundle

mapping_seen_inside_and_outside() {
	"$TOP/tests/integration/make-bundle.sh" "$T_TMP/u" --userns \
		sh -c 'id -u; id -g; cat /proc/self/uid_map; cat /proc/self/gid_map; touch /tmp/made' >/dev/null
	rt run --bundle "$T_TMP/u" us1 > "$T_TMP/out"
	[ "$(sed -n 1p "$T_TMP/out")" = 0 ] || t_fail "uid inside: $(cat "$T_TMP/out")"
	[ "$(sed -n 2p "$T_TMP/out")" = 0 ] || t_fail "gid inside: $(cat "$T_TMP/out")"
	sed -n 3p "$T_TMP/out" | grep -Eq '^ *0 +100000 +65536$' || t_fail "uid_map: $(sed -n 3p "$T_TMP/out")"
	sed -n 4p "$T_TMP/out" | grep -Eq '^ *0 +100000 +65536$' || t_fail "gid_map: $(sed -n 4p "$T_TMP/out")"
	[ "$(stat -c %u:%g "$T_TMP/u/rootfs/tmp/made")" = 100000:100000 ] ||
		t_fail "file owner on the host: $(stat -c %u:%g "$T_TMP/u/rootfs/tmp/made")"
}

host_view_of_the_init() {
	"$TOP/tests/integration/make-bundle.sh" "$T_TMP/u2" --userns sleep 1000 >/dev/null
	rt run -d --bundle "$T_TMP/u2" --pid-file "$T_TMP/p" us2
	local p; p=$(cat "$T_TMP/p")
	grep -Eq '^Uid:\s+100000\s' "/proc/$p/status" || t_fail "init's host uid: $(grep Uid "/proc/$p/status")"
	[ "$(readlink /proc/$p/ns/user)" != "$(readlink /proc/self/ns/user)" ] || t_fail "same user ns as the host"
	# exec joins the user namespace first
	[ "$(rt exec us2 id -u)" = 0 ] || t_fail "exec uid inside"
	rt exec -d --pid-file "$T_TMP/e" us2 sleep 999
	grep -Eq '^Uid:\s+100000\s' "/proc/$(cat "$T_TMP/e")/status" || t_fail "exec'd process host uid"
	rt delete --force us2
}

unmapped_user_refused() {
	"$TOP/tests/integration/make-bundle.sh" "$T_TMP/u3" --userns \
		--set 'c["process"]["user"] = {"uid": 70000, "gid": 0}' true >/dev/null
	if rt run --bundle "$T_TMP/u3" us3 2> "$T_TMP/err"; then t_fail "unmapped uid accepted"; fi
	grep -q "process.user.uid" "$T_TMP/err" || t_fail "message: $(cat "$T_TMP/err")"
	[ ! -e "$ROOT/us3" ] || t_fail "state dir left behind"
}

t_run userns_mapping_seen_inside_and_outside mapping_seen_inside_and_outside
t_run userns_host_view_of_init_and_exec host_view_of_the_init
t_run userns_unmapped_user_refused unmapped_user_refused
