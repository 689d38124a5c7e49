#!/bin/bash
# vessel-vmm command line: bad input is refused with exit 1, one message
# naming what is wrong, and nothing left behind; valid input reaches KVM
# (and, where /dev/kvm is absent, says so).
. "$(dirname "$0")/lib.sh"

VMM=$BUILD/vessel-vmm

# A minimal multiboot image (a.out kludge: loaded whole at 1 MiB, entry at
# 1 MiB + 0x20) that the loader accepts; it never runs here.
le32() { local v=$1; printf "\\x$(printf %02x $((v & 255)))\\x$(printf %02x $(((v >> 8) & 255)))\\x$(printf %02x $(((v >> 16) & 255)))\\x$(printf %02x $(((v >> 24) & 255)))"; }
make_kernel() {
	local flags=$((0x10000))
	{
		le32 $((0x1BADB002)); le32 $flags; le32 $(((0x100000000 - 0x1BADB002 - flags) & 0xffffffff))
		le32 $((0x100000)); le32 $((0x100000)); le32 0; le32 0; le32 $((0x100020))
		head -c 64 /dev/zero
		printf '\xf4\xeb\xfd'	# hlt; jmp .-1
	} > "$1"
}
KERNEL=$T_TMP/kernel.mb
make_kernel "$KERNEL"
CTL=$T_TMP/ctl.sock

# expect_refusal NEEDLE ARGS...: exit 1, exactly one line on stderr containing
# NEEDLE, nothing on stdout, and the control socket was never created.
expect_refusal() {
	local needle=$1 rc=0; shift
	"$VMM" --control-socket "$CTL" "$@" > "$T_TMP/out" 2> "$T_TMP/err" || rc=$?
	[ "$rc" -eq 1 ] || t_fail "exit $rc, expected 1 (stderr: $(head -c 300 "$T_TMP/err"))"
	[ "$(wc -l < "$T_TMP/err")" -eq 1 ] || t_fail "expected one line on stderr, got: $(head -c 500 "$T_TMP/err")"
	grep -qF -- "$needle" "$T_TMP/err" || t_fail "stderr lacks \"$needle\": $(cat "$T_TMP/err")"
	[ ! -s "$T_TMP/out" ] || t_fail "unexpected stdout: $(head -c 200 "$T_TMP/out")"
	[ ! -e "$CTL" ] || t_fail "control socket $CTL left behind"
}

test_missing_kernel_file() { expect_refusal "kernel $T_TMP/nope" --kernel "$T_TMP/nope"; }
test_no_kernel_at_all() { expect_refusal "no kernel given" --memory 64M; }
test_kernel_is_a_directory() { expect_refusal "is a directory" --kernel "$T_TMP"; }
test_unknown_kernel_format() {
	head -c 8192 /dev/zero | tr '\0' 'A' > "$T_TMP/junk"
	expect_refusal "unknown kernel format" --kernel "$T_TMP/junk"
}
test_truncated_elf_kernel() {
	printf '\177ELF\002\001\001' > "$T_TMP/short.elf"
	head -c 100 /dev/zero >> "$T_TMP/short.elf"
	expect_refusal "kernel $T_TMP/short.elf" --kernel "$T_TMP/short.elf"
}
test_missing_initrd() { expect_refusal "initrd $T_TMP/no-initrd" --kernel "$KERNEL" --initrd "$T_TMP/no-initrd"; }
test_memory_zero() { expect_refusal "memory: 0 bytes out of range" --kernel "$KERNEL" --memory 0; }
test_memory_bad_suffix() { expect_refusal '--memory: invalid size "3X"' --kernel "$KERNEL" --memory 3X; }
test_memory_too_big() { expect_refusal "out of range 1M..1T" --kernel "$KERNEL" --memory 2T; }
test_memory_not_page_aligned() { expect_refusal "not a multiple of 4K" --kernel "$KERNEL" --memory 1025K; }
test_cpus_zero() { expect_refusal "cpus: 0 out of range 1..32" --kernel "$KERNEL" --cpus 0; }
test_cpus_33() { expect_refusal "cpus: 33 out of range 1..32" --kernel "$KERNEL" --cpus 33; }
test_unknown_flag() { expect_refusal "unknown option --frobnicate" --kernel "$KERNEL" --frobnicate; }
test_flag_without_value() { expect_refusal "--cmdline: missing value" --kernel "$KERNEL" --cmdline; }
test_missing_disk() { expect_refusal "disk 0 $T_TMP/no.img" --kernel "$KERNEL" --disk "$T_TMP/no.img"; }
test_bad_vsock_cid() { expect_refusal "vsock: cid 2 out of range" --kernel "$KERNEL" --vsock "cid=2,path=$T_TMP/vs"; }
test_bad_mac() { expect_refusal 'invalid MAC "zz"' --kernel "$KERNEL" --net "tap=t0,mac=zz"; }

