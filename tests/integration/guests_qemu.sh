#!/bin/bash
# The project's guest programs (guests/) on the reference VMM, QEMU under
# TCG, with the devices vessel-vmm offers: isa-debug-exit at 0xf4, the 16550
# on COM1 (to a file), modern-only virtio-pci devices, fw_cfg. This proves
# the guests themselves; tests/integration/vmm_guests.sh boots the same
# images on vessel-vmm. A guest that passes exits with status 1 (it writes
# 0 to the exit port), a failing one with 3.
. "$(dirname "$0")/lib.sh"
. "$TOP/guests/tools/testlib.sh"

QEMU=${QEMU:-qemu-system-x86_64}
MAC=52:54:00:12:34:56

# q_run NAME IMAGE CMDLINE [QEMU ARGS...]: boots build/guests/IMAGE; serial
# output in $serial, exit status in $rc. Q_MEM / Q_CPUS size the machine.
q_run() {
	local name=$1 cmd=$3
	command -v "$QEMU" >/dev/null || t_skip "$QEMU not installed"
	g_image "$2"
	shift 3
	serial=$T_TMP/$name.serial
	rc=0
	# timeout is a hang guard only: every guest here finishes in about a second
	timeout 60 "$QEMU" -accel tcg -M pc -m "${Q_MEM:-128M}" -smp "${Q_CPUS:-1}" \
		-display none -nodefaults -no-reboot -monitor none \
		-device isa-debug-exit,iobase=0xf4,iosize=4 -serial "file:$serial" \
		-kernel "$img" -append "$cmd" "$@" </dev/null || rc=$?
	cat "$serial"
}

boot_test() {
	local fam=$1 img=$2 extra=$3 cmd
	cmd="expect_path=$fam expect_mem=128M $extra token=$$"
	q_run "boot_$fam" "$img" "$cmd"
	g_expect_status "$rc" 1
	g_expect_ok "$serial" $(g_boot_oks "$fam")
	# multiboot loaders put the kernel's name first (QEMU does, GRUB too)
	if [ "$fam" = multiboot ]; then
		grep -q "^cmdline='.* $cmd'\$" "$serial" || t_fail "command line not delivered"
	else
		grep -qxF "cmdline='$cmd'" "$serial" || t_fail "command line not delivered"
	fi
}

t_boot_multiboot() { boot_test multiboot boot_multiboot.elf ""; }
t_boot_pvh() { boot_test pvh boot_pvh.elf ""; }
t_boot_linux() {
	boot_test linux boot_linux.bzImage "expect_entry=linux-32"
	g_expect_ok "$serial" boot_linux_entry
}

# the 64-bit entry (vessel-vmm's path), reached through a stand-in 64-bit
# loader built into boot_linux64.bzImage (guests/boot/linux_fake64.S)
t_boot_linux64() {
	boot_test linux boot_linux64.bzImage "expect_entry=linux-64"
	g_expect_ok "$serial" boot_linux_entry
}

# the boot guest's memory check can fail: 256M given, 128M expected
t_boot_guest_detects_wrong_memory() {
	Q_MEM=256M q_run boot_wrong_mem boot_pvh.elf "expect_path=pvh expect_mem=128M"
	g_expect_status "$rc" 3
	grep -q '^not ok boot_pvh_ram_size: ' "$serial" || t_fail "no ram_size failure reported"
}

t_serial() {
	q_run serial serial.elf ""
	g_expect_status "$rc" 1
	g_expect_ok "$serial" serial_scratch serial_divisor_latch serial_lcr serial_lsr_idle \
		serial_lsr_no_data serial_loopback_msr serial_loopback_msr_clear \
		serial_loopback_data serial_loopback_drained serial_iir_none_pending
	# bytes sent in loopback mode must not reach the console
	! grep -q 'Vx!' "$serial" || t_fail "loopback bytes leaked to the output"
}

# an unexpected exception is reported by the guest, which then fails (3)
t_fault() {
	q_run fault fault.elf ""
	g_expect_status "$rc" 3
	grep -qx "ok fault_idt_loaded" "$serial" || t_fail "IDT not reported loaded"
	grep -q '^not ok exception: vector 6 ' "$serial" || t_fail "no #UD report"
	! grep -q '^not ok fault_ud2' "$serial" || t_fail "ud2 did not fault"
}

t_rtc() {
	q_run rtc rtc.elf "host_day=$(date -u +%Y%m%d)"
	g_expect_status "$rc" 1
	g_expect_ok "$serial" rtc_register_d_vrt rtc_fields_valid rtc_year_plausible \
		rtc_matches_host_date rtc_second_read_valid rtc_consistent
}

