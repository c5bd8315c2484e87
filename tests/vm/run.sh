#!/bin/bash
# The real-kernel tier: boot a Debian kernel in QEMU (TCG) with an emulated Intel
# IOMMU, run the iopass scenarios of guest.sh inside it, and judge what they report.
#
#   tests/vm/run.sh BUILD_DIR
#
# BUILD_DIR holds the iopass binary; the initramfs, the results and the serial
# console log go to BUILD_DIR/tests/vm. Exit status: 0 every check passed,
# 1 a check failed or the VM did not finish, 77 skipped (this machine cannot run it).
#
# Environment: IOPASS_VM_KERNEL=KVER picks the kernel (default: the newest with
# /boot/vmlinuz-KVER and /lib/modules/KVER), IOPASS_VM_TIMEOUT=SECONDS limits the
# VM (default 1800; a run takes 4 to 15 minutes under TCG, by the machine), IOPASS_VM_CONSOLE=1 shows the serial
# console as it runs, IOPASS_VM_SCENARIOS="N ..." runs only those scenarios (for
# work on one; the default is all, in the order 1 2 3 4 6 8 7 11 12 9 10 5).
# IOPASS_VM_SCENARIOS=bench is the attach/detach benchmark (bench/vm.sh): the
# machine gets nine more root ports with an e1000e each; IOPASS_VM_BENCH_ROUNDS=N
# (default 5) rounds of every tool.
set -euo pipefail

SKIP=77
ALL_SCENARIOS="1 2 3 4 6 8 7 11 12 13 14 9 10 5"
here=$(cd "$(dirname "$0")" && pwd)
t0=$(date +%s)

skip() {
	echo "vm: ********************************************************************" >&2
	echo "vm: SKIPPED: $*" >&2
	echo "vm: the real-kernel tier did NOT run; nothing was tested here" >&2
	echo "vm: (scripts/deps.sh installs what it needs, as root)" >&2
	echo "vm: ********************************************************************" >&2
	exit $SKIP
}

[ $# -eq 1 ] || { echo "usage: $0 BUILD_DIR" >&2; exit 2; }
scenarios=${IOPASS_VM_SCENARIOS:-$ALL_SCENARIOS}
bench_ports=""
for sc in $scenarios; do
	[ "$sc" = bench ] && bench_ports="0000:00:09.0 0000:00:0a.0 0000:00:0b.0 0000:00:0c.0 0000:00:0d.0 0000:00:0e.0 0000:00:0f.0 0000:00:10.0 0000:00:11.0" && continue
	case " $ALL_SCENARIOS " in
	*" $sc "*) ;;
	*) echo "vm: IOPASS_VM_SCENARIOS: no scenario '$sc' (there are $ALL_SCENARIOS)" >&2; exit 2 ;;
	esac
done
build=$(realpath "$1")
iopass=$build/iopass
[ -x "$iopass" ] || { echo "vm: no iopass binary at $iopass; build it first" >&2; exit 1; }
work=$build/tests/vm
results=$work/results
mkdir -p "$work"
# one run at a time in a build directory: they share the results and the initramfs
exec 9>"$work/lock"
flock 9

# ---- what this machine must have -------------------------------------------------

qemu=$(command -v qemu-system-x86_64 || true)
[ -n "$qemu" ] || skip "no qemu-system-x86_64 (Debian package qemu-system-x86)"
"$qemu" --version >/dev/null 2>&1 || skip "$qemu does not run"
modprobe=$(PATH=$PATH:/usr/sbin:/sbin command -v modprobe || true)
[ -n "$modprobe" ] || skip "no modprobe (Debian package kmod)"
busybox=
for b in /bin/busybox /usr/bin/busybox; do
	# a static one: the initramfs has no libraries
	if [ -x "$b" ] && ! ldd "$b" >/dev/null 2>&1; then busybox=$b; break; fi
done
[ -n "$busybox" ] || skip "no static busybox (Debian package busybox-static)"
command -v jq >/dev/null || skip "no jq (Debian package jq), which the scenarios use"

