#!/bin/bash
# tests/dumps/capture-debian.sh SUITE NAME
#
# capture.sh in a fresh root of another Debian release (scripts/test-debian.sh),
# so that the guest boots that release's kernel: e.g. trixie debian13-6.12.
# The dumps and the expected outputs land in tests/dumps here.
set -euo pipefail
[ $# -eq 2 ] || { echo "usage: $0 SUITE NAME (e.g. trixie debian13-6.12)" >&2; exit 2; }
here=$(cd "$(dirname "$0")" && pwd)
case "$2" in *[!a-z0-9.-]*|'') echo "$0: NAME: letters, digits, '.' and '-' only" >&2; exit 2 ;; esac
out=$(mktemp -d /var/tmp/iopass-dumps.XXXXXX)
trap 'rm -rf "$out"' EXIT
IOPASS_DEBIAN_OUT=$out IOPASS_DEBIAN_RUN="scripts/deps.sh --test && tests/dumps/capture.sh build $2 && cp tests/dumps/$2-* /out/" \
	"$here/../../scripts/test-debian.sh" "$1"
cp "$out/$2"-* "$here/"
ls -l "$here/$2"-*
