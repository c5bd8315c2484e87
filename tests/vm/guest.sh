#!/bin/bash
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mount -t tmpfs -o mode=0755 tmpfs /run
mount -t tmpfs -o mode=1777 tmpfs /tmp
R=/run/results; mkdir -p $R
mount -t 9p -o trans=virtio,version=9p2000.L,msize=512000 results $R
echo "uptime $(cat /proc/uptime)"
for f in /sys/bus/pci/devices/*/modalias; do modprobe -b -q "$(cat $f)"; done
for f in /sys/bus/virtio/devices/*/modalias; do modprobe -b -q "$(cat $f)"; done
modprobe vfio-pci
echo "uptime $(cat /proc/uptime)"
for d in /sys/bus/pci/devices/*; do echo "$(basename $d) $(cat $d/vendor):$(cat $d/device) class $(cat $d/class) grp $(basename $(readlink $d/iommu_group)) drv $(basename "$(readlink $d/driver)")"; done
ls -l /sys/kernel/iommu_groups/*/devices/
lsmod
cat /proc/mounts
ls /sys/class/net /dev/vfio
grep -i 'IR-' /proc/interrupts | head -3
ls /sys/bus/virtio/devices/*/
cat /sys/bus/virtio/devices/*/mount_tag
sync
/bin/busybox poweroff -f
