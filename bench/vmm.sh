#!/bin/bash
# bench/vmm: vessel-vmm side by side with QEMU (-enable-kvm, -M microvm: the
# fastest QEMU machine that boots a PVH guest) on the same tiny PVH guests:
#   - process start -> guest's first instruction (a guest whose first
#     instruction exits through port 0xf4; wall time to process exit)
#   - process start -> first serial line (the guest prints, then exits)
#   - the VMM's private memory for a 1 vCPU / 128 MiB guest that halts:
#     private RSS of the process minus the guest RAM it touched
# Prints both figures and the ratios. Needs /dev/kvm.
set -eu
TOP=$(cd "$(dirname "$0")/.." && pwd)
VMM=${VESSEL_VMM:-$TOP/build/release/vessel-vmm}
RUNS=${RUNS:-30}
if [ ! -c /dev/kvm ]; then
	echo "bench/vmm: skipped: /dev/kvm not present on this machine"
	exit 0
fi
W=$(mktemp -d /tmp/vessel-bench-vmm.XXXXXX)
trap 'rm -rf "$W"; [ -n "${pids:-}" ] && kill $pids 2>/dev/null' EXIT

build_guest() {	# SRC OUT [CPPFLAGS]
	gcc -m32 -nostdlib -static -no-pie -Wl,-Ttext=0x100000 -Wl,--build-id=none \
		${3:-} -o "$2" "$1"
}
build_guest "$TOP/bench/guests/first_insn.S" "$W/first_insn.elf"
build_guest "$TOP/bench/guests/first_line.S" "$W/first_line.elf"
build_guest "$TOP/bench/guests/first_line.S" "$W/stay.elf" -DSTAY

QEMU="qemu-system-x86_64 -enable-kvm -M microvm,pit=off,pic=off,rtc=off -m 128M -smp 1
	-nodefaults -no-user-config -display none -serial stdio
	-device isa-debug-exit,iobase=0xf4,iosize=4"
VESSEL="$VMM --memory 128M --cpus 1"

mean() {	# hyperfine json -> mean seconds
	python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['results'][0]['mean'])" "$1"
}
time_both() {	# NAME GUEST
	# both exit with status 1 (guest wrote 0 to 0xf4): -i accepts it
	hyperfine -N -i -w 3 -r "$RUNS" --export-json "$W/$1-vessel.json" \
		"$VESSEL --kernel $2" >/dev/null 2>&1
	hyperfine -N -i -w 3 -r "$RUNS" --export-json "$W/$1-qemu.json" \
		"$QEMU -kernel $2" >/dev/null 2>&1
	local v q
	v=$(mean "$W/$1-vessel.json"); q=$(mean "$W/$1-qemu.json")
	python3 -c "import sys; v,q=float(sys.argv[2]),float(sys.argv[3]); \
print(f'{sys.argv[1]:28} vessel {v*1000:8.2f} ms   qemu {q*1000:8.2f} ms   ratio {v/q:.3f}x')" "$1" "$v" "$q"
}

# private memory of PID, minus the guest RAM mapping's resident pages
private_kib() {	# PID GUEST_BYTES
	python3 - "$1" "$2" <<'PY'
import sys
pid, guest = sys.argv[1], int(sys.argv[2])
total = guest_rss = 0
cur_size = 0
for line in open(f"/proc/{pid}/smaps"):
    f = line.split()
    if "-" in f[0] and len(f) >= 5 and not f[0].endswith(":"):
        lo, hi = (int(x, 16) for x in f[0].split("-"))
        cur_size = hi - lo
    elif f[0] in ("Private_Clean:", "Private_Dirty:"):
        kib = int(f[1])
        total += kib
        if cur_size >= guest:      # the guest RAM mapping
            guest_rss += kib
print(total - guest_rss)
PY
}
mem_both() {
	$VESSEL --kernel "$W/stay.elf" > "$W/v.out" 2>&1 & local vp=$!
	$QEMU -kernel "$W/stay.elf" > "$W/q.out" 2>&1 & local qp=$!
	pids="$vp $qp"
	for _ in $(seq 100); do
		grep -q "bench guest up" "$W/v.out" && grep -q "bench guest up" "$W/q.out" && break
		sleep 0.1
	done
	local v q
	v=$(private_kib $vp $((128 << 20))); q=$(private_kib $qp $((128 << 20)))
	kill $vp $qp; wait $vp $qp 2>/dev/null || true; pids=""
	echo "private memory (1 vCPU, 128 MiB)  vessel $v KiB   qemu $q KiB   ratio $(python3 -c "print(f'{$v/$q:.3f}')")x"
}

echo "bench/vmm: vessel-vmm vs QEMU $(qemu-system-x86_64 --version | head -n1 | awk '{print $4}') -M microvm, $RUNS runs each"
time_both "start -> first instruction" "$W/first_insn.elf"
time_both "start -> first serial line" "$W/first_line.elf"
mem_both
