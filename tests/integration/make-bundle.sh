#!/bin/bash
# Builds a busybox OCI bundle: DIR/rootfs (busybox-static and its applet
# links, /etc/passwd, /etc/group) and DIR/config.json from
# `vessel-runtime spec`, with the process args set to ARGS (default: sh).
#
# usage: make-bundle.sh DIR [--tty] [--userns] [--set PYTHON]... [--] [ARGS...]
#   --tty        process.terminal = true
#   --userns     a user namespace mapping container 0-65535 to host 100000-165535
#   --set EXPR   a python statement run on the config as `c` (repeatable),
#                e.g. --set 'c["hostname"]="box"'
set -eu
TOP=${TOP:-$(cd "$(dirname "$0")/../.." && pwd)}
BUILD=${BUILD:-$TOP/build/asan}
# the system python: a pyenv shim costs over a second per start
PY=/usr/bin/python3; [ -x "$PY" ] || PY=python3
dir=$1; shift
tty=0 userns=0 sets=()
while [ $# -gt 0 ]; do
	case $1 in
	--tty) tty=1 ;;
	--userns) userns=1 ;;
	--set) sets+=("$2"); shift ;;
	--) shift; break ;;
	*) break ;;
	esac
	shift
done

mkdir -p "$dir/rootfs/bin" "$dir/rootfs/etc" "$dir/rootfs/proc" "$dir/rootfs/dev" \
	"$dir/rootfs/sys" "$dir/rootfs/tmp" "$dir/rootfs/root"
cp /bin/busybox "$dir/rootfs/bin/busybox"
# one python run instead of a fork per applet link
/bin/busybox --list | "$PY" -c '
import os, sys
d = sys.argv[1]
for a in sys.stdin.read().split():
    p = os.path.join(d, a)
    if a != "busybox" and not os.path.lexists(p):
        os.symlink("busybox", p)
' "$dir/rootfs/bin"
mkdir -p "$dir/rootfs/usr"
ln -sfn ../bin "$dir/rootfs/usr/bin"
ln -sfn bin "$dir/rootfs/sbin"
cat > "$dir/rootfs/etc/passwd" <<'PW'
root:x:0:0:root:/root:/bin/sh
daemon:x:1:1:daemon:/usr/sbin:/bin/false
nobody:x:65534:65534:nobody:/nonexistent:/bin/false
user:x:1000:1000:user:/home/user:/bin/sh
PW
cat > "$dir/rootfs/etc/group" <<'GR'
root:x:0:
daemon:x:1:
nogroup:x:65534:
user:x:1000:
GR
rm -f "$dir/config.json"
"$BUILD/vessel-runtime" spec --bundle "$dir"

"$PY" - "$dir/config.json" "$tty" "$userns" "${#sets[@]}" "${sets[@]+"${sets[@]}"}" "$@" <<'PY'
import json, sys
path, tty, userns, nsets = sys.argv[1], sys.argv[2] == "1", sys.argv[3] == "1", int(sys.argv[4])
sets, args = sys.argv[5:5 + nsets], sys.argv[5 + nsets:]
c = json.load(open(path))
c["process"]["args"] = args or ["sh"]
c["process"]["terminal"] = tty
c["root"] = {"path": "rootfs", "readonly": False}
if userns:
    ns = c["linux"].setdefault("namespaces", [])
    if not any(n["type"] == "user" for n in ns):
        ns.append({"type": "user"})
    c["linux"]["uidMappings"] = [{"containerID": 0, "hostID": 100000, "size": 65536}]
    c["linux"]["gidMappings"] = [{"containerID": 0, "hostID": 100000, "size": 65536}]
for stmt in sets:
    exec(stmt)
json.dump(c, open(path, "w"), indent=2)
PY
if [ "$userns" = 1 ]; then
	chown -R 100000:100000 "$dir/rootfs"
fi
