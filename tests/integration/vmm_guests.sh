#!/bin/bash
# The project's guest programs (guests/) booted on vessel-vmm: the same
# images and checks guests_qemu.sh proves on QEMU, plus what only Vessel
# promises (the Linux 64-bit entry, strict bounds checks on guest buffers,
# vsock to a host Unix socket). Needs /dev/kvm; without it every test is
# skipped. vessel-vmm exits with (V << 1) | 1 when the guest writes V to
# port 0xf4, so a passing guest gives 1 and a failing one 3; reset and ACPI
# power-off give 0.
. "$(dirname "$0")/lib.sh"
. "$TOP/guests/tools/testlib.sh"

VMM=$BUILD/vessel-vmm
MAC=52:54:00:12:34:56

v_need() {
	[ -e /dev/kvm ] || t_skip "/dev/kvm not present"
	[ -x "$VMM" ] || t_fail "$VMM not built"
}

# v_run NAME IMAGE CMDLINE [VMM ARGS...]: boots build/guests/IMAGE; serial
# (stdout) in $serial, stderr in $serial.err, exit status in $rc.
# V_MEM / V_CPUS size the machine.
v_run() {
	local name=$1 cmd=$3
	v_need
	g_image "$2"
	shift 3
	serial=$T_TMP/$name.serial
	rc=0
	# timeout is a hang guard only
	# --host-profile none: the PVM profile appends Linux parameters, which
	# these guests neither need nor expect on their command line
	timeout 60 "$VMM" --kernel "$img" --memory "${V_MEM:-128M}" --cpus "${V_CPUS:-1}" \
		--host-profile none --cmdline "$cmd" "$@" </dev/null >"$serial" 2>"$serial.err" ||
		rc=$?
	cat "$serial" "$serial.err"
}

boot_test() {
	local fam=$1 image=$2 extra=$3 cmd
	cmd="expect_path=$fam expect_mem=128M $extra token=$$"
	v_run "boot_$fam" "$image" "$cmd"
	g_expect_status "$rc" 1
	g_expect_ok "$serial" $(g_boot_oks "$fam")
	grep -q "^cmdline='\(.* \)\?$cmd'\$" "$serial" || t_fail "command line not delivered"
}

t_boot_multiboot() { boot_test multiboot boot_multiboot.elf ""; }
t_boot_pvh() { boot_test pvh boot_pvh.elf ""; }
# vessel-vmm enters a bzImage at its 64-bit entry (boot_params in RSI)
t_boot_linux() {
	boot_test linux boot_linux.bzImage "expect_entry=linux-64"
	g_expect_ok "$serial" boot_linux_entry
}

t_boot_guest_detects_wrong_memory() {
	V_MEM=256M v_run boot_wrong_mem boot_pvh.elf "expect_path=pvh expect_mem=128M"
	g_expect_status "$rc" 3
	grep -q '^not ok boot_pvh_ram_size: ' "$serial" || t_fail "no ram_size failure reported"
}

t_serial() {
	v_run serial serial.elf ""
	g_expect_status "$rc" 1
	g_expect_ok "$serial" serial_scratch serial_divisor_latch serial_lcr serial_lsr_idle \
		serial_lsr_no_data serial_loopback_msr serial_loopback_msr_clear \
		serial_loopback_data serial_loopback_drained serial_iir_none_pending
	! grep -q 'Vx!' "$serial" || t_fail "loopback bytes leaked to the output"
}

# an unexpected exception is reported by the guest, which then fails (3)
t_fault() {
	v_run fault fault.elf ""
	g_expect_status "$rc" 3
	grep -qx "ok fault_idt_loaded" "$serial" || t_fail "IDT not reported loaded"
	grep -q '^not ok exception: vector 6 ' "$serial" || t_fail "no #UD report"
	! grep -q '^not ok fault_ud2' "$serial" || t_fail "ud2 did not fault"
}

t_rtc() {
	v_run rtc rtc.elf "host_day=$(date -u +%Y%m%d)"
	g_expect_status "$rc" 1
	g_expect_ok "$serial" rtc_register_d_vrt rtc_fields_valid rtc_year_plausible \
		rtc_matches_host_date rtc_second_read_valid rtc_consistent
}

t_fwcfg() {
	V_CPUS=2 V_MEM=256M v_run fwcfg fwcfg.elf "expect_cpus=2 expect_mem=256M"
	g_expect_status "$rc" 1
	g_expect_ok "$serial" fwcfg_signature fwcfg_id_traditional fwcfg_nb_cpus fwcfg_ram_size \
		fwcfg_cmdline_size fwcfg_cmdline fwcfg_dma_signature fwcfg_dma_file_dir \
		fwcfg_absent_key
}

t_smp() {
	V_CPUS=4 v_run smp smp.elf "expect_cpus=4"
	g_expect_status "$rc" 1
	g_expect_ok "$serial" smp_fwcfg_cpus smp_madt_cpus smp_ipi_delivered smp_all_aps_started \
		smp_apic_ids_distinct
	[ "$(grep -c '^smp: AP [0-9]* has APIC id' "$serial")" -eq 3 ] || t_fail "not 3 APs listed"
}