test_initrd_larger_than_ram() {
	head -c 3000000 /dev/zero > "$T_TMP/big.initrd"
	expect_refusal "initrd $T_TMP/big.initrd: 3000000 bytes do not fit in guest RAM" \
		--kernel "$KERNEL" --memory 2M --initrd "$T_TMP/big.initrd"
}
test_bad_host_profile() { expect_refusal '"xen": expected auto, none or pvm' --kernel "$KERNEL" --host-profile xen; }
test_hugepages_unaligned_memory() { expect_refusal "not a multiple of 2M" --kernel "$KERNEL" --hugepages --memory 3M; }
test_bad_serial_kind() { expect_refusal '--serial: "tcp:1": expected stdout' --kernel "$KERNEL" --serial tcp:1; }

test_malformed_config_names_line() {
	printf '{\n  "vcpus": 1,\n  "memory": ,\n  "kernel": "x"\n}\n' > "$T_TMP/bad.json"
	expect_refusal "$T_TMP/bad.json: line 3" --config "$T_TMP/bad.json"
}
test_config_wrong_type_names_field() {
	printf '{ "kernel": "%s", "vcpus": "two" }\n' "$KERNEL" > "$T_TMP/type.json"
	expect_refusal "$T_TMP/type.json: vcpus: expected int, got string" --config "$T_TMP/type.json"
}
test_config_nested_field_named() {
	printf '{ "kernel": "%s", "disks": [ { "path": 7 } ] }\n' "$KERNEL" > "$T_TMP/disk.json"
	expect_refusal "disks[0].path: expected string" --config "$T_TMP/disk.json"
}
test_config_unknown_field() {
	printf '{ "kernel": "%s", "vcpu": 2 }\n' "$KERNEL" > "$T_TMP/unk.json"
	expect_refusal 'unknown field "vcpu"' --config "$T_TMP/unk.json"
}
test_missing_config_file() { expect_refusal "$T_TMP/none.json" --config "$T_TMP/none.json"; }

test_control_socket_path_taken() {
	: > "$T_TMP/taken"
	local rc=0
	"$VMM" --kernel "$KERNEL" --control-socket "$T_TMP/taken" 2> "$T_TMP/err" || rc=$?
	[ "$rc" -eq 1 ] || t_fail "exit $rc"
	grep -q "control socket $T_TMP/taken: already exists" "$T_TMP/err" || t_fail "$(cat "$T_TMP/err")"
	[ -f "$T_TMP/taken" ] && [ ! -S "$T_TMP/taken" ] || t_fail "existing file was replaced"
}

test_help_lists_flags() {
	"$VMM" --help > "$T_TMP/help" || t_fail "--help exited $?"
	grep -q -- "--kernel FILE" "$T_TMP/help" || t_fail "no --kernel in help"
	grep -q -- "--control-socket" "$T_TMP/help" || t_fail "no --control-socket in help"
}

# Valid input: with no /dev/kvm the VMM must say so, after all the checks
# above passed (the kernel was parsed), and leave nothing behind.
test_valid_input_without_kvm_names_dev_kvm() {
	[ -e /dev/kvm ] && t_skip "/dev/kvm present (this test covers its absence)"
	expect_refusal "/dev/kvm not present" --kernel "$KERNEL" --memory 64M --cpus 2 \
		--cmdline "hello" --serial none
}
test_valid_config_without_kvm_names_dev_kvm() {
	[ -e /dev/kvm ] && t_skip "/dev/kvm present (this test covers its absence)"
	printf '{ "kernel": "%s", "vcpus": 2, "memory": "64M", "control_socket": "%s" }\n' \
		"$KERNEL" "$CTL" > "$T_TMP/good.json"
	expect_refusal "/dev/kvm not present" --config "$T_TMP/good.json"
}

for t in missing_kernel_file no_kernel_at_all kernel_is_a_directory unknown_kernel_format \
	truncated_elf_kernel missing_initrd memory_zero memory_bad_suffix memory_too_big \
	memory_not_page_aligned cpus_zero cpus_33 unknown_flag flag_without_value missing_disk \
	bad_vsock_cid bad_mac initrd_larger_than_ram bad_host_profile hugepages_unaligned_memory bad_serial_kind \
	malformed_config_names_line config_wrong_type_names_field \
	config_nested_field_named config_unknown_field missing_config_file \
	control_socket_path_taken help_lists_flags valid_input_without_kvm_names_dev_kvm \
	valid_config_without_kvm_names_dev_kvm; do
	t_run "vmm_cli_$t" "test_$t"
done