# the kernel: not this host's (uname -r), but one installed with its modules
kver=${IOPASS_VM_KERNEL:-}
if [ -z "$kver" ]; then
	kver=$(for d in /lib/modules/*/; do
		k=$(basename "$d")
		[ -e "/boot/vmlinuz-$k" ] && [ -e "/lib/modules/$k/modules.dep" ] && echo "$k"
	done | sort -V | tail -n 1)
fi
[ -n "$kver" ] || skip "no kernel with /boot/vmlinuz-KVER and /lib/modules/KVER (Debian package linux-image-amd64)"
kernel=/boot/vmlinuz-$kver
[ -e "$kernel" ] || skip "no kernel $kernel"
[ -r "$kernel" ] || skip "cannot read $kernel (run as root)"
[ -e "/lib/modules/$kver/modules.dep" ] || skip "no modules for $kver in /lib/modules/$kver"

# ---- the initramfs: busybox, the virtio and 9p modules, /init -----------------------

rm -rf "$work/initramfs" "$results"
mkdir -p "$work/initramfs/bin" "$work/initramfs/modules" "$results"
rd=$work/initramfs
cp "$busybox" "$rd/bin/busybox"
cp "$here/initramfs-init.sh" "$rd/init"
chmod 0755 "$rd/init"
n=10
declare -A seen=()
# -a: each name is a module (without it the later names are parameters of the first)
mods=$("$modprobe" -S "$kver" -a --show-depends virtio_pci 9pnet_virtio 9p) ||
	skip "modprobe cannot resolve virtio_pci, 9pnet_virtio and 9p for $kver"
while read -r verb path _; do
	[ "$verb" = insmod ] || continue # "builtin NAME": nothing to load
	name=$(basename "$path")
	[ -z "${seen[$name]:-}" ] || continue # a shared dependency, listed again
	seen[$name]=1
	case "$path" in
	*.ko) cp "$path" "$rd/modules/$n-$name" ;;
	*.ko.xz) xz -dc "$path" >"$rd/modules/$n-${name%.xz}" ;;
	*.ko.zst) zstd -qdc "$path" >"$rd/modules/$n-${name%.zst}" ;;
	*.ko.gz) gzip -dc "$path" >"$rd/modules/$n-${name%.gz}" ;;
	*) skip "cannot unpack module $path" ;;
	esac
	n=$((n + 1))
done <<<"$mods"
(cd "$rd" && find . -mindepth 1 | "$busybox" cpio -o -H newc 2>/dev/null) | gzip -1 >"$work/initramfs.cpio.gz"

# ---- the machine ------------------------------------------------------------------
# Addresses are pinned: the guest's expectations below come from here.
#   00:02.0 virtio-9p   the guest's root filesystem (the host's /, read-only)
#   00:03.0 virtio-9p   the results share (writable)
#   00:04.0 e1000e      alone on the root bus
#   00:05.0 pcie-root-port -> 01:00.0 e1000e
#   00:06.0 pcie-root-port -> 02:00.0 nvme with SR-IOV (2 VFs; for the vf scenarios)
#   00:07.0 pcie-pci-bridge -> 03:01.0 e1000, 03:02.0 virtio-rng (one group of three)
#   00:08.0 pcie-root-port -> 04:00.0 nvme with a 256 MiB namespace (the storage guards)
#   00:1f.0/2/3 the ICH9 LPC, SATA and SMBus functions (one group)
# the guest mounts its own /tmp and /run: it runs a copy of iopass from the results share
mkdir -p "$results/bin"
rm -f "$results/bench.txt"
cp "$iopass" "$results/bin/iopass"
rm -f "$results"/dump-*.dump
# scenario 13's Ansible collection, likewise (the tree may be below /tmp)
rm -rf "$results/ansible"
mkdir -p "$results/ansible"
cp -r "$here/../../ansible/ansible_collections" "$results/ansible/"
# scenario 12's dumper (tests/dump.c)
[ -x "$build/tests/iopass-sysfs-dump" ] && cp "$build/tests/iopass-sysfs-dump" "$results/bin/"
cat >"$results/env" <<EOF
IOPASS=/run/results/bin/iopass
IOPASS_BUILT=$iopass
NIC_ROOTBUS=0000:00:04.0
PORT_NIC=0000:00:05.0
PORT_NVME=0000:00:06.0
PCI_BRIDGE=0000:00:07.0
ROOT_TAG=hostroot
DISK_SERIAL=iopassdisk
ANSIBLE_DIR=/run/results/ansible
SCENARIOS_ASKED=${IOPASS_VM_SCENARIOS:+1}
SCENARIOS="$scenarios"
BENCH_PORTS="$bench_ports"
BENCH_ROUNDS=${IOPASS_VM_BENCH_ROUNDS:-5}
EOF

# the storage scenario's disk: sparse, new every run
rm -f "$work/disk.img"
truncate -s 256M "$work/disk.img"

append="console=ttyS0 intel_iommu=on panic=-1 root=hostroot rootfstype=9p"
append="$append rootflags=trans=virtio,version=9p2000.L,msize=512000,cache=loose ro"
append="$append init=$here/guest.sh"
# shellcheck disable=SC2054 # commas inside QEMU's option values
qemu_args=(
	-machine q35,kernel-irqchip=split -accel tcg -cpu max -smp 2 -m 1G
	-device intel-iommu,intremap=on,caching-mode=on
	-nodefaults -nographic -serial stdio -monitor none -no-reboot
	-kernel "$kernel" -initrd "$work/initramfs.cpio.gz" -append "$append"
	-fsdev local,id=fsroot,path=/,security_model=none,readonly=on,multidevs=remap
	-device virtio-9p-pci,fsdev=fsroot,mount_tag=hostroot,addr=0x2
	-fsdev local,id=fsresults,path="$results",security_model=none
	-device virtio-9p-pci,fsdev=fsresults,mount_tag=results,addr=0x3
	-device e1000e,addr=0x4,romfile=,mac=52:54:00:12:34:04
	-device pcie-root-port,id=rp1,bus=pcie.0,addr=0x5,chassis=1
	-device e1000e,bus=rp1,addr=0x0,romfile=,mac=52:54:00:12:34:10
	-device pcie-root-port,id=rp2,bus=pcie.0,addr=0x6,chassis=2
	-device nvme-subsys,id=nvmesubsys,nqn=iopass-vm
	-device nvme,bus=rp2,addr=0x0,serial=iopassvm,subsys=nvmesubsys,sriov_max_vfs=2,sriov_vq_flexible=4,sriov_vi_flexible=2,max_ioqpairs=6,msix_qsize=5
	-device pcie-pci-bridge,id=pb,bus=pcie.0,addr=0x7
	-device e1000,bus=pb,addr=0x1,romfile=,mac=52:54:00:12:34:31
	-device virtio-rng-pci,bus=pb,addr=0x2
	-device pcie-root-port,id=rp3,bus=pcie.0,addr=0x8,chassis=3
	-drive file="$work/disk.img",if=none,id=disk1,format=raw,cache=unsafe
	-device nvme,bus=rp3,addr=0x0,serial=iopassdisk,drive=disk1
)
# the benchmark's NICs: 00:09.0 .. 00:11.0, a root port each, an e1000e behind it
k=0
for p in $bench_ports; do
	slot=${p#0000:00:}
	slot=${slot%.0}
	qemu_args+=(-device "pcie-root-port,id=brp$k,bus=pcie.0,addr=0x$slot,chassis=$((10 + k))"
		-device "e1000e,bus=brp$k,addr=0x0,romfile=,mac=52:54:00:12:35:$(printf %02x $k)")
	k=$((k + 1))
done

timeout_s=${IOPASS_VM_TIMEOUT:-1800}
echo "vm: kernel $kver, qemu $("$qemu" --version | head -n 1 | sed 's/^QEMU emulator version //')"
echo "vm: booting (TCG, limit ${timeout_s} s); console log: $work/console.log"
t1=$(date +%s)
# A guest kernel can stall while it boots under TCG on a loaded host (RCU stalls, no
# timer interrupts) and then never reaches the scenarios: a boot that has written no
# result after boot_s is killed and started once more.
boot_s=${IOPASS_VM_BOOT_TIMEOUT:-300}
set +e
for attempt in 1 2; do
	rm -f "$results/results.txt"
	if [ "${IOPASS_VM_CONSOLE:-0}" = 1 ]; then
		timeout -k 10 "$timeout_s" "$qemu" "${qemu_args[@]}" </dev/null 2>&1 | tee "$work/console.log" &
	else
		timeout -k 10 "$timeout_s" "$qemu" "${qemu_args[@]}" </dev/null >"$work/console.log" 2>&1 &
	fi
	qpid=$!
	waited=0
	while kill -0 "$qpid" 2>/dev/null && [ ! -s "$results/results.txt" ] && [ "$waited" -lt "$boot_s" ]; do
		sleep 1
		waited=$((waited + 1))
	done
	if [ ! -s "$results/results.txt" ] && kill -0 "$qpid" 2>/dev/null && [ "$attempt" = 1 ]; then
		echo "vm: the guest wrote nothing in ${boot_s} s (a stalled boot): the last console lines, then a second boot"
		tail -n 5 "$work/console.log" | sed 's/^/  | /'
		pkill -TERM -P "$qpid" 2>/dev/null
		kill -TERM "$qpid" 2>/dev/null
		wait "$qpid" 2>/dev/null
		continue
	fi
	wait "$qpid"
	qrc=$?
	break
done
set -e
t2=$(date +%s)
echo "vm: the VM ran $((t2 - t1)) s (qemu exit status $qrc); the initramfs took $((t1 - t0)) s"

# ---- the verdict --------------------------------------------------------------------

res=$results/results.txt
npass=$(grep -c '^PASS ' "$res" 2>/dev/null || true)
nfail=$(grep -c '^FAIL ' "$res" 2>/dev/null || true)
nskip=$(grep -c '^SKIP ' "$res" 2>/dev/null || true)
npass=${npass:-0} nfail=${nfail:-0} nskip=${nskip:-0}
status=0
[ "$nfail" -eq 0 ] || status=1
if [ -s "$res" ]; then
	echo "vm: results (details in $results):"
	sed 's/^/  /' "$res"
else
	echo "vm: FAIL: the guest wrote no results"
	status=1
	nfail=$((nfail + 1))
fi
if [ "$qrc" -eq 124 ] || [ "$qrc" -eq 137 ]; then
	echo "vm: FAIL: the VM was stopped after ${timeout_s} s"
	status=1
	nfail=$((nfail + 1))
fi
if ! grep -q '^DONE' "$res" 2>/dev/null; then
	last=$(grep '^BEGIN ' "$res" 2>/dev/null | tail -n 1 || true)
	echo "vm: FAIL: the VM did not finish its scenarios${last:+ (last begun: ${last#BEGIN })}"
	status=1
	nfail=$((nfail + 1))
fi
# every scenario must have been run and have judged something (or said why it could not)
for sc in $scenarios; do
	if ! grep -q "^END $sc " "$res" 2>/dev/null || ! grep -Eq "^(PASS|FAIL|SKIP) $sc " "$res"; then
		echo "vm: FAIL: scenario $sc did not run to its end"
		status=1
		nfail=$((nfail + 1))
	fi
done
if [ -s "$results/bench.txt" ]; then
	echo "vm: the benchmark (kernel $kver, TCG):"
	sed 's/^/  /' "$results/bench.txt"
fi
if [ "$status" -ne 0 ]; then
	echo "vm: the last lines of the serial console:"
	tail -n 40 "$work/console.log" | sed 's/^/  | /'
fi
if [ "$nskip" -gt 0 ]; then
	# a skipped check is not a passed one: say so where it cannot be missed
	echo "vm: ********************************************************************"
	echo "vm: $nskip check(s) SKIPPED: what they test was NOT tested here:"
	grep '^SKIP ' "$res" | sed 's/^/vm:   /'
	echo "vm: ********************************************************************"
fi
if [ "$scenarios" != "$ALL_SCENARIOS" ]; then
	echo "vm: only scenarios $scenarios ran (IOPASS_VM_SCENARIOS); the others were NOT run"
fi
echo "vm: total $(($(date +%s) - t0)) s"
echo "vm: $npass passed, $nfail failed, $nskip skipped"
exit $status
