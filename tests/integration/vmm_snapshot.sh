#!/bin/bash
# vessel-vmm snapshots, restore, clones and live migration, end to end.
# The refusals need no KVM and run everywhere: a restore validates the whole
# snapshot before it opens /dev/kvm (docs/snapshots.md). The cases that run
# a guest skip without /dev/kvm.
. "$(dirname "$0")/lib.sh"

VMM=$BUILD/vessel-vmm
GUESTS=${GUESTS:-$TOP/build/guests}
# a guest that runs until stopped, printing "tick N" lines and "id=VALUE"
# whenever fw_cfg opt/vessel/id changes (guests engineer: guests/progs)
TICKER=$GUESTS/ticker.elf

# mksnap DIR [cpus=1] [mem_mib=16] [disk_size=-1: none] [memfile=vm.mem]:
# writes DIR/vm.snap, a well-formed state file (format: docs/snapshots.md)
# whose sections all decode, naming a memory file that is not written.
mksnap() {
	python3 - "$@" <<'PY'
import struct, sys, os
d = sys.argv[1]
cpus = int(sys.argv[2]) if len(sys.argv) > 2 else 1
mem = (int(sys.argv[3]) if len(sys.argv) > 3 else 16) << 20
disk = int(sys.argv[4]) if len(sys.argv) > 4 else -1
memfile = sys.argv[5] if len(sys.argv) > 5 else "vm.mem"
T = []
for i in range(256):
    c = i
    for _ in range(8):
        c = (c >> 1) ^ 0x82F63B78 if c & 1 else c >> 1
    T.append(c)
def crc(b, c=0):
    c ^= 0xFFFFFFFF
    for x in b:
        c = T[(c ^ x) & 0xFF] ^ (c >> 8)
    return c ^ 0xFFFFFFFF
def field(tag, body):
    return struct.pack("<HI", tag, len(body)) + body
def s(x):
    x = x.encode()
    return struct.pack("<H", len(x)) + x
machine = struct.pack("<III", 1, cpus, 1) + struct.pack("<QQ", 0, mem)
machine += struct.pack("<I", 1) + struct.pack("<BQ", 0, 0x1234) + s(memfile)
if disk >= 0:
    machine += struct.pack("<I", 1) + s("/snap/disk.img") + struct.pack("<QQQQIB", disk, 1, 2, 3, 4, 0)
else:
    machine += struct.pack("<I", 0)
irq = struct.pack("<I", 1)
for i in range(3):
    irq += field(1 + i, struct.pack("<I", i) + bytes(516))
irq += field(4, bytes(112)) + field(5, bytes(48))
vcpu = struct.pack("<I", 1)
for tag, size in ((1, 144), (2, 312), (3, 416), (7, 1024), (8, 64), (9, 4), (10, 128)):
    vcpu += field(tag, bytes(size))
vcpu += field(6, struct.pack("<I", 0)) + field(11, struct.pack("<I", 0))
secs = [("machine", machine), ("irqchip", irq)] + [("vcpu.%d" % i, vcpu) for i in range(cpus)]
n = len(secs)
table_end = 64 + 48 * n
al = lambda v: (v + 7) & ~7
off = al(table_end)
table = b""
data = b""
for name, body in secs:
    table += name.encode().ljust(24, b"\0") + struct.pack("<QQII", off, len(body), crc(body), 0)
    pad = al(off + len(body)) - off - len(body)
    data += body + bytes(pad)
    off = al(off + len(body))
hdr = b"VESSELSN" + struct.pack("<II", 1, n) + b"vessel-vmm test".ljust(32, b"\0") + struct.pack("<QI", off, 0)
hdr += struct.pack("<I", crc(table, crc(hdr)))
out = hdr + table + bytes(al(table_end) - table_end) + data
assert len(out) == off
open(os.path.join(d, "vm.snap"), "wb").write(out)
PY
}

# restore_refused NAME-OF-EXPECTED-TEXT ARGS...: vessel-vmm must exit 1,
# print the text, and leave nothing (its control socket) behind
restore_refused() {
	local want=$1 rc=0
	shift
	local before after
	before=$(ls -A "$T_TMP")
	"$VMM" --control-socket "$T_TMP/ctl.sock" "$@" > "$T_TMP/out" 2> "$T_TMP/err" || rc=$?
	[ "$rc" -eq 1 ] || t_fail "exit $rc, expected 1: $(head -c 300 "$T_TMP/err")"
	grep -qF -- "$want" "$T_TMP/err" || t_fail "error does not say \"$want\": $(head -c 300 "$T_TMP/err")"
	[ ! -e "$T_TMP/ctl.sock" ] || t_fail "control socket left behind"
	rm -f "$T_TMP/out" "$T_TMP/err"
	after=$(ls -A "$T_TMP")
	[ "$before" = "$after" ] || t_fail "files left behind: $after"
}

