#!/bin/sh
# Install what iopass needs, only what is missing, on Debian 12 or 13 (tried: Debian 12
# bookworm, Debian 13 trixie).
#
#   scripts/deps.sh          what building and running iopass need
#   scripts/deps.sh --test   that, and what scripts/test.sh needs (every test tier)
#
# A package that is named differently across releases is given as alternatives
# "a|b": the first one the package lists know is taken, so no release's version
# number is written here.
set -eu

case "${1:-}" in
"") tests=0 ;;
--test) tests=1 ;;
*) echo "usage: $0 [--test]" >&2; exit 2 ;;
esac

# Build and run: the compiler, the three libraries, the PCI names, the man page checker.
WANT="cmake make gcc pkg-config libpci-dev pci.ids libkmod-dev libsmartcols-dev"
if [ $tests -eq 1 ]; then
	WANT="$WANT libcmocka-dev mandoc"
	# The real-kernel tier (tests/vm): a Debian kernel booted in QEMU with an emulated IOMMU,
	# a static busybox for its initramfs, kmod for the module order and xz to unpack the
	# modules (.ko.xz since Debian 13); in the guest, jq reads iopass's JSON, strace kills
	# iopass half way, ip shows the interfaces, systemd-udevd (udev) runs the rule that
	# 'iopass attach --persist' writes.
	WANT="$WANT qemu-system-x86 qemu-utils linux-image-amd64 busybox-static kmod xz-utils"
	WANT="$WANT jq strace iproute2 udev"
	# the storage guards on the real kernel: a btrfs, an ext4 and a swap file on an NVMe
	WANT="$WANT btrfs-progs e2fsprogs util-linux dmsetup"
	# libvirt's QEMU driver started in the guest (libvirt-daemon-system creates the
	# libvirt-qemu user the driver asks for), and its schema validator.
	WANT="$WANT libvirt-daemon-system libvirt-daemon-driver-qemu libvirt-clients"
	# Fuzzing (libFuzzer with clang's runtime) and static analysis (scripts/fuzz.sh, lint.sh).
	WANT="$WANT clang libclang-rt-dev|libclang-rt-14-dev cppcheck clang-tidy valgrind"
	# The zsh and fish completions, driven by tests/test-completion.sh.
	WANT="$WANT zsh fish"
	# The Ansible collection (ansible/): ansible-playbook on a fleet of fixture hosts.
	WANT="$WANT ansible-core"
fi

export DEBIAN_FRONTEND=noninteractive
installed() {
	dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"
}
# a package this release has: a candidate version in the package lists
known() {
	apt-cache policy "$1" 2>/dev/null | grep -q "Candidate: [^(]"
}

# the wanted packages of which no alternative is installed
absent=""
for want in $WANT; do
	have=0
	for p in $(echo "$want" | tr '|' ' '); do
		installed "$p" && { have=1; break; }
	done
	[ $have -eq 1 ] || absent="$absent $want"
done
[ -z "$absent" ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
	echo "deps: missing:$absent; run as root: scripts/deps.sh${1:+ $1}" >&2
	exit 1
fi
apt-get update -qq
missing=""
for want in $absent; do
	pick=""
	for p in $(echo "$want" | tr '|' ' '); do
		known "$p" && { pick=$p; break; }
	done
	if [ -z "$pick" ]; then
		echo "deps: this release has no package '$want'; install its equivalent by hand" >&2
		exit 1
	fi
	missing="$missing $pick"
done
echo "deps: installing:$missing" >&2
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $missing >/dev/null
