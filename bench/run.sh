#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# Build iopass and the benchmark, then run it and print the table.
#
#   bench/run.sh [-B BUILDDIR] [iopass-bench options]    e.g. bench/run.sh --quick
#
# BUILDDIR is the configured build of iopass (default: build/ next to this
# directory). When that build has the bench targets (the top-level
# CMakeLists.txt has add_subdirectory(bench)) they are built there; otherwise
# the benchmark is configured on its own in BUILDDIR/bench-standalone.
# Run it as root, or driverctl, dpdk-devbind.py and the shell loop are skipped.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/.." && pwd)
build=$repo/build
if [[ ${1:-} == -B ]]; then
	build=$(cd "$2" && pwd)
	shift 2
fi
[[ -f $build/CMakeCache.txt ]] || {
	echo "run.sh: $build is not a configured build; run: cmake -S $repo -B $build" >&2
	exit 1
}

jobs=$(nproc 2>/dev/null || echo 2)
cmake --build "$build" --target iopass -j"$jobs" >/dev/null
if cmake --build "$build" --target help 2>/dev/null | grep -q 'iopass-bench-gen'; then
	cmake --build "$build" --target iopass-bench iopass-bench-gen iopass-bench-floor -j"$jobs" >/dev/null
	runner=$build/bench/iopass-bench
else
	sb=$build/bench-standalone
	cmake -S "$here" -B "$sb" -DIOPASS_BIN="$build/iopass" >/dev/null
	cmake --build "$sb" -j"$jobs" >/dev/null
	runner=$sb/iopass-bench
fi

rev=$(git -C "$repo" describe --always --dirty 2>/dev/null || echo unknown)
echo "revision $rev, $(uname -sr), $(date -u +%Y-%m-%dT%H:%MZ)"
exec "$runner" "$@"