test_missing_state_file() {
	restore_refused "$T_TMP/nope.snap" --restore "$T_TMP/nope.snap" --memory 16M
}

test_foreign_state_file() {
	mkdir -p "$T_TMP/foreign"
	# a QEMU savevm stream header ("QEVM", version 3)
	printf 'QEVM\0\0\0\3' > "$T_TMP/foreign/vm.snap"
	head -c 4096 /dev/zero >> "$T_TMP/foreign/vm.snap"
	restore_refused "not a Vessel snapshot" --restore "$T_TMP/foreign/vm.snap" --memory 16M
	rm -rf "$T_TMP/foreign"
}

test_truncated_state_file() {
	mkdir -p "$T_TMP/trunc"
	mksnap "$T_TMP/trunc"
	local n
	n=$(stat -c %s "$T_TMP/trunc/vm.snap")
	truncate -s $((n - 100)) "$T_TMP/trunc/vm.snap"
	restore_refused "truncated" --restore "$T_TMP/trunc/vm.snap" --memory 16M
	rm -rf "$T_TMP/trunc"
}

test_corrupt_section() {
	mkdir -p "$T_TMP/corrupt"
	mksnap "$T_TMP/corrupt"
	local n
	n=$(stat -c %s "$T_TMP/corrupt/vm.snap")
	# one byte inside the last section's data
	printf '\x55' | dd of="$T_TMP/corrupt/vm.snap" bs=1 seek=$((n - 20)) conv=notrunc 2>/dev/null
	restore_refused "checksum mismatch" --restore "$T_TMP/corrupt/vm.snap" --memory 16M
	rm -rf "$T_TMP/corrupt"
}

test_other_cpu_count() {
	mkdir -p "$T_TMP/cpus"
	mksnap "$T_TMP/cpus" 1 16
	restore_refused "taken with 1 vCPUs, the machine has 2" \
		--restore "$T_TMP/cpus/vm.snap" --memory 16M --cpus 2
	rm -rf "$T_TMP/cpus"
}

test_other_memory_size() {
	mkdir -p "$T_TMP/mem"
	mksnap "$T_TMP/mem" 1 16
	restore_refused "taken with 16 MiB of memory, the machine has 32 MiB" \
		--restore "$T_TMP/mem/vm.snap" --memory 32M
	rm -rf "$T_TMP/mem"
}

test_disk_missing_from_config() {
	mkdir -p "$T_TMP/disk0"
	mksnap "$T_TMP/disk0" 1 16 65536
	restore_refused "taken with 1 disks, the machine has 0" \
		--restore "$T_TMP/disk0/vm.snap" --memory 16M
	rm -rf "$T_TMP/disk0"
}

test_changed_disk() {
	mkdir -p "$T_TMP/disk1"
	mksnap "$T_TMP/disk1" 1 16 65536
	truncate -s 131072 "$T_TMP/disk1/other.img"
	restore_refused "131072 bytes, the snapshot's disk had 65536" \
		--restore "$T_TMP/disk1/vm.snap" --memory 16M --disk "$T_TMP/disk1/other.img"
	rm -rf "$T_TMP/disk1"
}

test_missing_memory_file() {
	mkdir -p "$T_TMP/nomem"
	mksnap "$T_TMP/nomem" 1 16 -1 vm.mem
	restore_refused "$T_TMP/nomem/vm.mem" --restore "$T_TMP/nomem/vm.snap" --memory 16M
	rm -rf "$T_TMP/nomem"
}

test_foreign_memory_file() {
	mkdir -p "$T_TMP/fmem"
	mksnap "$T_TMP/fmem" 1 16 -1 vm.mem
	head -c $((16 << 20)) /dev/zero > "$T_TMP/fmem/vm.mem"
	restore_refused "not a Vessel memory file" --restore "$T_TMP/fmem/vm.snap" --memory 16M
	restore_refused "not a Vessel memory file" --restore "$T_TMP/fmem/vm.snap" --memory 16M \
		--memory-backend uffd
	rm -rf "$T_TMP/fmem"
}

test_uffd_needs_restore() {
	restore_refused "--memory-backend uffd: only with --restore" \
		--kernel /dev/null --memory-backend uffd
}

