#!/bin/sh
# /init of the test initramfs and /sbin/init of the test root image
# (busybox). Prints "vessel-init: ..." lines on the console that the tests
# read, and on the project kernel (vessel.checks=virtio on the command
# line) exercises the virtio devices from userspace: the disk read-write,
# the network (ping), the hwrng, the console port, vsock and the balloon.
# Ends with a power-off, so the VMM exits.
export PATH=/bin:/sbin
say() { echo "vessel-init: $*"; }

mount -t proc proc /proc 2>/dev/null
mount -t sysfs sysfs /sys 2>/dev/null
mount -t devtmpfs devtmpfs /dev 2>/dev/null
# the boot-marker port (vessel-vmm 0x440): the bench's "init started"
# point; harmless where nothing listens
[ -c /dev/port ] && printf 'I' | dd of=/dev/port bs=1 seek=$((0x440)) 2>/dev/null

arg() { # value of NAME=VALUE on the kernel command line
	for w in $(cat /proc/cmdline); do
		case $w in "$1"=*) echo "${w#*=}"; return ;; esac
	done
}

say "started pid=$$ cpus=$(grep -c '^processor' /proc/cpuinfo) token=$(arg vessel.token)"

if [ "$(arg vessel.checks)" = virtio ]; then
	# each virtio device: its driver and how its PCI function interrupts
	# (msi_irqs/N holds "msix" or "msi" per vector; none means INTx)
	for d in /sys/bus/virtio/devices/*; do
		drv=$(basename "$(readlink "$d/driver")")
		pci=$(basename "$(dirname "$(readlink -f "$d")")")
		irqs=$(cat /sys/bus/pci/devices/"$pci"/msi_irqs/* 2>/dev/null | sort | uniq -c |
			awk '{ printf "%s%s:%s", sep, $2, $1; sep = "," }')
		say "virtio $(basename "$d") device=$(cat "$d/device") driver=$drv pci=$pci irqs=${irqs:-intx}"
	done
	# the disk: root was mounted read-only; remount rw, check the host's
	# file, write one the host checks after power-off
	say "root $(awk '$2 == "/" { print $3, substr($4, 1, 2) }' /proc/mounts | tail -1)"
	if mount -o remount,rw /; then
		say "root $(awk '$2 == "/" { print $3, substr($4, 1, 2) }' /proc/mounts | tail -1)"
		say "host-file $(cat /host-file 2>/dev/null)"
		echo "written by the guest $(arg vessel.token)" >/guest-file && sync &&
			say "guest-file written"
	fi
	# the network: kernel IP autoconfiguration brought eth0 up
	if [ -d /sys/class/net/eth0 ]; then
		say "eth0 mac=$(cat /sys/class/net/eth0/address) operstate=$(cat /sys/class/net/eth0/operstate) carrier=$(cat /sys/class/net/eth0/carrier)"
		peer=$(arg vessel.ping)
		if [ -n "$peer" ] && ping -c 1 -W 5 "$peer" >/dev/null 2>&1; then
			say "ping $peer ok"
		else
			say "ping $peer failed"
		fi
	fi
	say "hwrng $(cat /sys/class/misc/hw_random/rng_current 2>/dev/null)"
	n=$(dd if=/dev/hwrng bs=16 count=1 2>/dev/null | wc -c)
	say "hwrng-read $n bytes"
	for p in /sys/class/virtio-ports/*; do
		[ -e "$p" ] && say "vport $(basename "$p")"
	done
	[ -c /dev/hvc0 ] && echo "hello from hvc0 $(arg vessel.token)" >/dev/hvc0 &&
		say "hvc0 written"
	for t in /sys/bus/virtio/drivers/vmw_vsock_virtio_transport/virtio*; do
		[ -e "$t" ] && say "vsock transport $(basename "$t")"
	done
	port=$(arg vessel.vsock_port)
	if [ -n "$port" ] && [ -x /bin/vsock-hello ]; then
		say "vsock reply $(vsock-hello 2 "$port" "hello from vsock $(arg vessel.token)" 2>&1)"
	fi
	for b in /sys/bus/virtio/drivers/virtio_balloon/virtio*; do
		[ -e "$b" ] && say "balloon $(basename "$b")"
	done
	mount -o remount,ro / 2>/dev/null
fi

say "done"
sync
# the bench measures the VMM's memory while the guest idles in userspace
if [ "$(arg vessel.stay)" = 1 ]; then
	say "staying"
	while :; do sleep 3600; done
fi
poweroff -f
