#!/bin/sh
# make-rootfs.sh OUT TOKEN: a 64 MiB disk image with an MBR and one Linux
# partition from 1 MiB holding an ext4 root (mke2fs -d): static busybox,
# guests/linux/init.sh as /sbin/init, vsock-hello.c built static as
# /bin/vsock-hello, and /host-file with TOKEN (the guest prints it; the test
# checks it).
set -eu
out=${1:?usage: make-rootfs.sh OUT TOKEN}
token=${2:?usage: make-rootfs.sh OUT TOKEN}
here=$(cd "$(dirname "$0")" && pwd)
bb=/bin/busybox
file -L "$bb" | grep -q 'statically linked' ||
	{ echo "make-rootfs: $bb is not static (install busybox-static)" >&2; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
r=$tmp/root
mkdir -p "$r/bin" "$r/sbin" "$r/proc" "$r/sys" "$r/dev" "$r/etc" "$r/tmp"
cp "$bb" "$r/bin/busybox"
for a in sh mount cat grep awk readlink basename dirname dd wc sort uniq sync poweroff ping printf; do
	ln -s busybox "$r/bin/$a"
done
gcc -static -O2 -Wall -Wextra -Werror -o "$r/bin/vsock-hello" "$here/vsock-hello.c"
cp "$here/init.sh" "$r/sbin/init"
chmod 755 "$r/sbin/init"
echo "$token" >"$r/host-file"
# partition 1: sectors 2048 .. end (63 MiB)
size_mb=64
part_start=2048
part_sectors=$(((size_mb - 1) * 2048))
mke2fs -q -t ext4 -F -L vessel-root -d "$r" "$tmp/part.img" "$((size_mb - 1))M" >/dev/null
truncate -s "${size_mb}M" "$tmp/disk.img"
dd if="$tmp/part.img" of="$tmp/disk.img" bs=1M seek=1 conv=notrunc status=none
# MBR: one primary partition, type 0x83, LBA start/size little-endian, then
# the 0x55AA signature
le32() { printf "\\$(printf %03o $(($1 & 255)))\\$(printf %03o $((($1 >> 8) & 255)))\\$(printf %03o $((($1 >> 16) & 255)))\\$(printf %03o $((($1 >> 24) & 255)))"; }
{
	printf '\000\376\377\377\203\376\377\377'
	le32 "$part_start"
	le32 "$part_sectors"
} | dd of="$tmp/disk.img" bs=1 seek=446 conv=notrunc status=none
printf '\125\252' | dd of="$tmp/disk.img" bs=1 seek=510 conv=notrunc status=none
mv "$tmp/disk.img" "$out"
