#!/bin/sh
# Install what iopass needs to build and test on Debian 12, only what is missing.
set -eu

PKGS="cmake make gcc pkg-config libpci-dev pci.ids libkmod-dev libsmartcols-dev libcmocka-dev mandoc"
# The real-kernel tier (tests/vm): a Debian kernel booted in QEMU with an emulated IOMMU,
# a static busybox for its initramfs, kmod for the module order; in the guest, jq reads
# iopass's JSON, strace kills iopass half way, ip shows the interfaces, systemd-udevd
# (udev) runs the rule that 'iopass attach --persist' writes.
PKGS="$PKGS qemu-system-x86 qemu-utils linux-image-amd64 busybox-static kmod jq strace iproute2 udev"
# emit's output checked by its consumers: libvirt's schema validator (QEMU is above).
PKGS="$PKGS libvirt-clients"
# Fuzzing (libFuzzer) and static analysis (scripts/fuzz.sh, scripts/lint.sh).
PKGS="$PKGS clang libclang-rt-14-dev cppcheck clang-tidy valgrind"
# The zsh and fish completions, driven by tests/test-completion.sh.
PKGS="$PKGS zsh fish"

missing=""
for p in $PKGS; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
		missing="$missing $p"
	fi
done
[ -z "$missing" ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
	echo "deps: missing:$missing; run as root: apt-get install$missing" >&2
	exit 1
fi
echo "deps: installing:$missing" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $missing >/dev/null
