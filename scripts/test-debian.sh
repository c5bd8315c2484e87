#!/bin/bash
# The whole test suite in a fresh Debian root of another release, as a new user would
# run it there: debootstrap --variant=minbase SUITE, this tree copied in, then the
# README's two commands (scripts/deps.sh, scripts/test.sh) inside it as root, with
# /proc, /sys and /dev bound in a private mount namespace. The real-kernel tier there
# boots that release's kernel and runs that release's QEMU and libvirt.
#
#   scripts/test-debian.sh SUITE      e.g. trixie
#
# The root is new on every run and removed afterwards; what is kept between runs, in
# $IOPASS_DEBIAN_CACHE (default /var/cache/iopass-ci), is only the downloaded .deb
# files, so a second run downloads nothing that did not change. Exit status: that of
# scripts/test.sh in the root (1 when the root could not be made).
#
# IOPASS_DEBIAN_RUN="COMMAND" runs COMMAND (in /src, after the build) instead of
# scripts/test.sh, and IOPASS_DEBIAN_OUT=DIR is that root's /out, to keep what it
# makes (tests/dumps/capture-debian.sh uses both).
set -euo pipefail
cd "$(dirname "$0")/.."

[ $# -eq 1 ] || { echo "usage: $0 SUITE (e.g. trixie)" >&2; exit 2; }
suite=$1
case "$suite" in
*[!a-z]* | "") echo "$0: SUITE must be a Debian code name such as trixie, not '$suite'" >&2; exit 2 ;;
esac
[ "$(id -u)" -eq 0 ] || { echo "$0: run as root (debootstrap and chroot)" >&2; exit 1; }
command -v debootstrap >/dev/null || {
	echo "test-debian: installing debootstrap" >&2
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends debootstrap >/dev/null ||
		{ apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends debootstrap >/dev/null; }
}

cache=${IOPASS_DEBIAN_CACHE:-/var/cache/iopass-ci}
base_debs=$cache/$suite/debootstrap
apt_debs=$cache/$suite/apt
mkdir -p "$base_debs" "$apt_debs/partial"
root=$(mktemp -d /var/tmp/iopass-$suite.XXXXXX)
cleanup() {
	# the mounts live only in the namespace below: this namespace sees none of them
	rm -rf --one-file-system "$root"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

t0=$(date +%s)
echo "test-debian: debootstrap --variant=minbase $suite $root"
if ! debootstrap --variant=minbase --cache-dir="$base_debs" "$suite" "$root" >"$root.log" 2>&1; then
	tail -n 20 "$root.log" >&2
	rm -f "$root.log"
	exit 1
fi
rm -f "$root.log"
t1=$(date +%s)

# the root as a fresh install has it, plus: no service started by a package's
# scripts (there is no init in a chroot), the host's resolver, the tree under /src
printf '#!/bin/sh\nexit 101\n' >"$root/usr/sbin/policy-rc.d"
chmod 0755 "$root/usr/sbin/policy-rc.d"
cp /etc/resolv.conf "$root/etc/resolv.conf"
# the cache of .deb files is the host's directory, which apt's sandbox user cannot own
echo 'APT::Sandbox::User "root";' >"$root/etc/apt/apt.conf.d/99iopass-ci"
mkdir -p "$root/src"
git ls-files -z --cached --others --exclude-standard |
	tar --null -T - -cf - | tar -xf - -C "$root/src"

# shellcheck disable=SC2016 # expanded in the namespace, not here
unshare --mount --propagation private /bin/bash -euc '
	root=$1 apt_debs=$2
	mount --rbind /proc "$root/proc"
	mount --rbind /sys "$root/sys"
	mount --rbind /dev "$root/dev"
	mount --bind "$apt_debs" "$root/var/cache/apt/archives"
	if [ -n "$3" ]; then mkdir -p "$root/out" && mount --bind "$3" "$root/out"; fi
	exec chroot "$root" /usr/bin/env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
		HOME=/root LANG=C.UTF-8 CI="${CI:-}" FUZZ_SECONDS="${FUZZ_SECONDS:-}" \
		/bin/sh -c "cd /src && . /etc/os-release && echo \"test-debian: in \$PRETTY_NAME\" &&
			scripts/deps.sh && cmake -S . -B build >/dev/null && cmake --build build -j\"\$(nproc)\" >/dev/null &&
			./build/iopass list >/dev/null && echo \"test-debian: command 1 passed\" && $4"
' test-debian "$root" "$apt_debs" "${IOPASS_DEBIAN_OUT:-}" "${IOPASS_DEBIAN_RUN:-scripts/test.sh}" && status=0 || status=$?
t2=$(date +%s)
echo "test-debian: $suite: root made in $((t1 - t0)) s, README's commands ran $((t2 - t1)) s, exit status $status"
exit $status
