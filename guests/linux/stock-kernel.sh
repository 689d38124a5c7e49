#!/bin/sh
# Prints the path of the stock Debian cloud kernel (linux-image-cloud-amd64,
# unmodified). Uses /boot/vmlinuz-*-cloud-amd64 when the package is
# installed; otherwise fetches the package with apt-get download and
# unpacks it (dpkg-deb -x) under ${VESSEL_CACHE:-~/.cache/vessel}/, which
# leaves the host's /boot and boot loader alone.
# --local: only print a kernel already on this machine, else fail quietly.
set -eu
local_only=${1:-}
k=$(ls /boot/vmlinuz-*-cloud-amd64 2>/dev/null | sort -V | tail -1 || true)
if [ -n "$k" ]; then
	echo "$k"
	exit 0
fi
cache=${VESSEL_CACHE:-${HOME:-/root}/.cache/vessel}
pkg=$(apt-cache depends linux-image-cloud-amd64 2>/dev/null |
	awk '/Depends: linux-image-/ { print $2; exit }')
[ -n "$pkg" ] || { apt-get update -qq >&2; pkg=$(apt-cache depends linux-image-cloud-amd64 |
	awk '/Depends: linux-image-/ { print $2; exit }'); }
[ -n "$pkg" ] || { echo "stock-kernel: linux-image-cloud-amd64 unknown to apt" >&2; exit 1; }
dir=$cache/stock-$pkg
k=$(ls "$dir"/boot/vmlinuz-* 2>/dev/null | head -1 || true)
if [ -z "$k" ] && [ "$local_only" = --local ]; then
	k=$(ls "$cache"/stock-linux-image-*/boot/vmlinuz-* 2>/dev/null | sort -V | tail -1 || true)
	[ -n "$k" ] || exit 1
	echo "$k"
	exit 0
fi
if [ -z "$k" ]; then
	tmp=$(mktemp -d)
	trap 'rm -rf "$tmp"' EXIT
	(cd "$tmp" && apt-get download -q "$pkg" >&2)
	mkdir -p "$dir.tmp"
	dpkg-deb -x "$tmp"/*.deb "$dir.tmp"
	rm -rf "$dir"
	mv "$dir.tmp" "$dir"
	k=$(ls "$dir"/boot/vmlinuz-* | head -1)
fi
echo "$k"
