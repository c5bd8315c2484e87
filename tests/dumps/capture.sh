#!/bin/bash
# tests/dumps/capture.sh BUILD_DIR NAME
#
# Boots the real-kernel tier (tests/vm) with scenario 12 only: in the guest,
# iopass's read-only commands run under strace and tests/dump.c keeps what they
# read, in two states (as booted; one NIC on vfio-pci). The dumps become
# tests/dumps/NAME-STATE.dump, and every dump's NAME.expected is written anew
# from the replay: review the diff before committing it.
set -euo pipefail
[ $# -eq 2 ] || { echo "usage: $0 BUILD_DIR NAME (e.g. debian12-6.1)" >&2; exit 2; }
build=$(realpath "$1")
name=$2
here=$(cd "$(dirname "$0")" && pwd)
case "$name" in *[!a-z0-9.-]*|'') echo "$0: NAME: letters, digits, '.' and '-' only" >&2; exit 2 ;; esac
# the dumper and the replay test are test targets: configure again (cmocka may be new)
cmake -S "$here/../.." -B "$build" >/dev/null
cmake --build "$build" -j"$(nproc)" --target iopass iopass-sysfs-dump test-dumps >/dev/null
IOPASS_VM_SCENARIOS=12 "$here/../vm/run.sh" "$build"
n=0
for f in "$build"/tests/vm/results/dump-*.dump; do
	[ -e "$f" ] || continue
	cp "$f" "$here/$name-${f##*/dump-}"
	n=$((n + 1))
done
[ "$n" -gt 0 ] || { echo "$0: the guest wrote no dump" >&2; exit 1; }
IOPASS_DUMPS_WRITE=1 "$build/tests/test-dumps"
! command -v git >/dev/null || git -C "$here" status --short .
