#!/bin/bash
# Reference runs of the Linux guest checks on QEMU under TCG: the stock
# Debian cloud kernel to init (2 and 4 vCPUs), and the project's kernel
# (guests/linux/build-kernel.sh) with root on virtio-blk and the other
# virtio devices. They prove the log assertions in guests/linux/checks.sh
# that tests/integration/linux_guest.sh applies to vessel-vmm. They need
# the kernel build (about 15 min the first time) and minutes of TCG, so
# only `make linux-check` runs them (VESSEL_LINUX_CHECK=1); under
# tests/run.sh they are skipped.
. "$(dirname "$0")/lib.sh"
. "$TOP/guests/tools/testlib.sh"
. "$TOP/guests/linux/checks.sh"

QEMU=${QEMU:-qemu-system-x86_64}
MAC=52:54:00:12:34:57
MEM_MB=512

lq_need() {
	[ "${VESSEL_LINUX_CHECK:-}" = 1 ] ||
		t_skip "reference run for make linux-check (needs the kernel build)"
	command -v "$QEMU" >/dev/null || t_skip "$QEMU not installed"
}

# lq_run NAME KERNEL CPUS CMDLINE [QEMU ARGS...]: serial log in $log, exit
# status in $rc; the guest powers off at the end of its init
lq_run() {
	local name=$1 kernel=$2 cpus=$3 cmd=$4
	shift 4
	log=$T_TMP/$name.serial
	rc=0
	# a hang guard only: TCG boots take 10-60 s
	timeout 600 "$QEMU" -accel tcg -M q35 -smp "$cpus" -m "${MEM_MB}M" -display none \
		-nodefaults -no-reboot -monitor none -serial "file:$log.raw" \
		-kernel "$kernel" -append "$cmd" "$@" </dev/null || rc=$?
	# the 8250 console writes CR LF
	tr -d '\r' <"$log.raw" >"$log"
	cat "$log"
}

stock_test() {
	local cpus=$1 kernel cmd token=s$$x$RANDOM
	lq_need
	kernel=$("$LINUX_DIR/stock-kernel.sh") || t_fail "no stock kernel"
	"$LINUX_DIR/make-initramfs.sh" "$T_TMP/initramfs.gz" || t_fail "initramfs not built"
	cmd="console=ttyS0 panic=-1 vessel.token=$token"
	lq_run "stock$cpus" "$kernel" "$cpus" "$cmd" -initrd "$T_TMP/initramfs.gz"
	g_expect_status "$rc" 0
	lx_check_boot "$log" "$cmd" "$cpus" "$MEM_MB"
	lx_check_initramfs "$log"
	lx_check_init "$log" "$cpus" "$token"
}
t_stock_2cpus() { stock_test 2; }
t_stock_4cpus() { stock_test 4; }

# the project kernel with every virtio device QEMU can offer here (its
# vsock needs /dev/vhost-vsock: that part is vessel-vmm's)
t_project_virtio() {
	local kernel cmd token=p$$x$RANDOM tap=vslq$$
	lq_need
	kernel=$("$LINUX_DIR/build-kernel.sh") || t_fail "kernel build failed"
	"$LINUX_DIR/make-rootfs.sh" "$T_TMP/root.img" "$token" || t_fail "root image not built"
	g_tap_up "$tap"
	NET_TAP=$tap
	trap 'g_net_cleanup' EXIT
	ip addr add 10.202.0.1/24 dev "$tap" || t_fail "cannot address $tap"
	cmd=$(lx_virtio_cmdline "$token" 10.202.0)
	lq_run project "$kernel" 2 "$cmd" \
		-drive "file=$T_TMP/root.img,if=none,id=d0,format=raw" \
		-device virtio-blk-pci,drive=d0,disable-legacy=on \
		-netdev "tap,id=n0,ifname=$tap,script=no,downscript=no" \
		-device "virtio-net-pci,netdev=n0,mac=$MAC,disable-legacy=on" \
		-device virtio-serial-pci,disable-legacy=on \
		-chardev "file,id=c0,path=$T_TMP/hvc.out" -device virtconsole,chardev=c0 \
		-device virtio-rng-pci,disable-legacy=on -device virtio-balloon-pci,disable-legacy=on
	g_expect_status "$rc" 0
	lx_check_boot "$log" "$cmd" 2 "$MEM_MB"
	LX_INTX_OK=virtio_balloon lx_check_virtio "$log" "$T_TMP/root.img" "$T_TMP/hvc.out" \
		"$MAC" "$token" 10.202.0
	# the vsock core registers without a device; its transport is not bound
	lx_has "$log" 'NET: Registered PF_VSOCK protocol family' "the vsock core"
}

t_run linux_qemu_stock_kernel_2cpus t_stock_2cpus
t_run linux_qemu_stock_kernel_4cpus t_stock_4cpus
t_run linux_qemu_project_kernel_virtio t_project_virtio