t_reset() {
	v_run reset reset.elf ""
	g_expect_status "$rc" 0
	grep -q '^reset: pulsing reset' "$serial" || t_fail "guest never reached the reset"
	g_expect_ok "$serial"
	grep -qi 'reset' "$serial.err" || t_fail "vessel-vmm gave no message about the reset"
}

t_poweroff() {
	v_run poweroff poweroff.elf ""
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
	v_need
	g_make_disk "$disk"
	v_run virtio_blk virtio_blk.elf "expect_sectors=2048 expect_id=vdisk0" \
		--disk "$disk,id=vdisk0"
	g_expect_status "$rc" 1
	g_expect_ok "$serial" $BLK_OKS virtio_blk_write_sector1 virtio_blk_read_back
	g_check_sector1 "$disk" written
}

t_virtio_blk_readonly() {
	local disk=$T_TMP/blk_ro.img
	v_need
	g_make_disk "$disk"
	v_run virtio_blk_ro virtio_blk.elf "expect_sectors=2048 expect_id=vdisk0 expect_ro=1" \
		--disk "$disk,ro,id=vdisk0"
	g_expect_status "$rc" 1
	g_expect_ok "$serial" $BLK_OKS virtio_blk_ro_offered virtio_blk_ro_write_fails
	g_check_sector1 "$disk" zero
}

# strict=1: vessel-vmm must refuse buffers outside guest RAM (NEEDS_RESET or
# IOERR), where QEMU only has to handle them somehow
t_virtio_blk_hostile() {
	local disk=$T_TMP/blk_hostile.img
	v_need
	g_make_disk "$disk"
	v_run virtio_blk_hostile virtio_blk_hostile.elf "expect_mem=128M strict=1" \
		--disk "$disk"
	g_expect_status "$rc" 1
	g_expect_ok "$serial" virtio_blk_hostile_baseline_read \
		virtio_blk_hostile_loop_needs_reset virtio_blk_hostile_loop_recovers \
		virtio_blk_hostile_bad_next_refused virtio_blk_hostile_bad_next_recovers \
		virtio_blk_hostile_bad_head_refused virtio_blk_hostile_bad_head_recovers \
		virtio_blk_hostile_outside_ram_handled virtio_blk_hostile_outside_ram_refused \
		virtio_blk_hostile_outside_ram_recovers virtio_blk_hostile_straddle_handled \
		virtio_blk_hostile_straddle_refused virtio_blk_hostile_straddle_recovers
	g_check_sector1 "$disk" zero
}

t_virtio_net() {
	local tap=vsgv$$ token=v$$x$RANDOM
	v_need
	g_tap_up "$tap"
	NET_TAP=$tap
	trap 'g_net_cleanup' EXIT
	"$PYTHON" "$GUEST_TOOLS/tapnet.py" "$tap" "$token" "$T_TMP/net.ready" "$T_TMP/net.out" \
		"$T_TMP/net.stop" &
	HELPER_PY=$!
	g_wait_file "$T_TMP/net.ready" "$HELPER_PY"
	v_run virtio_net virtio_net.elf "expect_mac=$MAC net_token=$token net_rx=1" \
		--net "tap=$tap,mac=$MAC"
	touch "$T_TMP/net.stop"
	wait "$HELPER_PY" || t_fail "no frame from the guest on $tap"
	g_expect_status "$rc" 1
	g_expect_ok "$serial" virtio_net_found virtio_net_init virtio_net_mac virtio_net_tx \
		virtio_net_rx virtio_net_status_clean
	grep -qxF "vessel-guest-frame $token" "$T_TMP/net.out" || t_fail "wrong frame on the tap"
	grep -qE '^net: ([5-9]|[1-9][0-9]+) other frames skipped' "$serial" ||
		t_fail "fewer than 5 frames skipped before the host's"
}

t_virtio_console() {
	local token=c$$x$RANDOM out=$T_TMP/console.out
	v_run virtio_console virtio_console.elf "console_token=$token" --console "file:$out"
	g_expect_status "$rc" 1
	g_expect_ok "$serial" virtio_console_found virtio_console_init virtio_console_write \
		virtio_console_status_clean
	grep -qxF "hello from virtio-console $token" "$out" || t_fail "line missing from $out"
}

t_virtio_rng() {
	v_run virtio_rng virtio_rng.elf "" --rng
	g_expect_status "$rc" 1
	g_expect_ok "$serial" virtio_rng_found virtio_rng_init virtio_rng_read1 virtio_rng_read2 \
		virtio_rng_not_zero virtio_rng_reads_differ
}

t_virtio_balloon() {
	v_run virtio_balloon virtio_balloon.elf "expect_mem=128M" --balloon
	g_expect_status "$rc" 1
	g_expect_ok "$serial" virtio_balloon_found virtio_balloon_init virtio_balloon_num_pages \
		virtio_balloon_inflate virtio_balloon_actual virtio_balloon_deflate \
		virtio_balloon_actual_zero virtio_balloon_pages_usable virtio_balloon_status_clean
}

