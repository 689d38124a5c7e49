#!/bin/bash
# Real Linux guests on vessel-vmm, checked from the kernel's own log with the
# assertions of guests/linux/checks.sh (proven against QEMU by
# linux_qemu.sh): the stock Debian cloud kernel, unmodified, to init at 2 and
# 4 vCPUs with --host-profile auto; the project's kernel (Debian
# linux-source-6.1, guests/linux/vessel.config) with root on virtio-blk and
# every virtio device, whose init then works in userspace: the ext4 root
# remounted rw, a file the host wrote read, one the host checks written, a
# ping over virtio-net on a tap, a line over vsock, the hwrng read, a line on
# the virtio console. Needs /dev/kvm: without it every test is skipped
# before anything is built or downloaded.
. "$(dirname "$0")/lib.sh"
. "$TOP/guests/tools/testlib.sh"
. "$TOP/guests/linux/checks.sh"

VMM=$BUILD/vessel-vmm
MAC=52:54:00:12:34:58
MEM_MB=512

lv_need() {
	[ -e /dev/kvm ] || t_skip "/dev/kvm not present"
	[ -x "$VMM" ] || t_fail "$VMM not built"
}

# lv_run NAME CPUS CMDLINE [VMM ARGS...]: serial log in $log, stderr in
# $log.err, exit status in $rc. The host profile applies when the host
# needs it (auto); its parameters then follow CMDLINE on the kernel's line.
lv_run() {
	local name=$1 cpus=$2 cmd=$3
	shift 3
	log=$T_TMP/$name.serial
	rc=0
	# a hang guard only
	timeout 600 "$VMM" --memory "${MEM_MB}M" --cpus "$cpus" --host-profile auto \
		--cmdline "$cmd" "$@" </dev/null >"$log.raw" 2>"$log.err" || rc=$?
	tr -d '\r' <"$log.raw" >"$log"
	cat "$log" "$log.err"
	if grep -q 'host profile pvm applied' "$log.err"; then
		LX_CMDLINE_PREFIX=1
	fi
}

stock_test() {
	local cpus=$1 kernel cmd token=s$$x$RANDOM
	lv_need
	kernel=$("$LINUX_DIR/stock-kernel.sh") || t_fail "no stock kernel"
	"$LINUX_DIR/make-initramfs.sh" "$T_TMP/initramfs.gz" || t_fail "initramfs not built"
	cmd="console=ttyS0 panic=-1 vessel.token=$token"
	lv_run "stock$cpus" "$cpus" "$cmd" --kernel "$kernel" --initrd "$T_TMP/initramfs.gz"
	g_expect_status "$rc" 0
	lx_check_boot "$log" "$cmd" "$cpus" "$MEM_MB"
	lx_check_initramfs "$log"
	lx_check_init "$log" "$cpus" "$token"
}
t_stock_2cpus() { stock_test 2; }
t_stock_4cpus() { stock_test 4; }

t_project_virtio() {
	local kernel cmd token=p$$x$RANDOM tap=vslg$$ sock=$T_TMP/vsock
	lv_need
	kernel=$("$LINUX_DIR/build-kernel.sh") || t_fail "kernel build failed"
	"$LINUX_DIR/make-rootfs.sh" "$T_TMP/root.img" "$token" || t_fail "root image not built"
	g_tap_up "$tap"
	NET_TAP=$tap
	trap 'g_net_cleanup' EXIT
	ip addr add 10.201.0.1/24 dev "$tap" || t_fail "cannot address $tap"
	"$PYTHON" "$GUEST_TOOLS/vsock_host.py" "${sock}_1234" "$T_TMP/vsock.ready" \
		"$T_TMP/vsock.out" "$T_TMP/vsock.stop" &
	HELPER_PY=$!
	g_wait_file "$T_TMP/vsock.ready" "$HELPER_PY"
	cmd=$(lx_virtio_cmdline "$token" 10.201.0 1234)
	lv_run project 2 "$cmd" --kernel "$kernel" --disk "$T_TMP/root.img,id=root" \
		--net "tap=$tap,mac=$MAC" --vsock "cid=3,path=$sock" --rng --balloon \
		--console "file:$T_TMP/hvc.out"
	touch "$T_TMP/vsock.stop"
	wait "$HELPER_PY" || t_fail "the vsock listener got no line"
	g_expect_status "$rc" 0
	lx_check_boot "$log" "$cmd" 2 "$MEM_MB"
	lx_check_virtio "$log" "$T_TMP/root.img" "$T_TMP/hvc.out" "$MAC" "$token" 10.201.0
	lx_check_vsock "$log" "$token"
	grep -qxF "hello from vsock $token" "$T_TMP/vsock.out" || t_fail "wrong line on the host"
}

