# Log assertions on a Linux guest's serial console, shared by
# tests/integration/linux_qemu.sh (QEMU TCG, the reference) and
# tests/integration/linux_guest.sh (vessel-vmm). Sourced after
# tests/integration/lib.sh; every check ends the test with t_fail and says
# which line was missing. Patterns follow Linux 6.1's printk formats.

LINUX_DIR=$TOP/guests/linux

# lx_has LOG ERE WHAT: a line matching ERE must be in LOG
lx_has() {
	grep -qE -- "$2" "$1" || t_fail "kernel log lacks $3 (/$2/)"
}

# lx_check_boot LOG CMDLINE CPUS MEM_MB: what any kernel must log on the way
# to init: the command line it got, the e820 map (usable RAM adds up to the
# machine's memory, within 16 MiB of firmware holes), ACPI tables, every
# vCPU up, a clocksource, the serial console, the PCI bus
lx_check_boot() {
	local log=$1 cmd=$2 cpus=$3 mem_mb=$4 usable=0 a b line
	grep -qxF -- "Command line: $cmd" <(sed 's/^\[ *[0-9.]*\] //' "$log") ||
		t_fail "kernel log lacks 'Command line: $cmd'"
	while read -r line; do
		a=${line#*\[mem }
		b=${a#*-}
		a=${a%%-*}
		b=${b%%\]*}
		usable=$((usable + b - a + 1))
	done < <(grep -E 'BIOS-e820: \[mem 0x[0-9a-f]+-0x[0-9a-f]+\] usable' "$log")
	[ "$usable" -gt 0 ] || t_fail "no usable e820 range in the kernel log"
	local want=$((mem_mb << 20))
	[ "$usable" -le "$want" ] && [ "$usable" -ge $((want - (16 << 20))) ] ||
		t_fail "e820 usable RAM $usable bytes, machine has $want"
	lx_has "$log" 'ACPI: RSDP 0x[0-9A-F]+' "the ACPI RSDP"
	lx_has "$log" 'ACPI: FACP 0x[0-9A-F]+' "the ACPI FADT"
	lx_has "$log" 'ACPI: APIC 0x[0-9A-F]+' "the ACPI MADT"
	lx_has "$log" 'ACPI: DSDT 0x[0-9A-F]+' "the ACPI DSDT"
	! grep -qE 'ACPI (Error|BIOS Error)' "$log" || t_fail "ACPI errors: $(grep -m1 -E 'ACPI (Error|BIOS Error)' "$log")"
	lx_has "$log" "smp: Brought up 1 node, $cpus CPUs?\$" "all $cpus vCPUs brought up"
	lx_has "$log" 'clocksource: Switched to clocksource [a-z0-9_-]+' "a clocksource"
	lx_has "$log" 'printk: console \[ttyS0\] enabled' "the ttyS0 console"
	lx_has "$log" 'ttyS0 at I/O 0x3f8 \(irq = 4' "the 16550 at 0x3f8"
	lx_has "$log" 'PCI host bridge to bus 0000:00' "the PCI host bridge"
	lx_has "$log" 'pci 0000:00:[0-9a-f]{2}\.[0-7]: \[[0-9a-f]{4}:[0-9a-f]{4}\]' "PCI devices"
}

# lx_check_initramfs LOG: the initramfs was unpacked and its /init ran
lx_check_initramfs() {
	local log=$1
	lx_has "$log" 'Trying to unpack rootfs image as initramfs' "initramfs unpacking"
	! grep -q 'Initramfs unpacking failed' "$log" || t_fail "initramfs unpacking failed"
	lx_has "$log" 'Freeing initrd memory' "the initrd freed after unpacking"
	lx_has "$log" 'Run /init as init process' "/init started"
}

# lx_check_init LOG CPUS TOKEN: the project's init ran as pid 1, saw every
# CPU and the token from the command line, and finished
lx_check_init() {
	grep -qxF "vessel-init: started pid=1 cpus=$2 token=$3" "$1" ||
		t_fail "init did not report 'started pid=1 cpus=$2 token=$3'"
	grep -qxF "vessel-init: done" "$1" || t_fail "init did not finish"
}
