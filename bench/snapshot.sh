#!/bin/bash
# bench/snapshot: vessel-vmm snapshot and restore side by side with QEMU's
# migrate-to-file (QMP "migrate" to exec:cat, and -incoming from it) on the
# same tiny PVH guest (bench/guests/first_line.S, built to halt and stay):
#   - snapshot: request -> files complete (vessel: the control socket's
#     "snapshot" answer with resume:false; QEMU: query-migrate "completed")
#   - restore: process start -> the VM answers that it runs (vessel:
#     control socket "status" running; QEMU: QMP query-status running)
#   - disk used by the snapshot (allocated blocks: vessel leaves zero pages
#     as holes)
# Prints both figures and the ratios. Needs /dev/kvm.
set -eu
TOP=$(cd "$(dirname "$0")/.." && pwd)
VMM=${VESSEL_VMM:-$TOP/build/release/vessel-vmm}
RUNS=${RUNS:-10}
MEM=${MEM:-256}
if [ ! -c /dev/kvm ]; then
	echo "bench/snapshot: skipped: /dev/kvm not present on this machine"
	exit 0
fi
W=$(mktemp -d /tmp/vessel-bench-snap.XXXXXX)
trap 'rm -rf "$W"' EXIT
gcc -m32 -nostdlib -static -no-pie -Wl,-Ttext=0x100000 -Wl,--build-id=none -DSTAY \
	-o "$W/stay.elf" "$TOP/bench/guests/first_line.S"

python3 - "$VMM" "$W" "$RUNS" "$MEM" <<'PY'
import json, os, socket, subprocess, sys, time
vmm, w, runs, mem = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
guest = f"{w}/stay.elf"

def connect(path, timeout=20):
    end = time.monotonic() + timeout
    while True:
        try:
            s = socket.socket(socket.AF_UNIX)
            s.connect(path)
            return s
        except OSError:
            if time.monotonic() > end:
                raise
            time.sleep(0.001)

def line(s):
    buf = b""
    while not buf.endswith(b"\n"):
        c = s.recv(65536)
        if not c:
            break
        buf += c
    return buf

def vreq(s, obj):
    s.sendall(json.dumps(obj).encode() + b"\n")
    return json.loads(line(s))

def qmp(path):
    s = connect(path)
    line(s)
    s.sendall(b'{"execute":"qmp_capabilities"}\n')
    line(s)
    return s

def qreq(s, cmd, args=None):
    m = {"execute": cmd}
    if args:
        m["arguments"] = args
    s.sendall(json.dumps(m).encode() + b"\n")
    while True:
        r = json.loads(line(s).splitlines()[-1])
        if "return" in r or "error" in r:
            return r

def used(*paths):
    return sum(os.stat(p).st_blocks * 512 for p in paths if os.path.exists(p))

def clean(*paths):
    for p in paths:
        if os.path.exists(p):
            os.unlink(p)

qemu = ["qemu-system-x86_64", "-enable-kvm", "-M", "microvm,pit=off,pic=off,rtc=off",
        "-m", f"{mem}M", "-smp", "1", "-nodefaults", "-no-user-config", "-display", "none",
        "-serial", "null"]
res = {"vessel": {"snap": [], "restore": [], "bytes": 0}, "qemu": {"snap": [], "restore": [], "bytes": 0}}
for i in range(runs):
    # vessel: boot, snapshot (the VM exits), restore
    sock, snap = f"{w}/v.sock", f"{w}/v.snap"
    p = subprocess.Popen([vmm, "--kernel", guest, "--memory", f"{mem}M", "--serial", "none",
                          "--control-socket", sock], stderr=subprocess.DEVNULL)
    s = connect(sock)
    t = time.monotonic()
    r = vreq(s, {"cmd": "snapshot", "path": snap, "resume": False})
    res["vessel"]["snap"].append(time.monotonic() - t)
    assert r.get("ok"), r
    p.wait()
    res["vessel"]["bytes"] = used(snap, snap + ".mem")
    t = time.monotonic()
    p = subprocess.Popen([vmm, "--restore", snap, "--memory", f"{mem}M", "--serial", "none",
                          "--control-socket", sock], stderr=subprocess.DEVNULL)
    s = connect(sock)
    while vreq(s, {"cmd": "status"}).get("state") != "running":
        pass
    res["vessel"]["restore"].append(time.monotonic() - t)
    vreq(s, {"cmd": "shutdown", "force": True})
    p.wait()
    clean(sock, snap, snap + ".mem")

    # QEMU: boot, migrate to a file, restore with -incoming
    qs, mig = f"{w}/q.qmp", f"{w}/q.mig"
    p = subprocess.Popen(qemu + ["-kernel", guest, "-qmp", f"unix:{qs},server=on,wait=off"])
    s = qmp(qs)
    t = time.monotonic()
    qreq(s, "migrate", {"uri": f"exec:cat > {mig}"})
    while qreq(s, "query-migrate")["return"].get("status") not in ("completed", "failed"):
        pass
    res["qemu"]["snap"].append(time.monotonic() - t)
    qreq(s, "quit")
    p.wait()
    res["qemu"]["bytes"] = used(mig)
    clean(qs)
    t = time.monotonic()
    p = subprocess.Popen(qemu + ["-kernel", guest, "-incoming", f"exec:cat {mig}",
                                 "-qmp", f"unix:{qs},server=on,wait=off"])
    s = qmp(qs)
    while qreq(s, "query-status")["return"].get("status") != "running":
        pass
    res["qemu"]["restore"].append(time.monotonic() - t)
    qreq(s, "quit")
    p.wait()
    clean(qs, mig)

def mean(v):
    return sum(v) / len(v)
for k, name in (("snap", "snapshot"), ("restore", "restore to running")):
    v, q = mean(res["vessel"][k]), mean(res["qemu"][k])
    print(f"{name:24} vessel {v*1000:8.2f} ms   qemu {q*1000:8.2f} ms   ratio {v/q:.3f}x")
v, q = res["vessel"]["bytes"], res["qemu"]["bytes"]
print(f"{'snapshot disk usage':24} vessel {v/1024:8.0f} KiB  qemu {q/1024:8.0f} KiB  ratio {v/max(q,1):.3f}x")
PY
