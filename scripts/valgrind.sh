#!/bin/sh
# The cmocka suites under valgrind memcheck, children included (every iopass the
# tests run): no errors, no definite or indirect leaks. Uses the plain build.
# IOPASS_TEST_QUICK skips the long loops (fault matrix, storm, malformed
# arguments) and the unprivileged run, which the ASan build covers.
set -eu
cd "$(dirname "$0")/.."
BUILD=${1:-build}
status=0
for t in "$BUILD"/tests/test-*; do
	[ -x "$t" ] || continue
	log="$BUILD/valgrind-$(basename "$t").log"
	vg="$BUILD/valgrind-$(basename "$t").vg"
	rm -f "$vg".*
	# valgrind's own lines go to files of their own (one per process): the tests compare
	# what iopass writes to stderr, and valgrind warns there about syscalls it does not
	# know (openat2)
	if IOPASS_TEST_QUICK=1 valgrind -q --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite,indirect \
		--log-file="$vg.%p" --trace-children=yes --trace-children-skip='/bin/*,/usr/*,/sbin/*' "$t" >"$log" 2>&1; then
		echo "valgrind: $(basename "$t"): clean ($(grep -c '^\[       OK \]' "$log") tests)"
	else
		echo "valgrind: $(basename "$t"): FAILED, see $log and $vg.*"
		grep -E 'FAILED|ERROR' "$log" | head -10
		cat "$vg".* 2>/dev/null | grep -E '==[0-9]+==' | head -30
		status=1
	fi
done
exit $status
