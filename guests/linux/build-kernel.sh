#!/bin/sh
# Builds the project's guest kernel: Debian's linux-source-6.1 (unmodified) with
# tinyconfig + guests/linux/vessel.config, everything built in.
# The build is cached in ${VESSEL_CACHE:-~/.cache/vessel}/linux-<hash>/, where the
# hash covers the source package version, the config fragment and this script,
# so it is redone only when one of them changes.
# Prints the path of the bzImage on stdout; progress goes to stderr.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
cache=${VESSEL_CACHE:-${HOME:-/root}/.cache/vessel}

# build tools: installed here, not by scripts/install-deps.sh, so that hosts
# which never build the kernel (no /dev/kvm) do not pay for them
PKGS="linux-source-6.1 bc bison flex libelf-dev libssl-dev xz-utils make gcc"
missing=""
for p in $PKGS; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
		missing="$missing $p"
done
if [ -n "$missing" ]; then
	if [ "$(id -u)" -ne 0 ]; then
		echo "build-kernel: need root to install:$missing" >&2
		exit 1
	fi
	echo "build-kernel: installing:$missing" >&2
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq >&2
	# shellcheck disable=SC2086
	apt-get install -y -qq --no-install-recommends $missing >/dev/null
fi

tarball=$(ls /usr/src/linux-source-6.1.tar.xz 2>/dev/null || true)
if [ -z "$tarball" ]; then
	echo "build-kernel: /usr/src/linux-source-6.1.tar.xz missing" >&2
	exit 1
fi
version=$(dpkg-query -W -f='${Version}' linux-source-6.1)
hash=$( (echo "$version"; cat "$here/vessel.config" "$here/build-kernel.sh") |
	sha256sum | cut -c1-16)
dir=$cache/linux-$hash
image=$dir/src/arch/x86/boot/bzImage

if [ -f "$dir/done" ] && [ -f "$image" ]; then
	echo "$image"
	exit 0
fi

start=$(date +%s)
rm -rf "$dir"
mkdir -p "$dir/src"
echo "build-kernel: extracting $tarball ($version) into $dir" >&2
tar -xJf "$tarball" -C "$dir/src" --strip-components=1
cp "$here/vessel.config" "$dir/vessel.config"
cd "$dir/src"
echo "build-kernel: configuring (tinyconfig + vessel.config)" >&2
make -s ARCH=x86_64 tinyconfig >&2
./scripts/kconfig/merge_config.sh -m .config "$dir/vessel.config" >&2
make -s ARCH=x86_64 olddefconfig >&2
# every option the fragment asks for must have survived olddefconfig (an
# option with an unmet dependency is silently dropped)
bad=0
while IFS= read -r line; do
	case $line in
	CONFIG_*=n) opt=${line%%=*}
		grep -q "^$opt=" .config && { echo "build-kernel: $opt still set" >&2; bad=1; } ;;
	CONFIG_*) grep -qx "$line" .config ||
		{ echo "build-kernel: $line did not stick" >&2; bad=1; } ;;
	esac
done <"$dir/vessel.config"
[ "$bad" -eq 0 ] || exit 1
echo "build-kernel: building bzImage with -j$(nproc)" >&2
make ARCH=x86_64 -j"$(nproc)" bzImage >"$dir/build.log" 2>&1 || {
	tail -30 "$dir/build.log" >&2
	echo "build-kernel: build failed, log in $dir/build.log" >&2
	exit 1
}
end=$(date +%s)
echo "$((end - start))" >"$dir/build-seconds"
touch "$dir/done"
echo "build-kernel: built in $((end - start)) s" >&2
echo "$image"