t_fwcfg() {
	Q_CPUS=2 Q_MEM=256M q_run fwcfg fwcfg.elf "expect_cpus=2 expect_mem=256M"
	g_expect_status "$rc" 1
	g_expect_ok "$serial" fwcfg_signature fwcfg_id_traditional fwcfg_nb_cpus fwcfg_ram_size \
		fwcfg_cmdline_size fwcfg_cmdline fwcfg_dma_signature fwcfg_dma_file_dir \
		fwcfg_absent_key
}

t_smp() {
	Q_CPUS=4 q_run smp smp.elf "expect_cpus=4"
	g_expect_status "$rc" 1
	g_expect_ok "$serial" smp_fwcfg_cpus smp_madt_cpus smp_ipi_delivered smp_all_aps_started \
		smp_apic_ids_distinct
	[ "$(grep -c '^smp: AP [0-9]* has APIC id' "$serial")" -eq 3 ] || t_fail "not 3 APs listed"
}

t_reset() {
	q_run reset reset.elf ""
	# -no-reboot: QEMU exits 0 when the guest resets
	g_expect_status "$rc" 0
	grep -q '^reset: pulsing reset' "$serial" || t_fail "guest never reached the reset"
	g_expect_ok "$serial"
}

t_poweroff() {
	q_run poweroff poweroff.elf ""
	g_expect_status "$rc" 0
	g_expect_ok "$serial" poweroff_rsdp poweroff_fadt poweroff_pm1a_cnt poweroff_dsdt \
		poweroff_s5_package
	grep -q '^poweroff: .*entering S5' "$serial" || t_fail "guest never wrote SLP_EN"
}

BLK_OKS="virtio_blk_found virtio_blk_init virtio_blk_capacity virtio_blk_read_sector0
	virtio_blk_read_past_end virtio_blk_read_scatter virtio_blk_flush_offered virtio_blk_flush virtio_blk_get_id
	virtio_blk_status_clean"

t_virtio_blk() {
	local disk=$T_TMP/blk.img
	g_make_disk "$disk"
	q_run virtio_blk virtio_blk.elf "expect_sectors=2048 expect_id=vdisk0" \
		-drive "file=$disk,if=none,id=d0,format=raw" \
		-device virtio-blk-pci,drive=d0,disable-legacy=on,serial=vdisk0
	g_expect_status "$rc" 1
	g_expect_ok "$serial" $BLK_OKS virtio_blk_write_sector1 virtio_blk_read_back
	g_check_sector1 "$disk" written
}

t_virtio_blk_readonly() {
	local disk=$T_TMP/blk_ro.img
	g_make_disk "$disk"
	q_run virtio_blk_ro virtio_blk.elf \
		"expect_sectors=2048 expect_id=vdisk0 expect_ro=1" \
		-drive "file=$disk,if=none,id=d0,format=raw,readonly=on" \
		-device virtio-blk-pci,drive=d0,disable-legacy=on,serial=vdisk0
	g_expect_status "$rc" 1
	g_expect_ok "$serial" $BLK_OKS virtio_blk_ro_offered virtio_blk_ro_write_fails
	g_check_sector1 "$disk" zero
}

t_virtio_blk_hostile() {
	local disk=$T_TMP/blk_hostile.img
	g_make_disk "$disk"
	q_run virtio_blk_hostile virtio_blk_hostile.elf "expect_mem=128M" \
		-drive "file=$disk,if=none,id=d0,format=raw" \
		-device virtio-blk-pci,drive=d0,disable-legacy=on
	g_expect_status "$rc" 1
	g_expect_ok "$serial" virtio_blk_hostile_baseline_read \
		virtio_blk_hostile_loop_needs_reset virtio_blk_hostile_loop_recovers \
		virtio_blk_hostile_bad_next_refused virtio_blk_hostile_bad_next_recovers \
		virtio_blk_hostile_bad_head_refused virtio_blk_hostile_bad_head_recovers \
		virtio_blk_hostile_outside_ram_handled virtio_blk_hostile_outside_ram_recovers \
		virtio_blk_hostile_straddle_handled virtio_blk_hostile_straddle_recovers
	g_check_sector1 "$disk" zero
}