test_bad_identity() {
	restore_refused "--identity novalue: expected KEY=VALUE" --kernel /dev/null --identity novalue
	restore_refused "--identity a/b=1" --kernel /dev/null --identity a/b=1
}

test_migrate_listen_bad_address() {
	restore_refused "bad port" --migrate-listen 127.0.0.1:notaport --memory 16M
}

# --- with a guest (needs /dev/kvm) -------------------------------------------------

need_kvm() {
	[ -e /dev/kvm ] || t_skip "/dev/kvm not present"
	[ -f "$TICKER" ] || t_skip "no long-running guest at $TICKER"
	# a failing check must not leave VMs running
	trap 'kill $(jobs -p) 2>/dev/null; wait 2>/dev/null' EXIT
}

ctl() { # ctl SOCKET JSON: one request, prints the reply
	python3 -c 'import socket,sys
s=socket.socket(socket.AF_UNIX); s.connect(sys.argv[1]); s.sendall(sys.argv[2].encode()+b"\n")
r=b""
while not r.endswith(b"\n"):
    c=s.recv(4096)
    if not c: break
    r+=c
print(r.decode().strip())' "$1" "$2"
}

wait_for() { # wait_for FILE TEXT: until FILE contains TEXT (the guest's progress, not time)
	local i
	for i in $(seq 1 600); do
		grep -qF -- "$2" "$1" 2>/dev/null && return 0
		sleep 0.1
	done
	return 1
}

start_ticker() { # start_ticker NAME ARGS...: runs the guest, pid in $T_TMP/NAME.pid
	local name=$1
	shift
	"$VMM" --kernel "$TICKER" --memory 64M --serial "file:$T_TMP/$name.out" \
		--control-socket "$T_TMP/$name.sock" "$@" 2> "$T_TMP/$name.err" &
	echo $! > "$T_TMP/$name.pid"
	wait_for "$T_TMP/$name.out" "tick 3" || t_fail "$name: the guest did not start"
}

test_snapshot_restore_running_guest() {
	need_kvm
	start_ticker src
	ctl "$T_TMP/src.sock" '{"cmd":"snapshot","path":"'"$T_TMP"'/s1.snap","resume":false}' |
		grep -q '"ok":true' || t_fail "snapshot refused"
	wait "$(cat "$T_TMP/src.pid")" || t_fail "source did not exit 0 after the snapshot"
	local last
	last=$(grep -o 'tick [0-9]*' "$T_TMP/src.out" | tail -1 | cut -d' ' -f2)
	"$VMM" --restore "$T_TMP/s1.snap" --memory 64M --serial "file:$T_TMP/r.out" \
		--control-socket "$T_TMP/r.sock" 2> "$T_TMP/r.err" &
	local pid=$!
	wait_for "$T_TMP/r.out" "tick $((last + 2))" || t_fail "restored guest did not continue from tick $last"
	ctl "$T_TMP/r.sock" '{"cmd":"shutdown","force":true}' > /dev/null
	wait $pid
}

test_clones_share_memory_and_get_their_own_identity() {
	need_kvm
	start_ticker base --identity id=base
	ctl "$T_TMP/base.sock" '{"cmd":"snapshot","path":"'"$T_TMP"'/b.snap","resume":false}' > /dev/null
	wait "$(cat "$T_TMP/base.pid")"
	local i pids=()
	for i in 1 2 3; do
		"$VMM" --restore "$T_TMP/b.snap" --memory 64M --identity "id=clone$i" \
			--serial "file:$T_TMP/c$i.out" --control-socket "$T_TMP/c$i.sock" \
			2> "$T_TMP/c$i.err" &
		pids+=($!)
	done
	for i in 1 2 3; do
		wait_for "$T_TMP/c$i.out" "id=clone$i" || t_fail "clone $i did not see its identity"
	done
	for i in 1 2 3; do
		ctl "$T_TMP/c$i.sock" '{"cmd":"shutdown","force":true}' > /dev/null
	done
	wait "${pids[@]}"
}

