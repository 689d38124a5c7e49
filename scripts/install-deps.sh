#!/bin/sh
# Installs everything Vessel needs to build, test and demo on Debian 12.
# Idempotent: packages already present are skipped, so repeated runs are cheap.
set -eu

PKGS="build-essential clang clang-format clang-tidy cppcheck pkg-config
libjson-c-dev libseccomp-dev libcap-dev libsqlite3-dev libclang-rt-14-dev
busybox-static podman crun runc uidmap fuse-overlayfs slirp4netns
qemu-system-x86 hyperfine iproute2 e2fsprogs tmux procps psmisc util-linux
nasm binutils acpica-tools"

missing=""
for p in $PKGS; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
		missing="$missing $p"
done
[ -z "$missing" ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
	echo "install-deps: need root to install:$missing" >&2
	exit 1
fi
echo "install-deps: installing:$missing"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $missing >/dev/null
