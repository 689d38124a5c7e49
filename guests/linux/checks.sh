# shellcheck shell=bash
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
	local log=$1 cmd=$2 cpus=$3 mem_mb=$4 usable=0 a b line got
	# exact, unless a VMM host profile appended parameters (LX_CMDLINE_PREFIX=1)
	got=$(sed -n 's/^\[ *[0-9.]*\] Command line: //p' "$log" | head -1)
	[ "$got" = "$cmd" ] || { [ "${LX_CMDLINE_PREFIX:-}" = 1 ] && [ "${got#"$cmd "}" != "$got" ]; } ||
		t_fail "kernel got command line '$got', not '$cmd'"
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

# lx_virtio_cmdline TOKEN NET [VSOCK_PORT]: the project kernel's command
# line: root on the first partition of virtio-blk, mounted read-only first;
# kernel IP autoconfiguration as NET.2 with the host (tap) at NET.1; the
# log on ttyS0 (/dev/console, the last console=) and on the virtio console
lx_virtio_cmdline() {
	local c="console=hvc0 console=ttyS0 root=/dev/vda1 rootfstype=ext4 ro rootwait panic=-1"
	c="$c ip=$2.2::$2.1:255.255.255.0::eth0:off vessel.checks=virtio vessel.ping=$2.1"
	c="$c vessel.token=$1"
	[ -z "${3:-}" ] || c="$c vessel.vsock_port=$3"
	echo "$c"
}

# lx_virtio_bound LOG DRIVER: a virtio device bound to DRIVER whose PCI
# function uses MSI-X for at least two vectors (config + a queue). Drivers
# named in LX_INTX_OK may use INTx instead (QEMU's virtio-balloon-pci has no
# MSI-X capability at all).
lx_virtio_bound() {
	case " ${LX_INTX_OK:-} " in
	*" $2 "*)
		grep -qE "^vessel-init: virtio virtio[0-9]+ device=0x[0-9a-f]+ driver=$2 pci=[0-9a-f:.]+ irqs=" "$1" ||
			t_fail "no virtio device bound to $2"
		return ;;
	esac
	grep -qE "^vessel-init: virtio virtio[0-9]+ device=0x[0-9a-f]+ driver=$2 pci=[0-9a-f:.]+ irqs=msix:([2-9]|[1-9][0-9]+)\$" "$1" ||
		t_fail "no virtio device bound to $2 with MSI-X vectors"
}

# lx_check_virtio LOG DISK_IMAGE HVC_FILE MAC TOKEN NET: the project
# kernel's drivers on every virtio device, from its log and its init
lx_check_virtio() {
	local log=$1 img=$2 hvc=$3 mac=$4 token=$5 net=$6 sectors part
	local d
	for d in virtio_blk virtio_net virtio_console virtio_rng virtio_balloon; do
		lx_virtio_bound "$log" "$d"
	done
	# virtio-blk: the image's size, the MBR partition, ext4 ro then rw
	sectors=$(($(stat -c %s "$img") / 512))
	lx_has "$log" "virtio_blk virtio[0-9]+: \\[vda\\] $sectors 512-byte logical blocks" \
		"the disk's size ($sectors sectors)"
	lx_has "$log" '\] +vda: vda1$' "the partition scan"
	lx_has "$log" 'EXT4-fs \(vda1\): mounted filesystem' "ext4 mounted"
	lx_has "$log" 'VFS: Mounted root \(ext4 filesystem\) readonly on device' "the root mounted ro"
	grep -qxF "vessel-init: root ext4 ro" "$log" || t_fail "init did not see the root ro"
	lx_has "$log" 'EXT4-fs \(vda1\): re-mounted' "ext4 remounted"
	grep -qxF "vessel-init: root ext4 rw" "$log" || t_fail "init did not see the root rw"
	grep -qxF "vessel-init: host-file $token" "$log" || t_fail "init did not read the host's file"
	part=$T_TMP/part.img
	dd if="$img" of="$part" bs=1M skip=1 status=none
	[ "$(debugfs -R 'cat /guest-file' "$part" 2>/dev/null)" = "written by the guest $token" ] ||
		t_fail "the guest's file is not on the disk image"
	rm -f "$part"
	# virtio-net: autoconfiguration completes only with the link up; the MAC
	lx_has "$log" "device=eth0, hwaddr=$mac, ipaddr=$net.2," "IP-Config on eth0 with $mac"
	grep -qxF "vessel-init: eth0 mac=$mac operstate=up carrier=1" "$log" ||
		t_fail "eth0 not up with $mac"
	grep -qxF "vessel-init: ping $net.1 ok" "$log" || t_fail "no ping reply from the host"
	# virtio-rng is the current hwrng and delivers bytes
	grep -qE '^vessel-init: hwrng virtio_rng\.[0-9]+$' "$log" || t_fail "virtio-rng not the hwrng"
	grep -qxF "vessel-init: hwrng-read 16 bytes" "$log" || t_fail "no bytes from /dev/hwrng"
	# virtio console: the kernel log and init's line reach the host's file
	lx_has "$log" 'printk: console \[hvc0\] enabled' "the hvc0 console"
	grep -qE '^vessel-init: vport vport[0-9]+p0$' "$log" || t_fail "no virtio console port"
	grep -qF "hello from hvc0 $token" "$hvc" || t_fail "init's line missing from $hvc"
	# hvc0 shows the log from its registration on (no replay), which is
	# before the root is mounted
	grep -qF 'VFS: Mounted root (ext4 filesystem)' "$hvc" ||
		t_fail "the kernel log did not reach $hvc"
	# the balloon driver bound
	grep -qE '^vessel-init: balloon virtio[0-9]+$' "$log" || t_fail "balloon driver not bound"
}

# lx_check_vsock LOG TOKEN: the vsock core, its virtio transport, and a line
# answered by the host
lx_check_vsock() {
	lx_has "$1" 'NET: Registered PF_VSOCK protocol family' "the vsock core"
	lx_virtio_bound "$1" vmw_vsock_virtio_transport
	grep -qE '^vessel-init: vsock transport virtio[0-9]+$' "$1" || t_fail "no vsock transport"
	grep -qxF "vessel-init: vsock reply ack hello from vsock $2" "$1" ||
		t_fail "no reply over vsock"
}
