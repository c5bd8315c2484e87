#!/bin/sh
# Build the libFuzzer harnesses with clang and run each for a bounded time on
# its seed corpus (copied: the repository's corpus is never written).
#   scripts/fuzz.sh            20 s per harness (CI)
#   FUZZ_SECONDS=600 scripts/fuzz.sh   a longer local run
set -eu
cd "$(dirname "$0")/.."
SECONDS_EACH=${FUZZ_SECONDS:-20}
JOBS=$(nproc 2>/dev/null || echo 2)

CC=clang cmake -S . -B build-fuzz -DIOPASS_FUZZ=ON -DIOPASS_TESTS=OFF -DIOPASS_WERROR=ON \
	-DCMAKE_BUILD_TYPE=Debug >/dev/null
cmake --build build-fuzz -j"$JOBS" >/dev/null

for f in parse uevent state config desired; do
	work=build-fuzz/corpus-$f
	rm -rf "$work"
	mkdir -p "$work"
	cp tests/fuzz/corpus/$f/* "$work"/
	log=build-fuzz/fuzz-$f.log
	if ! build-fuzz/tests/fuzz/fuzz-$f -max_total_time="$SECONDS_EACH" -max_len=4096 \
		-print_final_stats=1 "$work" >"$log" 2>&1; then
		echo "fuzz-$f: FAILED"
		tail -40 "$log"
		exit 1
	fi
	runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
	cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1)
	echo "fuzz-$f: ok, $runs executions in ${SECONDS_EACH}s, $cov, corpus $(ls "$work" | wc -l) inputs"
done
