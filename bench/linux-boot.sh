#!/bin/bash
# bench/linux-boot: a real Linux guest, vessel-vmm side by side with QEMU
# (-enable-kvm -M q35, the same ACPI + PCI shape) on the same stock Debian
# cloud kernel and the same initramfs (guests/linux/):
#   - process start -> the kernel starts init ("Run /init as init process"
#     on the serial console) and -> init's first line ("vessel-init:
#     started"); the wall time at which each line is read from the VMM's
#     stdout
#   - the VMM's private memory with the guest idle in init (vessel.stay=1):
#     private RSS minus the guest RAM mapping's resident pages
# Prints both figures and the ratios. Needs /dev/kvm.
set -eu
TOP=$(cd "$(dirname "$0")/.." && pwd)
VMM=${VESSEL_VMM:-$TOP/build/release/vessel-vmm}
RUNS=${RUNS:-5}
MEM_MB=512
if [ ! -c /dev/kvm ]; then
	echo "bench/linux-boot: skipped: /dev/kvm not present on this machine"
	exit 0
fi
[ -x "$VMM" ] || { echo "bench/linux-boot: $VMM not built (make release)" >&2; exit 1; }
W=$(mktemp -d /tmp/vessel-bench-linux.XXXXXX)
trap 'rm -rf "$W"' EXIT
KERNEL=$("$TOP/guests/linux/stock-kernel.sh")
"$TOP/guests/linux/make-initramfs.sh" "$W/initramfs.gz"
# no "quiet": "Run /init as init process" is an info line
CMD="console=ttyS0 panic=-1"

QEMU=(qemu-system-x86_64 -enable-kvm -cpu host -M q35 -m "${MEM_MB}M" -smp 1 -nodefaults
	-no-user-config -no-reboot -display none -serial stdio -kernel "$KERNEL"
	-initrd "$W/initramfs.gz")
VESSEL=("$VMM" --memory "${MEM_MB}M" --cpus 1 --host-profile auto --kernel "$KERNEL"
	--initrd "$W/initramfs.gz")

# boot_times MODE CMD...: runs the VMM RUNS times; prints the mean seconds
# to "Run /init" and to init's first line (MODE=time), or with
# vessel.stay=1 waits for init and prints the private KiB (MODE=mem)
boot_times() {
	python3 - "$MEM_MB" "$@" <<'PY'
import os, subprocess, sys, time
mem_mb, mode, runs, argv = int(sys.argv[1]), sys.argv[2], int(sys.argv[3]), sys.argv[4:]

def private_kib(pid):
    total = guest = size = 0
    for line in open(f"/proc/{pid}/smaps"):
        f = line.split()
        if "-" in f[0] and not f[0].endswith(":"):
            lo, hi = (int(x, 16) for x in f[0].split("-"))
            size = hi - lo
        elif f[0] in ("Private_Clean:", "Private_Dirty:"):
            total += int(f[1])
            if size >= mem_mb << 20:
                guest += int(f[1])
    return total - guest

t_init, t_line = [], []
for _ in range(runs if mode == "time" else 1):
    t0 = time.monotonic()
    p = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                         stdin=subprocess.DEVNULL)
    seen_init = None
    for raw in p.stdout:
        line = raw.decode(errors="replace")
        if seen_init is None and "Run /init as init process" in line:
            seen_init = time.monotonic() - t0
        if "vessel-init: started" in line:
            t_line.append(time.monotonic() - t0)
            t_init.append(seen_init if seen_init is not None else t_line[-1])
            if mode == "mem":
                for l2 in p.stdout:
                    if b"vessel-init: staying" in l2:
                        break
                print(private_kib(p.pid))
                p.kill()
            break
    p.stdout.close()
    p.wait(timeout=120)
    if not t_line:
        sys.exit("guest never reached init")
if mode == "time":
    print(sum(t_init) / len(t_init), sum(t_line) / len(t_line))
PY
}

ratio() { python3 -c "import sys; print(f'{float(sys.argv[1]) / float(sys.argv[2]):.3f}')" "$1" "$2"; }

echo "bench/linux-boot: $(basename "$KERNEL"), 1 vCPU, ${MEM_MB} MiB, $RUNS runs each;" \
	"QEMU $(qemu-system-x86_64 --version | head -n1 | awk '{print $4}') -M q35"
read -r v_init v_line < <(boot_times time "$RUNS" "${VESSEL[@]}" --cmdline "$CMD")
read -r q_init q_line < <(boot_times time "$RUNS" "${QEMU[@]}" -append "$CMD")
printf '%-28s vessel %8.1f ms   qemu %8.1f ms   ratio %sx\n' "start -> kernel starts init" \
	"$(python3 -c "print($v_init * 1000)")" "$(python3 -c "print($q_init * 1000)")" "$(ratio "$v_init" "$q_init")"
printf '%-28s vessel %8.1f ms   qemu %8.1f ms   ratio %sx\n' "start -> init's first line" \
	"$(python3 -c "print($v_line * 1000)")" "$(python3 -c "print($q_line * 1000)")" "$(ratio "$v_line" "$q_line")"
v_mem=$(boot_times mem 1 "${VESSEL[@]}" --cmdline "$CMD vessel.stay=1")
q_mem=$(boot_times mem 1 "${QEMU[@]}" -append "$CMD vessel.stay=1")
echo "private memory (guest in init)  vessel $v_mem KiB   qemu $q_mem KiB   ratio $(ratio "$v_mem" "$q_mem")x"