test_diff_snapshot_chain_restores() {
	need_kvm
	start_ticker d
	ctl "$T_TMP/d.sock" '{"cmd":"snapshot","path":"'"$T_TMP"'/full.snap"}' | grep -q '"ok":true' ||
		t_fail "full snapshot refused"
	local n
	n=$(grep -o 'tick [0-9]*' "$T_TMP/d.out" | tail -1 | cut -d' ' -f2)
	wait_for "$T_TMP/d.out" "tick $((n + 3))"
	ctl "$T_TMP/d.sock" '{"cmd":"snapshot","path":"'"$T_TMP"'/diff.snap","diff":true,"resume":false}' |
		grep -q '"ok":true' || t_fail "diff snapshot refused"
	wait "$(cat "$T_TMP/d.pid")"
	[ "$(stat -c %s "$T_TMP/diff.snap.diff")" -lt "$(stat -c %s "$T_TMP/full.snap.mem")" ] ||
		t_fail "the diff is not smaller than the full memory file"
	local last
	last=$(grep -o 'tick [0-9]*' "$T_TMP/d.out" | tail -1 | cut -d' ' -f2)
	"$VMM" --restore "$T_TMP/diff.snap" --memory 64M --serial "file:$T_TMP/dr.out" \
		--control-socket "$T_TMP/dr.sock" 2>/dev/null &
	local pid=$!
	wait_for "$T_TMP/dr.out" "tick $((last + 1))" || t_fail "the chain did not restore"
	ctl "$T_TMP/dr.sock" '{"cmd":"shutdown","force":true}' > /dev/null
	wait $pid
}

test_migrate_between_netns() {
	need_kvm
	local a=vessel-snap-a b=vessel-snap-b
	ip netns add $a && ip netns add $b || t_skip "cannot create network namespaces"
	trap 'kill $(jobs -p) 2>/dev/null; wait 2>/dev/null; ip netns del '$a' 2>/dev/null; ip netns del '$b' 2>/dev/null' EXIT
	ip link add vssnap0 netns $a type veth peer name vssnap1 netns $b
	ip -n $a addr add 10.231.8.1/24 dev vssnap0 && ip -n $a link set vssnap0 up
	ip -n $b addr add 10.231.8.2/24 dev vssnap1 && ip -n $b link set vssnap1 up
	ip netns exec $b "$VMM" --migrate-listen 10.231.8.2:47200 --memory 64M \
		--serial "file:$T_TMP/dst.out" --control-socket "$T_TMP/dst.sock" 2> "$T_TMP/dst.err" &
	local dst=$!
	ip netns exec $a "$VMM" --kernel "$TICKER" --memory 64M --no-seccomp \
		--serial "file:$T_TMP/m.out" --control-socket "$T_TMP/m.sock" 2> "$T_TMP/m.err" &
	local src=$!
	wait_for "$T_TMP/m.out" "tick 3" || t_fail "source guest did not start"
	ctl "$T_TMP/m.sock" '{"cmd":"migrate","to":"10.231.8.2:47200"}' | grep -q '"ok":true' ||
		t_fail "migration refused: $(cat "$T_TMP/m.err")"
	wait $src || t_fail "source did not exit 0 after migrating"
	local last
	last=$(grep -o 'tick [0-9]*' "$T_TMP/m.out" | tail -1 | cut -d' ' -f2)
	wait_for "$T_TMP/dst.out" "tick $((last + 1))" || t_fail "destination did not continue"
	ctl "$T_TMP/dst.sock" '{"cmd":"shutdown","force":true}' > /dev/null
	wait $dst
}

t_run vmm_restore_missing_state_file_is_refused test_missing_state_file
t_run vmm_restore_foreign_state_file_is_refused test_foreign_state_file
t_run vmm_restore_truncated_state_file_is_refused test_truncated_state_file
t_run vmm_restore_corrupt_section_is_refused test_corrupt_section
t_run vmm_restore_other_cpu_count_is_refused test_other_cpu_count
t_run vmm_restore_other_memory_size_is_refused test_other_memory_size
t_run vmm_restore_without_the_snapshots_disk_is_refused test_disk_missing_from_config
t_run vmm_restore_with_a_changed_disk_is_refused test_changed_disk
t_run vmm_restore_missing_memory_file_is_refused test_missing_memory_file
t_run vmm_restore_foreign_memory_file_is_refused test_foreign_memory_file
t_run vmm_memory_backend_uffd_needs_restore test_uffd_needs_restore
t_run vmm_identity_flag_is_checked test_bad_identity
t_run vmm_migrate_listen_bad_address_is_refused test_migrate_listen_bad_address
t_run vmm_snapshot_restore_running_guest test_snapshot_restore_running_guest
t_run vmm_clones_get_their_own_identity test_clones_share_memory_and_get_their_own_identity
t_run vmm_diff_snapshot_chain_restores test_diff_snapshot_chain_restores
t_run vmm_migrate_between_netns test_migrate_between_netns