# Without /dev/kvm vessel-vmm still loads the kernel and initrd before it
# opens /dev/kvm: the stock bzImage must pass its checks, so the only
# complaint is the missing device. Uses a stock kernel already on this
# machine (make linux-check fetches one); never downloads.
t_loader_accepts_stock_kernel() {
	local kernel err=$T_TMP/loader.err rc=0
	[ ! -e /dev/kvm ] || t_skip "/dev/kvm present: the boot tests cover loading"
	[ -x "$VMM" ] || t_fail "$VMM not built"
	kernel=$("$LINUX_DIR/stock-kernel.sh" --local) ||
		t_skip "no stock kernel on this machine (make linux-check fetches it)"
	"$LINUX_DIR/make-initramfs.sh" "$T_TMP/initramfs.gz" || t_fail "initramfs not built"
	"$VMM" --kernel "$kernel" --initrd "$T_TMP/initramfs.gz" --memory "${MEM_MB}M" --cpus 2 \
		--cmdline "console=ttyS0" </dev/null >/dev/null 2>"$err" || rc=$?
	[ "$rc" -ne 0 ] || t_fail "exit 0 without /dev/kvm"
	grep -q '/dev/kvm not present' "$err" || t_fail "refused before KVM: $(head -c 300 "$err")"
	! grep -qE "^vessel-vmm: (kernel|initrd) " "$err" || t_fail "$(head -c 300 "$err")"
}

# the same for the project kernel when a build is cached here (never builds)
t_loader_accepts_project_kernel() {
	local kernel err=$T_TMP/loader.err rc=0 cache=${VESSEL_CACHE:-${HOME:-/root}/.cache/vessel}
	[ ! -e /dev/kvm ] || t_skip "/dev/kvm present: the boot tests cover loading"
	[ -x "$VMM" ] || t_fail "$VMM not built"
	kernel=$(ls -t "$cache"/linux-*/src/arch/x86/boot/bzImage 2>/dev/null | head -1 || true)
	[ -n "$kernel" ] || t_skip "no cached project kernel (make linux-kernel builds it)"
	"$VMM" --kernel "$kernel" --memory "${MEM_MB}M" --cpus 2 --cmdline "console=ttyS0" \
		</dev/null >/dev/null 2>"$err" || rc=$?
	[ "$rc" -ne 0 ] || t_fail "exit 0 without /dev/kvm"
	grep -q '/dev/kvm not present' "$err" || t_fail "refused before KVM: $(head -c 300 "$err")"
	! grep -qE "^vessel-vmm: kernel " "$err" || t_fail "$(head -c 300 "$err")"
}

t_run vmm_linux_loader_accepts_stock_kernel t_loader_accepts_stock_kernel
t_run vmm_linux_loader_accepts_project_kernel t_loader_accepts_project_kernel
t_run vmm_linux_stock_kernel_2cpus t_stock_2cpus
t_run vmm_linux_stock_kernel_4cpus t_stock_4cpus
t_run vmm_linux_project_kernel_virtio t_project_virtio
