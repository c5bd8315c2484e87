#!/bin/sh
# The whole test suite: dependencies, a -Werror build with ctest (the unit and
# fixture tests, the simulated kernel, the real-kernel VM tier), builds with clang
# and the other build types, static analysis,
# the fuzzers, valgrind, and an ASan+UBSan build with ctest again. The last line is
# ctest's summary for the sanitizer build.
set -eu
cd "$(dirname "$0")/.."
JOBS=$(nproc 2>/dev/null || echo 2)

scripts/deps.sh --test

cmake -S . -B build -DIOPASS_WERROR=ON -DIOPASS_TESTS=ON >/dev/null
cmake --build build -j"$JOBS"
ctest --test-dir build --output-on-failure -j"$JOBS"
# what the real-kernel tier ran, with its kernel and each scenario's time (ctest shows
# its output only when it fails)
vmres=build/tests/vm/results/results.txt
if [ -f "$vmres" ]; then
	grep -E '^(BOOT|END|SKIP|INFO 9 (libvirtd|virtqemud))' "$vmres" | sed 's/^/vm tier: /'
	echo "vm tier: $(grep -c '^PASS' "$vmres") checks passed, $(grep -c '^SKIP' "$vmres") skipped"
fi

# the other compiler and build types, warnings fatal (built, not run: the suites
# run above and in the sanitizer build below)
for cfg in gcc:Release gcc:RelWithDebInfo gcc:MinSizeRel clang:Debug clang:Release clang:RelWithDebInfo clang:MinSizeRel; do
	cc=${cfg%%:*} type=${cfg#*:}
	echo "test: build with $cc, $type"
	CC=$cc cmake -S . -B "build-$cc-$type" -DIOPASS_WERROR=ON -DIOPASS_TESTS=ON \
		-DIOPASS_VM_TESTS=OFF -DCMAKE_BUILD_TYPE="$type" >/dev/null
	cmake --build "build-$cc-$type" -j"$JOBS" >/dev/null
done

# static analysis, each fuzzer for a bounded time (FUZZ_SECONDS, default 20),
# and the cmocka suites under valgrind memcheck
scripts/lint.sh
scripts/fuzz.sh
scripts/valgrind.sh build

cmake -S . -B build-sanitize -DIOPASS_WERROR=ON -DIOPASS_TESTS=ON -DIOPASS_SANITIZE=ON -DIOPASS_VM_TESTS=OFF \
	-DCMAKE_BUILD_TYPE=Debug >/dev/null
cmake --build build-sanitize -j"$JOBS"
# (not the Ansible fleet: ansible-playbook's own time, and the iopass runs it makes are
# test-apply's, which this build runs)
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	ctest --test-dir build-sanitize --output-on-failure -j"$JOBS" -E '^ansible$'
