#!/bin/sh
# make-initramfs.sh OUT: a gzip'd newc cpio with the static busybox and
# guests/linux/init.sh as /init (what the stock-kernel boot unpacks).
set -eu
out=${1:?usage: make-initramfs.sh OUT}
here=$(cd "$(dirname "$0")" && pwd)
bb=$(command -v busybox || true)
[ -n "$bb" ] && file -L "$bb" 2>/dev/null | grep -q 'statically linked' || bb=/bin/busybox
if ! file -L "$bb" | grep -q 'statically linked'; then
	echo "make-initramfs: no static busybox (install busybox-static)" >&2
	exit 1
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/root/bin" "$tmp/root/sbin" "$tmp/root/proc" "$tmp/root/sys" "$tmp/root/dev"
cp "$bb" "$tmp/root/bin/busybox"
for a in sh mount cat grep awk readlink basename dirname dd wc sort uniq sync poweroff ping printf; do
	ln -s busybox "$tmp/root/bin/$a"
done
cp "$here/init.sh" "$tmp/root/init"
chmod 755 "$tmp/root/init"
(cd "$tmp/root" && find . | sort | busybox cpio -o -H newc 2>/dev/null) | gzip -9 >"$tmp/out"
mv "$tmp/out" "$out"