# guest port 1234 -> the host Unix socket <path>_1234 (Firecracker's convention)
t_virtio_vsock() {
	local token=s$$x$RANDOM sock=$T_TMP/vsock
	v_need
	trap 'g_net_cleanup' EXIT
	"$PYTHON" "$GUEST_TOOLS/vsock_host.py" "${sock}_1234" "$T_TMP/vsock.ready" \
		"$T_TMP/vsock.out" "$T_TMP/vsock.stop" &
	HELPER_PY=$!
	g_wait_file "$T_TMP/vsock.ready" "$HELPER_PY"
	v_run virtio_vsock virtio_vsock.elf "expect_cid=5 vsock_port=1234 vsock_token=$token" \
		--vsock "cid=5,path=$sock"
	touch "$T_TMP/vsock.stop"
	wait "$HELPER_PY" || t_fail "host listener got no line"
	g_expect_status "$rc" 1
	g_expect_ok "$serial" virtio_vsock_found virtio_vsock_init virtio_vsock_guest_cid \
		virtio_vsock_request_sent virtio_vsock_connected virtio_vsock_peer_credit \
		virtio_vsock_send virtio_vsock_reply virtio_vsock_shutdown_sent virtio_vsock_closed
	grep -qxF "hello from vsock $token" "$T_TMP/vsock.out" || t_fail "wrong line on the host"
}

# the instruction fallback (vmm/x86/emulate.c): on a host that cannot
# emulate them (PVM) vessel-vmm carries them out; elsewhere the hardware
# does. Either way the guest sees the architectural result. strict=1: the
# mxcsr guest also checks #GP(0) for reserved bits (QEMU TCG skips that).
insn_test() {
	local name=$1
	shift
	v_run "insn_$name" "insn_$name.elf" "strict=1"
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
		insn_mxcsr_rounding insn_mxcsr_precision_flag insn_mxcsr_reserved_gp \
		insn_mxcsr_gp_rip insn_mxcsr_unchanged_after_gp
}
t_insn_fwait() {
	insn_test fwait insn_fwait_quiet insn_fwait_zero_divide_pending insn_fwait_mf \
		insn_fwait_mf_rip insn_fwait_quiet_after_fnclex insn_fwait_nm_with_ts \
		insn_fwait_nm_rip insn_fwait_quiet_after_clts
}

# Without /dev/kvm vessel-vmm still loads the image before it gives up
# (it loads first, then opens /dev/kvm): every guest image must pass its
# format checks, so the only complaint is the missing /dev/kvm.
t_loader_accepts_images() {
	local f err=$T_TMP/loader.err rc
	[ ! -e /dev/kvm ] || t_skip "/dev/kvm present: the boot tests cover loading"
	[ -x "$VMM" ] || t_fail "$VMM not built"
	for f in boot_multiboot.elf boot_pvh.elf boot_linux.bzImage smp.elf virtio_blk.elf; do
		g_image "$f"
		rc=0
		"$VMM" --kernel "$img" --memory 128M --host-profile none --cmdline "x=1" \
			</dev/null >/dev/null 2>"$err" || rc=$?
		[ "$rc" -ne 0 ] || t_fail "$f: exit 0 without /dev/kvm"
		grep -q '/dev/kvm' "$err" || t_fail "$f: refused before KVM: $(head -c 300 "$err")"
		! grep -q "kernel $img" "$err" || t_fail "$f: $(head -c 300 "$err")"
	done
}

t_run vmm_loader_accepts_guest_images t_loader_accepts_images
t_run vmm_boot_multiboot t_boot_multiboot
t_run vmm_boot_pvh t_boot_pvh
t_run vmm_boot_linux t_boot_linux
t_run vmm_boot_guest_detects_wrong_memory t_boot_guest_detects_wrong_memory
t_run vmm_serial t_serial
t_run vmm_rtc t_rtc
t_run vmm_fault_reported t_fault
t_run vmm_fwcfg t_fwcfg
t_run vmm_smp t_smp
t_run vmm_reset t_reset
t_run vmm_poweroff t_poweroff
t_run vmm_virtio_blk t_virtio_blk
t_run vmm_virtio_blk_readonly t_virtio_blk_readonly
t_run vmm_virtio_blk_hostile t_virtio_blk_hostile
t_run vmm_virtio_net t_virtio_net
t_run vmm_virtio_console t_virtio_console
t_run vmm_virtio_rng t_virtio_rng
t_run vmm_virtio_balloon t_virtio_balloon
t_run vmm_virtio_vsock t_virtio_vsock
t_run vmm_insn_int3 t_insn_int3
t_run vmm_insn_clac t_insn_clac
t_run vmm_insn_mxcsr t_insn_mxcsr
t_run vmm_insn_fwait t_insn_fwait
