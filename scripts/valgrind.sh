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
	if IOPASS_TEST_QUICK=1 valgrind -q --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite,indirect \
		--trace-children=yes --trace-children-skip='/bin/*,/usr/*,/sbin/*' "$t" >"$log" 2>&1; then
		echo "valgrind: $(basename "$t"): clean ($(grep -c '^\[       OK \]' "$log") tests)"
	else
		echo "valgrind: $(basename "$t"): FAILED, see $log"
		grep -E '==[0-9]+==' "$log" | head -30
		status=1
	fi
done
exit $status
