#!/bin/busybox sh
# /init of the test VM's initramfs (run.sh packs it with a static busybox and
# the virtio and 9p modules). It mounts the host's root, shared read-only over
# 9p, and hands over to the guest script named by init= on the kernel command line.
/bin/busybox --install -s /bin
export PATH=/bin

fatal() {
	echo "vm-initramfs: $*" >/dev/console
	echo o >/proc/sysrq-trigger # the host sees an unfinished run
	sleep 10
	poweroff -f
}

mkdir -p /proc /sys /dev /newroot
mount -t proc proc /proc
mount -t devtmpfs devtmpfs /dev

# the modules, in dependency order (run.sh numbered them)
for m in /modules/*.ko; do
	insmod "$m" || fatal "insmod $m failed"
done

root=hostroot rootflags=trans=virtio init=/sbin/init
for arg in $(cat /proc/cmdline); do
	case "$arg" in
	root=*) root=${arg#root=} ;;
	rootflags=*) rootflags=${arg#rootflags=} ;;
	init=*) init=${arg#init=} ;;
	esac
done

# the 9p device shows up once virtio_pci has probed it: wait a little for it
i=0
until mount -t 9p -o "$rootflags,ro" "$root" /newroot 2>/dev/null; do
	i=$((i + 1))
	[ $i -lt 50 ] || fatal "cannot mount $root over 9p ($rootflags)"
	sleep 0.1
done
[ -x "/newroot$init" ] || fatal "no guest script $init on the shared root"

umount /proc /dev
exec switch_root /newroot "$init"
