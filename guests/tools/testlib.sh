# Helpers shared by tests/integration/guests_qemu.sh and vmm_guests.sh
# (sourced after tests/integration/lib.sh). The guest images live in
# $GUESTS (build/guests by default: `make guests`).

GUESTS=${GUESTS:-$TOP/build/guests}
GUEST_TOOLS=$TOP/guests/tools

# the system interpreter: a version-manager shim costs seconds per start
PYTHON=${PYTHON:-$(command -v /usr/bin/python3 || command -v python3)}

# g_image NAME: sets $img to the guest image, or fails the test when it is
# not built (not through $(...): t_fail must end the test itself)
g_image() {
	img=$GUESTS/$1
	[ -f "$img" ] || t_fail "$img missing (run make guests)"
}

# g_expect_ok LOG NAME...: every "ok NAME" line present, no "not ok" at all
g_expect_ok() {
	local log=$1 n bad
	shift
	bad=$(grep -m1 '^not ok ' "$log" || true)
	[ -z "$bad" ] || t_fail "guest: ${bad#not ok }"
	for n in "$@"; do
		grep -qx "ok $n" "$log" || t_fail "guest did not report ok $n"
	done
}

# g_expect_status GOT WANT: the VMM's exit status (1 = guest passed)
g_expect_status() {
	[ "$1" -eq "$2" ] || t_fail "exit status $1, expected $2"
}

# g_make_disk FILE: 1 MiB image; sector 0 holds the pattern virtio_blk checks
g_make_disk() {
	"$PYTHON" - "$1" <<'PY'
import sys
head = b"VESSEL-BLK-SECTOR-0\n"
s0 = bytes(head[i] if i < len(head) else (i * 7 + 3) & 0xFF for i in range(512))
with open(sys.argv[1], "wb") as f:
    f.write(s0 + bytes(1024 * 1024 - 512))
PY
}

# g_check_sector1 FILE written|zero: what sector 1 of the image holds now
g_check_sector1() {
	"$PYTHON" - "$1" "$2" <<'PY' || t_fail "sector 1 of the disk image is not $2"
import sys
data = open(sys.argv[1], "rb").read()[512:1024]
head = b"WRITTEN-BY-GUEST\n"
want = (bytes(head[i] if i < len(head) else (i ^ 0x5A) & 0xFF for i in range(512))
        if sys.argv[2] == "written" else bytes(512))
sys.exit(0 if data == want else 1)
PY
}

# g_tap_up NAME: a tap device for one test (root and /dev/net/tun needed)
g_tap_up() {
	[ "$(id -u)" -eq 0 ] || t_skip "needs root for a tap device"
	[ -c /dev/net/tun ] || t_skip "/dev/net/tun not present"
	ip tuntap add dev "$1" mode tap || t_fail "cannot create tap $1"
	# no IPv6 chatter from the host on the test link
	sysctl -qw "net.ipv6.conf.$1.disable_ipv6=1" 2>/dev/null || true
	ip link set "$1" up || t_fail "cannot bring $1 up"
}

# g_wait_file FILE: the helper process signals readiness by creating FILE
# (bounded: a helper that died leaves the loop through kill -0)
g_wait_file() {
	local pid=$2
	while [ ! -e "$1" ]; do
		kill -0 "$pid" 2>/dev/null || t_fail "helper exited before getting ready"
		sleep 0.05
	done
}

BOOT_CHECKS="magic own_page_tables cmdline path memmap image_in_ram low_ram ram_size ram_top"
# g_boot_oks FAMILY: the ok names boot.c reports for that family
g_boot_oks() {
	local c
	for c in $BOOT_CHECKS; do echo "boot_$1_$c"; done
}

# runs at the end of a test with a host-side helper (EXIT trap of its
# subshell): the helper process and the tap go, whatever happened
HELPER_PY= NET_TAP=
g_net_cleanup() {
	if [ -n "$HELPER_PY" ]; then kill "$HELPER_PY" 2>/dev/null || true; fi
	if [ -n "$NET_TAP" ]; then ip link del "$NET_TAP" 2>/dev/null || true; fi
}