t_virtio_net() {
	local tap=vsgq$$ token=q$$x$RANDOM
	g_tap_up "$tap"
	NET_TAP=$tap
	trap 'g_net_cleanup' EXIT
	"$PYTHON" "$GUEST_TOOLS/tapnet.py" "$tap" "$token" "$T_TMP/net.ready" "$T_TMP/net.out" \
		"$T_TMP/net.stop" &
	HELPER_PY=$!
	g_wait_file "$T_TMP/net.ready" "$HELPER_PY"
	q_run virtio_net virtio_net.elf \
		"expect_mac=$MAC net_token=$token net_rx=1" \
		-netdev "tap,id=n0,ifname=$tap,script=no,downscript=no" \
		-device "virtio-net-pci,netdev=n0,mac=$MAC,disable-legacy=on"
	touch "$T_TMP/net.stop"
	wait "$HELPER_PY" || t_fail "no frame from the guest on $tap"
	g_expect_status "$rc" 1
	g_expect_ok "$serial" virtio_net_found virtio_net_init virtio_net_mac virtio_net_tx \
		virtio_net_rx virtio_net_status_clean
	grep -qxF "vessel-guest-frame $token" "$T_TMP/net.out" || t_fail "wrong frame on the tap"
	# the helper sends 5 other frames first: receive buffers were recycled
	grep -qE '^net: ([5-9]|[1-9][0-9]+) other frames skipped' "$serial" ||
		t_fail "fewer than 5 frames skipped before the host's"
}

t_virtio_console() {
	local token=c$$x$RANDOM out=$T_TMP/console.out
	q_run virtio_console virtio_console.elf "console_token=$token" \
		-device virtio-serial-pci,disable-legacy=on \
		-chardev "file,id=c0,path=$out" -device virtconsole,chardev=c0
	g_expect_status "$rc" 1
	g_expect_ok "$serial" virtio_console_found virtio_console_init virtio_console_write \
		virtio_console_status_clean
	grep -qxF "hello from virtio-console $token" "$out" || t_fail "line missing from $out"
}

t_virtio_rng() {
	q_run virtio_rng virtio_rng.elf "" -device virtio-rng-pci,disable-legacy=on
	g_expect_status "$rc" 1
	g_expect_ok "$serial" virtio_rng_found virtio_rng_init virtio_rng_read1 virtio_rng_read2 \
		virtio_rng_not_zero virtio_rng_reads_differ
}

t_virtio_balloon() {
	q_run virtio_balloon virtio_balloon.elf "expect_mem=128M" \
		-device virtio-balloon-pci,disable-legacy=on
	g_expect_status "$rc" 1
	g_expect_ok "$serial" virtio_balloon_found virtio_balloon_init virtio_balloon_num_pages \
		virtio_balloon_inflate virtio_balloon_actual virtio_balloon_deflate \
		virtio_balloon_actual_zero virtio_balloon_pages_usable virtio_balloon_status_clean
}

t_virtio_vsock() {
	[ -e /dev/vhost-vsock ] || t_skip "QEMU's virtio-vsock needs /dev/vhost-vsock, absent here"
	t_skip "QEMU run needs an AF_VSOCK host listener; the guest is run on vessel-vmm only"
}

# the instructions vessel-vmm emulates for hosts that cannot (int3, clac/stac,
# ldmxcsr/stmxcsr, fwait), proven here against QEMU's CPU model; -cpu max
# for SMAP (clac/stac)
insn_test() {
	local name=$1
	shift
	q_run "insn_$name" "insn_$name.elf" "" -cpu max
	g_expect_status "$rc" 1
	g_expect_ok "$serial" "$@"
}
t_insn_int3() {
	insn_test int3 insn_int3_delivered insn_int3_vector insn_int3_rip_after insn_int3_opcode \
		insn_int3_cs insn_int3_rsp insn_int3_rflags insn_int3_repeated
}
t_insn_clac() {
	insn_test clac insn_clac_smap_cpuid insn_clac_ac_preset insn_clac_clears_ac \
		insn_clac_other_flags insn_stac_ac_precleared insn_stac_sets_ac \
		insn_stac_other_flags insn_stac_when_set insn_clac_when_clear
}
t_insn_mxcsr() {
	insn_test mxcsr insn_mxcsr_sse_cpuid insn_mxcsr_reset_value insn_mxcsr_round_trip \
		insn_mxcsr_rounding insn_mxcsr_precision_flag
}
t_insn_fwait() {
	insn_test fwait insn_fwait_quiet insn_fwait_zero_divide_pending insn_fwait_mf \
		insn_fwait_mf_rip insn_fwait_quiet_after_fnclex insn_fwait_nm_with_ts \
		insn_fwait_nm_rip insn_fwait_quiet_after_clts
}
# the guest's checks can fail: without -cpu max (qemu64 has no SMAP) clac
# must be reported missing, not pass
t_insn_clac_detects_missing_smap() {
	q_run insn_clac_nosmap insn_clac.elf "" -cpu qemu64
	g_expect_status "$rc" 3
	grep -q '^not ok insn_clac_smap_cpuid: ' "$serial" || t_fail "missing SMAP not reported"
}

# the bzImage builder refuses what would not boot, says why, leaves no file
t_mkbzimage_rejects_bad_input() {
	local tool=$GUESTS/mkbzimage out=$T_TMP/bad.bzImage err=$T_TMP/mkbz.err rc
	[ -x "$tool" ] || t_fail "$tool missing (run make guests)"
	g_image linux_setup.bin
	local setup=$img
	g_image boot_linux.payload.bin
	local payload=$img
	head -c 4096 /dev/zero >"$T_TMP/zero.bin"
	head -c 16 "$payload" >"$T_TMP/short.bin"
	rc=0; "$tool" 2>"$err" || rc=$?
	[ "$rc" -eq 2 ] && grep -q usage "$err" || t_fail "no usage error without arguments"
	for bad in "$T_TMP/zero.bin $payload:no setup header" \
		"$setup $T_TMP/short.bin:payload too small" \
		"$T_TMP/missing.bin $payload:missing.bin"; do
		rc=0
		"$tool" ${bad%%:*} "$out" 2>"$err" || rc=$?
		[ "$rc" -eq 1 ] || t_fail "exit $rc for ${bad##*:}"
		grep -q "${bad##*:}" "$err" || t_fail "message lacks '${bad##*:}': $(cat "$err")"
		[ ! -e "$out" ] || t_fail "output left behind for ${bad##*:}"
	done
	rc=0
	"$tool" "$setup" "$payload" "$out" 0x1000 2>"$err" || rc=$?
	[ "$rc" -eq 2 ] && grep -q CODE32_START "$err" || t_fail "code32_start below 1 MiB accepted"
	[ ! -e "$out" ] || t_fail "output left behind for a bad code32_start"
	rc=0
	"$tool" "$setup" "$payload" "$T_TMP/no/such/dir/x" 2>"$err" || rc=$?
	[ "$rc" -eq 1 ] || t_fail "exit $rc for an unwritable output"
	"$tool" "$setup" "$payload" "$out" || t_fail "good input refused"
	cmp -s "$out" "$GUESTS/boot_linux.bzImage" || t_fail "output differs from the build's"
}

# ticker runs until stopped: wait (hang guard 60 s) for its third tick, then
# stop it; its identity line comes from fw_cfg opt/vessel/id
t_ticker() {
	command -v "$QEMU" >/dev/null || t_skip "$QEMU not installed"
	g_image ticker.elf
	serial=$T_TMP/ticker.serial
	: > "$serial"
	"$QEMU" -accel tcg -M pc -m 64M -display none -nodefaults -no-reboot -monitor none \
		-device isa-debug-exit,iobase=0xf4,iosize=4 -serial "file:$serial" \
		-fw_cfg name=opt/vessel/id,string=clone7 -kernel "$img" </dev/null &
	local pid=$! i
	for i in $(seq 600); do
		grep -q "^tick 3" "$serial" && break
		kill -0 $pid 2>/dev/null || break
		sleep 0.1
	done
	kill $pid 2>/dev/null; wait $pid 2>/dev/null || true
	cat "$serial"
	grep -q "^tick 3" "$serial" || t_fail "no third tick"
	grep -qx "id=clone7" "$serial" || t_fail "identity not read from fw_cfg"
	! grep -q "^not ok" "$serial" || t_fail "the guest reported a failure"
}

t_run guests_mkbzimage_rejects_bad_input t_mkbzimage_rejects_bad_input
t_run qemu_boot_multiboot t_boot_multiboot
t_run qemu_boot_pvh t_boot_pvh
t_run qemu_boot_linux t_boot_linux
t_run qemu_boot_linux_64bit_entry t_boot_linux64
t_run qemu_boot_guest_detects_wrong_memory t_boot_guest_detects_wrong_memory
t_run qemu_serial t_serial
t_run qemu_rtc t_rtc
t_run qemu_fault_reported t_fault
t_run qemu_fwcfg t_fwcfg
t_run qemu_smp t_smp
t_run qemu_reset t_reset
t_run qemu_poweroff t_poweroff
t_run qemu_virtio_blk t_virtio_blk
t_run qemu_virtio_blk_readonly t_virtio_blk_readonly
t_run qemu_virtio_blk_hostile t_virtio_blk_hostile
t_run qemu_virtio_net t_virtio_net
t_run qemu_virtio_console t_virtio_console
t_run qemu_virtio_rng t_virtio_rng
t_run qemu_virtio_balloon t_virtio_balloon
t_run qemu_virtio_vsock t_virtio_vsock
t_run qemu_insn_int3 t_insn_int3
t_run qemu_insn_clac t_insn_clac
t_run qemu_insn_clac_detects_missing_smap t_insn_clac_detects_missing_smap
t_run qemu_insn_mxcsr t_insn_mxcsr
t_run qemu_insn_fwait t_insn_fwait
t_run qemu_ticker t_ticker
